#pragma once
// JSON bodies of the chat completions API in vLLM's shape and field order: the
// "chat.completion" response and the "chat.completion.chunk" stream chunks (written as vLLM's
// model_dump_json(exclude_unset=True) writes them: a chunk has no "usage" key, the first chunk of
// a choice carries the role, the one with the finish reason also "stop_reason").
//
// Logprobs are vLLM's chat format: {"content": [{"token", "logprob", "bytes", "top_logprobs":
// [{"token", "logprob", "bytes"}]}]}, where "token" is the token decoded alone (special tokens
// kept, an incomplete UTF-8 sequence as U+FFFD), "bytes" its UTF-8 bytes, logprobs clamped at
// -9999.0, and top_logprobs the first `top_logprobs` of (the sampled token, then the most likely
// tokens other than it) — the order of vLLM's logprob dictionary.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/engine.hpp"
#include "http/openai_json.hpp"
#include "http/reasoning_parsers.hpp"
#include "http/tool_calls.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::http {

// A stream delta's keys as a reasoning parser or an "auto" tool parser sets them (vLLM's
// DeltaMessage dumped with exclude_unset): a key is written when set, as null or as its text.
struct parsed_delta {
  delta_text_field content;
  delta_text_field reasoning;
  std::vector<tool_call_delta> tool_calls;  // written when not empty
};

// One choice of a response, or one choice's delta in a chunk.
struct chat_choice {
  int32_t index = 0;
  std::string content;        // the whole message, or a chunk's delta
  std::string finish_reason;  // empty: not finished (null)
  std::optional<std::string> stop_string;
  std::optional<int32_t> stop_token_id;
  std::vector<actors::token_logprob> logprobs;  // of the tokens of `content`
  // A forced tool call's answer (http/tool_calls.hpp). A response: the message's tool_calls. A
  // chunk: when set, the delta is {"tool_calls": [...]} ({} when empty) instead of content.
  std::vector<tool_call> tool_calls;
  std::optional<std::vector<tool_call_delta>> tool_deltas;
  // A chunk under an output parser (http/chat_output_parser.hpp): the delta's keys, instead of
  // content or tool_deltas.
  std::optional<parsed_delta> parsed;
  bool content_null = false;  // a response's message: "content": null (a parser found none)
  std::optional<std::string> reasoning;  // a response's message.reasoning (a reasoning parser)
  // vLLM's return_token_ids, else null: the choice's generated ids (a chunk's: its own).
  std::optional<std::vector<int32_t>> token_ids;
};

// What a chat response says of its prompt besides the choices, each null unless asked for:
// prompt_logprobs, return_token_ids' prompt_token_ids and return_prompt_text's rendered prompt.
struct chat_prompt_fields {
  // The message's role (vLLM's get_chat_request_role): --response-role's ("assistant" by
  // default) after a generation prompt, else the role of the request's last message.
  std::string role = "assistant";
  std::optional<prompt_logprobs_list> prompt_logprobs;  // the response's only
  std::optional<std::vector<int32_t>> prompt_token_ids;
  std::optional<std::string> prompt_text;
};

// How logprobs are rendered: `top_logprobs` < 0 renders "logprobs": null.
struct chat_logprobs_format {
  const runtime::tokenizer* tokenizer = nullptr;  // required when top_logprobs >= 0
  int32_t top_logprobs = -1;
  // vLLM's return_tokens_as_token_ids: "token" is "token_id:<id>"; "bytes" stay the sampled
  // token's text's, and are the name's for the top entries (as vLLM writes them).
  bool tokens_as_ids = false;
};

// The non-streaming response with every choice, the usage and the prompt's fields; vLLM 0.32's
// members, those troupe has no value for null ("metrics" is left to with_body_metrics).
std::string chat_completion_json(const completion_meta& meta,
                                 const std::vector<chat_choice>& choices,
                                 const completion_usage& usage, const chat_logprobs_format& format,
                                 const chat_prompt_fields& prompt = {});

// A choice's first chunk: delta {"role": <prompt.role>, "content": ""}, then the prompt's
// "prompt_token_ids" and "prompt_text" (null unless asked for; no prompt_logprobs in a stream).
// `usage` (stream_options.continuous_usage_stats): the chunk's "usage" (no completion tokens yet).
std::string chat_role_chunk_json(const completion_meta& meta, int32_t index,
                                 const chat_prompt_fields& prompt = {},
                                 const completion_usage* usage = nullptr);

// A content chunk: delta {"content"} (or {"tool_calls"}), logprobs, finish_reason (and
// stop_reason once finished), and with `with_token_ids` "token_ids" (vLLM sets it on every chunk
// but the echo's). `with_fingerprint` adds the system fingerprint (a stream's last chunk when no
// usage chunk follows).
// `usage` (stream_options.continuous_usage_stats): the chunk's "usage", the choice's counts so far.
std::string chat_delta_chunk_json(const completion_meta& meta, const chat_choice& delta,
                                  const chat_logprobs_format& format, bool with_token_ids = true,
                                  bool with_fingerprint = false,
                                  const completion_usage* usage = nullptr);

// The final usage chunk: "choices": [], the usage and the system fingerprint (when there is one).
std::string chat_usage_chunk_json(const completion_meta& meta, const completion_usage& usage);

}  // namespace troupe::http
