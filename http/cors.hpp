#pragma once
// Cross-origin requests from browsers, as vLLM's server answers them: its CORS middleware
// (Starlette's, as vLLM 0.32 ships it) configured by --allowed-origins, --allowed-methods,
// --allowed-headers and --allow-credentials. Plain functions of the request's headers, so the
// policy is unit-tested without sockets; http/session_requests.cpp applies them.
//
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here, 200
//     "OK" or 400 "Disallowed CORS origin, method, ..." (text/plain), with the policy's
//     Access-Control-* headers either way.
//   - Every other response gains `Vary: Origin`; one to a request whose Origin is allowed also
//     names it (or "*") in Access-Control-Allow-Origin, and, with credentials allowed,
//     Access-Control-Allow-Credentials: true.
// vLLM's default allows no origin: a browser on another origin cannot read any answer.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::http {

struct cors_policy {
  std::vector<std::string> allowed_origins;          // exact origins, or "*" for any
  std::vector<std::string> allowed_methods = {"*"};  // "*": every method
  std::vector<std::string> allowed_headers = {"*"};  // "*": whatever a preflight asks for
  bool allow_credentials = false;
};

// The request headers a CORS answer depends on; absent ones are nullopt.
struct cors_request {
  std::string_view method;
  std::optional<std::string_view> origin;
  std::optional<std::string_view> request_method;   // Access-Control-Request-Method
  std::optional<std::string_view> request_headers;  // Access-Control-Request-Headers
  std::optional<std::string_view> request_private_network;
};

struct cors_preflight {
  int status = 200;     // 200 or 400
  std::string body;     // "OK" or "Disallowed CORS ..."
  std::string headers;  // header lines, each ending in "\r\n"
};

// Whether `request` is a preflight, and then its whole answer.
std::optional<cors_preflight> cors_preflight_answer(const cors_policy& policy,
                                                    const cors_request& request);

// The header lines ("Name: value\r\n" each) any other answer to `request` gains.
std::string cors_response_headers(const cors_policy& policy, const cors_request& request);

// A JSON list of strings, as vLLM reads --allowed-origins and its siblings ('["*"]').
result<std::vector<std::string>> parse_json_string_list(std::string_view text);

}  // namespace troupe::http
