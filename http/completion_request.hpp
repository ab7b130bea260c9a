#pragma once
// Parsing and validation of a POST /v1/completions body (OpenAI/vLLM names and defaults).
//
// Supported: model, prompt (a string, a list of token ids, or vLLM's batch: a list of strings or
// of token-id lists), max_tokens, temperature, top_p, top_k, min_p, seed, n (= 1), stream,
// stream_options.include_usage, ignore_eos, add_special_tokens, stop (a string or a list),
// stop_token_ids, include_stop_str_in_output, skip_special_tokens, presence_penalty,
// frequency_penalty, repetition_penalty, logit_bias (token-id strings -> bias, clamped to
// [-100, 100]), min_tokens, logprobs (0..max_logprobs), prompt_logprobs (0..max_logprobs; not
// with a stream), echo, cache_salt (a non-empty string: only requests with the same salt share
// prefix-cache blocks), return_token_ids, return_tokens_as_token_ids. Unset fields take the
// server-wide defaults of completion_limits::defaults (generation_config.json). Parameters troupe
// does not implement yet (best_of > 1, suffix, guided decoding, ...) are rejected with a 400 when
// set to anything but their neutral value, never silently ignored. Unknown keys are ignored, as
// vLLM does.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actors/beam_search.hpp"
#include "actors/engine.hpp"
#include "http/api_error.hpp"
#include "http/structured_outputs_config.hpp"
#include "http/tool_parsers.hpp"
#include "runtime/sampling_defaults.hpp"

namespace troupe::http {

// One prompt of a batched request: its text, or its token ids when not empty.
struct batch_prompt {
  std::string text;
  std::vector<int32_t> token_ids;
};

// A batched request's choices (prompts times n) at most: each is a request in the engine's
// waiting queue.
inline constexpr int64_t max_batch_choices = 1024;

struct completion_request {
  // prompt or prompt_token_ids, max_tokens (0 = up to the model's length, from "max_tokens":
  // null), ignore_eos, add_special_tokens and sampling. request_id is left to the caller.
  actors::generation_request generation;
  // vLLM's batched `prompt` (a list of strings or of token-id lists): the prompts after the
  // first, whose is in `generation`. Each is generated as `generation` with its own prompt, and
  // its choices are numbered after the previous prompts' (prompt p's choice i is p * n + i).
  std::vector<batch_prompt> more_prompts;
  // "max_tokens": 0 was asked for: only an echo may (echo_only); otherwise a 400, as in vLLM 0.32.
  bool zero_max_tokens = false;
  // "echo": the response's text (and logprobs) start with the prompt's. With max_tokens 0
  // (echo_only) the engine generates one token, which the response leaves out (vLLM's way).
  bool echo = false;
  bool echo_only = false;
  // vLLM's bad_words, as given (the session tokenizes them: tokenize_bad_words).
  std::vector<std::string> bad_words;
  // vLLM's return_tokens_as_token_ids; unset: the server's --return-tokens-as-token-ids.
  std::optional<bool> return_tokens_as_token_ids;
  // vLLM's return_token_ids: choices carry their token_ids, and prompt_token_ids go out with
  // them (completions) or with the response (chat).
  bool return_token_ids = false;
  // vLLM's use_beam_search (with length_penalty): the choices come from actors::beam_search
  // (beam_width = n) instead of the engine's sampling.
  std::optional<actors::beam_search_params> beam_search;
  // vLLM's request_id: the response's id is "cmpl-" (chat: "chatcmpl-") + it, unless the
  // X-Request-Id header gives one; empty: a random one.
  std::string request_id;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool continuous_usage = false;  // stream_options.continuous_usage_stats (with include_usage)
};

struct completion_limits {
  std::string served_model_name;
  int32_t vocab_size = 0;  // prompt and logit_bias token ids in [0, vocab_size); 0 = unchecked
  // Server-wide defaults (generation_config.json) for what a request leaves unset.
  runtime::sampling_defaults defaults;
  int32_t max_logprobs = 20;                     // vLLM's --max-logprobs default
  structured_outputs_config structured_outputs;  // --structured-outputs-config
  // Chat: --enable-auto-tool-choice's tool parser ("auto" tool_choice is parsed for calls).
  std::optional<tool_parser_kind> tool_parser;
  int32_t max_model_len = 0;  // max_tokens and truncate_prompt_tokens at most this; 0 = unchecked
  tool_strict_level strict_tools = tool_strict_level::automatic;  // --tool-strict-level
  bool exclude_tools_when_tool_choice_none = false;               // vLLM's flag of that name
  // A reasoning parser is configured (vLLM's reasoning_config): what a thinking_token_budget
  // would need.
  bool reasoning_parser = false;
  // Chat: vLLM's --response-role, the answer's role after a generation prompt.
  std::string response_role = "assistant";
};

// Parses `body`. Errors: 400 for malformed JSON, wrong types, out-of-range or unsupported values;
// 404 when "model" names another model than the served one. `default_seed` is used when the
// request sets no seed (the caller draws it at random).
std::variant<completion_request, api_error> parse_completion_request(
    std::string_view body, const completion_limits& limits, uint64_t default_seed);

}  // namespace troupe::http
