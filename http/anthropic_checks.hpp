#pragma once
// Internal to http/anthropic_request.cpp: the checks vLLM's pydantic models make of a POST
// /v1/messages (or /v1/messages/count_tokens) body before anything else reads it: required and
// typed fields, max_tokens > 0, known roles and content block types, tool_addition and
// tool_removal blocks only in system messages, thinking.budget_tokens in [1024, max_tokens),
// cache_salt not empty. Internal to http/: it exposes rapidjson.
#include <array>
#include <string_view>

#include "http/anthropic_request.hpp"
#include "http/request_fields.hpp"

namespace troupe::http {

// output_config.effort's values (thinking "disabled" may also give "none").
inline constexpr std::array<std::string_view, 5> anthropic_efforts = {"low", "medium", "high",
                                                                      "xhigh", "max"};

// The first fault of `body` (a JSON object), as a 400 whose param is pydantic's location of it
// below the body ("messages.0.role"; "" for the body itself) and whose message is pydantic's.
parse_error check_anthropic_body(const Value& body, anthropic_endpoint endpoint);

}  // namespace troupe::http
