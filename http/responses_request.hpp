#pragma once
// vLLM's OpenAI Responses API in front of chat completions, request side: a POST /v1/responses
// body becomes the chat completion request that renders the same prompt and samples the same
// way, which the chat path then serves (http/chat_request.hpp); http/responses_responder.hpp
// turns the chat answer into a response object or the Responses event stream.
//
// The conversation, as vLLM 0.32's construct_input_messages builds it: `instructions` as a system
// message; then, after a `previous_response_id`, the stored response's input messages (their
// system messages left out) and its output messages' texts as assistant turns; then `input` (a
// string is one user message). Input items: messages of any role (content a string or
// input_text / output_text parts) as they are; an assistant `message` item (output_text parts)
// as its first part's text; `reasoning` items as the assistant's reasoning (encrypted content
// refused); `function_call` items as the assistant's tool calls; `function_call_output` items as
// "tool" messages. Consecutive assistant items merge into one assistant message where the slot
// is free. A last assistant message or reasoning item whose status is "in_progress" or
// "incomplete" is continued (continue_final_message) instead of answered.
//
// Sampling as vLLM's ResponsesRequest.to_sampling_params: max_output_tokens -> max_tokens,
// temperature, top_p, top_k, min_p, the penalties, seed, stop, stop_token_ids, ignore_eos,
// logit_bias; include ["message.output_text.logprobs"] asks for logprobs with top_logprobs;
// text.format json_schema / json_object -> response_format; reasoning.effort ->
// reasoning_effort; function tools -> chat tools; tool_choice auto / none / required / a named
// function. Tools the Responses API has beyond functions (web search, file search, MCP, ...) are
// refused: troupe runs no built-in tools.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "http/api_error.hpp"
#include "http/pydantic_checks.hpp"
#include "runtime/sampling_defaults.hpp"

namespace troupe::http {

// What the response object repeats of its request, resolved as vLLM resolves it (JSON text where
// the field is an object).
struct responses_echo {
  std::string id;  // the request's request_id, else "resp_" + 16 hex digits
  std::optional<std::string> instructions;
  std::string metadata = "null";
  bool parallel_tool_calls = true;
  double temperature = 1.0;  // the sampling's: a greedy request's top_p is 1.0
  double top_p = 1.0;
  std::string tool_choice = "\"none\"";  // "none" without tools, as vLLM echoes it
  std::string tools = "[]";              // OpenAI's FunctionTool objects
  bool background = false;
  std::optional<int64_t> max_output_tokens;  // the request's; the response's is resolved
  std::string max_tool_calls = "null";
  std::optional<std::string> previous_response_id;
  std::string reasoning = "null";
  std::string service_tier = "auto";
  std::string text = "null";
  std::optional<int64_t> top_logprobs;  // set when the request includes output logprobs
  std::string truncation = "disabled";
  std::string user = "null";
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  bool include_reasoning = true;
};

struct responses_request {
  std::string chat_body;  // the /v1/chat/completions JSON body
  responses_echo echo;
  bool stream = false;
  bool store = true;
  // The conversation's messages as chat messages (JSON array), kept with a stored response for a
  // later previous_response_id.
  std::string messages_json;
};

// What the translation needs of the server and of an earlier response.
struct responses_context {
  int32_t max_model_len = 0;  // 0: unchecked
  int32_t max_logprobs = 20;
  runtime::sampling_defaults defaults;
  // --enable-auto-tool-choice: "auto" tool choices are parsed for calls (else answered as text).
  bool auto_tools = false;
  // previous_response_id's stored input messages and output items (JSON arrays), when found.
  const std::string* previous_messages = nullptr;
  const std::string* previous_output = nullptr;
};

// The fields a request's refusal depends on before the store is consulted: its
// previous_response_id, background and store flags (read from a body that passed the checks).
struct responses_lookup {
  std::optional<std::string> previous_response_id;
  bool background = false;
  bool store = true;
};

// Checks the body as vLLM's pydantic model does (a pydantic_error) and its before-validators
// (prompt templates, background without store, an empty cache_salt: api_errors), and reads what
// the store must answer for.
std::variant<responses_lookup, pydantic_error, api_error> check_responses_request(
    std::string_view body, std::string_view content_type);

// The chat request of a body check_responses_request accepted. Errors (400s in the OpenAI shape,
// as vLLM's serving layer words them): max_output_tokens above max_model_len, top_logprobs
// above max_logprobs, tool choices the tools cannot meet, a tool type troupe does not run,
// encrypted reasoning, text.format together with structured_outputs.
std::variant<responses_request, api_error> translate_responses_request(
    std::string_view body, const responses_context& context);

}  // namespace troupe::http
