#pragma once
// An error as the OpenAI API reports it: an HTTP status plus a message, rendered by error_json()
// as {"error": {"message", "type", "param", "code"}}.
#include <string>

namespace troupe::http {

struct api_error {
  int status = 400;
  std::string message;
  std::string param;  // the request field at fault; empty renders as null
};

inline api_error bad_request(std::string message, std::string param = {}) {
  return api_error{400, std::move(message), std::move(param)};
}

// vLLM's VLLMValidationError as its str() writes it: `message`, then " (parameter=P, value=V)"
// with what is given (`value` already written as Python writes it); `param` is the error's param.
api_error validation_error(std::string message, std::string param, std::string value = {});

// The OpenAI/vLLM error type name for a status: 400 "BadRequestError", 404 "NotFoundError",
// 500 "InternalServerError", ...
std::string error_type(int status);

// The reason phrase of an HTTP status line ("OK", "Bad Request", ...).
std::string status_reason(int status);

}  // namespace troupe::http
