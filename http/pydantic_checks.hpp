#pragma once
// What vLLM's pydantic request models check before a handler runs, for the endpoints whose
// bodies troupe checks field by field as those models do (/v1/messages, /v1/responses), and the
// 400 vLLM's validation handler answers with: {"error": {"message": "1 validation error:\n
// <location>: <message>", "type": "Bad Request", "param": "<location>", "code": 400}}, the
// location pydantic's ("body.messages.0.role"). The wording of the message is pydantic's where it
// is short ("Field required", "Input should be a valid string"); pydantic's full error dict is not
// reproduced. Internal to http/: it exposes rapidjson.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "http/request_fields.hpp"

namespace troupe::http {

// A refusal of the body itself.
struct pydantic_error {
  std::string message;               // "1 validation error:\n  body.max_tokens: Field required"
  std::optional<std::string> param;  // pydantic's location ("body.max_tokens"); none: null
};

std::string pydantic_error_json(const pydantic_error& error);

// The refusal of a check below: `located`'s param is the location below the body
// ("messages.0.role"; "" for the body itself), its message pydantic's.
pydantic_error pydantic_refusal(const api_error& located);

// Reads a body as vLLM's FastAPI route does: the Content-Type's media type (case aside) must be
// application/json ("" when the header is absent), the body valid JSON (the error names the
// offset where it breaks, "body.28") that nests at most max_json_depth deep, and an object.
std::optional<pydantic_error> read_pydantic_body(std::string_view body,
                                                 std::string_view content_type,
                                                 rapidjson::Document& doc);

// -- checks, each a 400 whose param is the location below the body --------------------------

api_error invalid(std::string loc, std::string message);
// `loc` + "." + key ("" + key = key), `loc` + "." + index.
std::string at(std::string_view loc, std::string_view key);
std::string at(std::string_view loc, size_t index);
bool is_one_of(const Value* v, std::span<const std::string_view> allowed);

// object[key] absent, null, or a string (`required`: present).
parse_error check_string(const Value& object, const char* key, std::string_view loc,
                         bool required = false);
// object[key] absent, null, or (v.*is)() ("Input should be a valid <what>").
parse_error check_kind(const Value& object, const char* key, std::string_view loc,
                       bool (Value::*is)() const, const char* what);
// `v` one of `allowed` ("Input should be 'a', 'b' or 'c'").
parse_error check_literal(const Value* v, std::span<const std::string_view> allowed,
                          std::string loc);

}  // namespace troupe::http
