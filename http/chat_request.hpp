#pragma once
// Parsing and validation of a POST /v1/chat/completions body (vLLM's ChatCompletionRequest).
//
// The template inputs (messages, add_generation_prompt, continue_final_message, tools,
// documents, chat_template_kwargs) are read by http/chat_messages, tool_choice and
// parallel_tool_calls by http/tool_choice (a forced call sets the grammar); the fields chat
// shares with /v1/completions (model, sampling, stream, stream_options, n, stop, cache_salt, ...)
// by http/request_fields' read_generation_fields. Chat's own: max_completion_tokens (wins over the
// deprecated max_tokens; neither = up to the model's length), logprobs (a boolean) with
// top_logprobs (0..completion_limits::max_logprobs), echo (vLLM's: the last message's content
// starts each choice's when it has the response's role), and add_special_tokens defaulting to
// false (the chat template already wrote the special tokens).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "http/api_error.hpp"
#include "http/completion_request.hpp"
#include "http/tool_calls.hpp"
#include "runtime/chat_template/chat_template.hpp"

namespace troupe::http {

struct chat_completion_request {
  // generation: everything but the prompt, which the server renders from `chat`.
  completion_request completion;
  runtime::chat_request chat;  // special_tokens left to the server's template
  bool continue_final_message = false;
  std::optional<std::string> chat_template;  // the request's own template (http/chat_prompt.hpp)
  // The answer's role (vLLM's get_chat_request_role): --response-role's with
  // add_generation_prompt, else the last message's.
  std::string role;
  // With "echo": the last message's content when it has the answer's role (always, without
  // add_generation_prompt); each choice's content starts with it.
  std::string echo_text;
  // tool_choice "required" or named: the answer becomes message.tool_calls.
  tool_choice_mode tool_choice;
  // vLLM's include_reasoning: false leaves message.reasoning out (null) under a reasoning parser,
  // and with it the logprobs.
  bool include_reasoning = true;
  // chat_template_kwargs.enable_thinking as Python reads it (absent: reasoning_effort other than
  // "none", without one true); a qwen3 reasoning
  // parser starts outside the reasoning when false.
  bool enable_thinking = true;
  // vLLM's return_prompt_text: the response (a stream's first chunk) carries the rendered prompt.
  bool return_prompt_text = false;
};

// Errors: 400 for malformed JSON, wrong types, out-of-range or unsupported values; 404 when
// "model" names another model than the served one.
std::variant<chat_completion_request, api_error> parse_chat_completion_request(
    std::string_view body, const completion_limits& limits, uint64_t default_seed);

}  // namespace troupe::http
