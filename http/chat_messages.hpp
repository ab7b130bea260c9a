#pragma once
// The chat-template inputs of a request body, read as vLLM reads them for /v1/chat/completions
// and /tokenize: messages, add_generation_prompt, continue_final_message, tools, documents,
// chat_template_kwargs, and a request's own chat_template (http/chat_prompt.hpp renders with it
// under --trust-request-chat-template and refuses it otherwise, as vLLM). Internal to http/: it
// exposes rapidjson. Chat's tool_choice is read by http/tool_choice (/tokenize has none, as in
// vLLM).
//
// Messages become the objects the template sees: {"role", "content", then "tool_calls" for an
// assistant (with each function's JSON-string "arguments" parsed into an object, as vLLM does),
// "tool_call_id" for a tool message, "name" when given}. Content is a string, or a list of
// {"type": "text", "text"} parts (also "input_text", "output_text" and "refusal" parts), joined
// with "\n" as vLLM's "string"
// content format does; null content is "". Any other part type is a 400: troupe serves text
// models only.
#include <optional>
#include <string>
#include <string_view>

#include "http/request_fields.hpp"
#include "runtime/chat_template/chat_template.hpp"

namespace troupe::http {

struct chat_inputs {
  runtime::chat_request chat;  // special_tokens are left to the server's template setup
  bool continue_final_message = false;
  std::optional<std::string> chat_template;  // the request's own (null or absent: none)
};

// Reads the template inputs of `body` (a JSON object). add_generation_prompt defaults to true.
// chat_template_kwargs members become template variables (add_generation_prompt and
// continue_final_message given there override the request fields, as vLLM merges them).
// Errors: 400 naming the field.
parse_error read_chat_inputs(const Value& body, chat_inputs& out);

}  // namespace troupe::http
