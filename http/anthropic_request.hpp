#pragma once
// vLLM's Anthropic Messages API in front of chat completions, request side: a POST /v1/messages
// (or /v1/messages/count_tokens) body becomes the /v1/chat/completions body vLLM's
// AnthropicServingMessages builds from it, which the chat path then serves as any other
// (http/chat_request.hpp); http/anthropic_responder.hpp turns the chat answer back.
//
// The translation, as vLLM 0.32 makes it:
//   - `system` (a string, or text blocks) leads as one system message; text blocks starting
//     with "x-anthropic-billing-header" (Claude Code's per-request hash) are dropped. System
//     messages inside `messages` stay where they are, unless the chat template refuses a system
//     message after the first (anthropic_template_traits::merge_inline_system): then their text
//     joins the leading one.
//   - Content blocks: text -> text parts (one alone -> a string), image -> an image_url part,
//     thinking -> the assistant's "reasoning", redacted_thinking and tool_reference -> nothing,
//     tool_use -> a tool call (its input as the JSON arguments), tool_result in a user turn -> a
//     "tool" message before the turn (its text blocks joined with "\n"), in an assistant turn ->
//     a text part "Tool result: ...". A user turn left without content is dropped.
//   - max_tokens -> max_tokens and max_completion_tokens; stop_sequences -> stop; temperature,
//     top_p, top_k, cache_salt, vllm_xargs, chat_template_kwargs as they are; stream -> a stream
//     with include_usage and continuous_usage_stats.
//   - output_config.format's schema -> a json_schema response_format; output_config.effort ->
//     reasoning_effort; thinking "disabled" -> reasoning_effort
//     anthropic_template_traits::disabled_thinking_effort; thinking "enabled" -> vLLM's
//     thinking_token_budget, which troupe refuses (400).
//   - tool_choice auto/any/none/tool -> "auto"/"required"/"none"/named, disable_parallel_tool_use
//     -> parallel_tool_calls false; tools -> functions (input_schema as parameters, "type":
//     "object" added when missing), after the tool_addition / tool_removal blocks of system
//     messages; tools without a tool_choice -> "auto".
//
// The Anthropic body is checked first (vLLM's pydantic models): required and typed fields,
// max_tokens > 0, known roles and block types, thinking.budget_tokens in [1024, max_tokens).
// Those errors are 400s in the OpenAI shape, each naming pydantic's location of the fault (vLLM's
// validation handler answers them so); what the chat path refuses later is answered in
// Anthropic's shape (anthropic_error_json).
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "http/api_error.hpp"
#include "http/chat_prompt.hpp"
#include "http/pydantic_checks.hpp"

namespace troupe::http {

// What the server's chat template makes of two of the translation's choices, probed once when
// the server starts (probe_anthropic_traits).
struct anthropic_template_traits {
  // The template refuses a system message after the first message (vLLM renders [system, user,
  // system, user] to find out): inline system messages join the leading system prompt.
  bool merge_inline_system = false;
  // The reasoning_effort of thinking {"type": "disabled"}: vLLM's
  // --anthropic-disabled-thinking-effort, whose "auto" is "low" when the template refuses
  // "none" or renders it as it renders some thinking effort, else "none".
  std::string disabled_thinking_effort = "none";
};

// The traits of `setup`'s template (none: vLLM merges, and effort "low" as a render fails);
// `disabled_effort_flag` is the flag's value ("auto" probes).
anthropic_template_traits probe_anthropic_traits(const chat_template_setup* setup,
                                                 std::string_view disabled_effort_flag);

enum class anthropic_endpoint { messages, count_tokens };

struct anthropic_chat_request {
  std::string chat_body;  // the /v1/chat/completions JSON body
  // Refused while translating (a tool change naming an undeclared tool): vLLM answers it in
  // Anthropic's shape, as the chat path's refusals.
  std::optional<api_error> refusal;
};

// The request as chat completions takes it, or the refusal of the body itself (media type, JSON,
// the checks above: http/pydantic_checks.hpp). `content_type`: the request's Content-Type header
// ("" when absent).
std::variant<anthropic_chat_request, pydantic_error> translate_anthropic_request(
    std::string_view body, std::string_view content_type, anthropic_endpoint endpoint,
    const anthropic_template_traits& traits);

// An error in Anthropic's shape, as vLLM translates its chat errors:
// {"type": "error", "error": {"type": "<error_type(status)>", "message": "..."}}.
std::string anthropic_error_json(const api_error& error);

}  // namespace troupe::http
