#pragma once
// JSON bodies of the OpenAI/vLLM completions API, in vLLM's field order and shape.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/engine.hpp"
#include "http/api_error.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::http {

// What every response of one completion repeats.
struct completion_meta {
  std::string id;  // "cmpl-<32 hex>"
  int64_t created = 0;
  std::string model;
  // vLLM's system_fingerprint (--fingerprint-mode): in complete responses, and on a stream's
  // last chunk (the usage chunk when there is one); null when unset.
  std::optional<std::string> system_fingerprint;
};

struct completion_usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  // Prompt tokens served from the prefix cache; > 0 writes "prompt_tokens_details":
  // {"cached_tokens": N}. Responders set it only under --enable-prompt-tokens-details.
  int32_t cached_tokens = 0;
  // Set under a reasoning parser: "completion_tokens_details": {"reasoning_tokens": N}.
  std::optional<int32_t> reasoning_tokens;
};

// A choice's "logprobs" in the completions API (vLLM's CompletionLogProbs), one entry per token.
// An echoed prompt's first token has no logprob: null there.
struct completion_logprobs {
  std::vector<int32_t> text_offset;  // characters (code points) into the choice's text
  std::vector<std::optional<float>> token_logprobs;
  std::vector<std::string> tokens;
  // The sampled token then the request's N most likely, keyed by token text (first one wins).
  std::vector<std::optional<std::vector<std::pair<std::string, float>>>> top_logprobs;
};

// One token of a position of vLLM's prompt_logprobs (its Logprob: logprob, rank, decoded_token).
struct prompt_logprob_entry {
  int32_t token_id = 0;
  float logprob = 0.0f;
  int32_t rank = 0;
  std::string decoded_token;
};
// vLLM's prompt_logprobs: null for the first prompt token, then for each other the prompt token
// and the request's prompt_logprobs most likely (each id once, the prompt token first).
using prompt_logprobs_list = std::vector<std::optional<std::vector<prompt_logprob_entry>>>;

// What a completion choice says besides its text.
struct completion_choice {
  int32_t index = 0;
  std::string text;
  std::string finish_reason;  // "" renders as null
  // vLLM's stop_reason: the stop string or stop token id that ended the choice, else null.
  std::optional<std::string> stop_string;
  std::optional<int32_t> stop_token_id;
  std::optional<completion_logprobs> logprobs;  // null unless the request asked for logprobs
  // null unless the request asked for prompt logprobs (non-streaming responses only)
  std::optional<prompt_logprobs_list> prompt_logprobs;
  // vLLM's return_token_ids, else null: the generated ids (a chunk's: its own, an echoed
  // prompt's not among them) and the prompt's (a stream: on a choice's first chunk only).
  std::optional<std::vector<int32_t>> token_ids;
  std::optional<std::vector<int32_t>> prompt_token_ids;
};

// The text vLLM shows for a token in logprobs: the token decoded alone, special tokens kept (an
// incomplete UTF-8 sequence becomes U+FFFD).
std::string logprob_token_text(const runtime::tokenizer& tokenizer, int32_t token_id);

// logprob_token_text, or with `as_token_ids` (vLLM's return_tokens_as_token_ids) "token_id:<id>".
std::string logprob_token_name(const runtime::tokenizer& tokenizer, int32_t token_id,
                               bool as_token_ids);

// Number of characters (code points) of UTF-8 `text`, as Python's len() counts them.
int32_t num_characters(std::string_view text);

// Appends `tokens` to `out`: text offsets start at `text_offset` and advance by each token
// text's length (vLLM's _create_completion_logprobs); `num_top` is the request's logprobs N.
// Logprobs below -9999 (-inf) are written as -9999.0, as vLLM does. Tokens are named by
// logprob_token_name.
void append_completion_logprobs(completion_logprobs& out,
                                std::span<const actors::token_logprob> tokens,
                                const runtime::tokenizer& tokenizer, int32_t num_top,
                                int32_t text_offset, bool as_token_ids = false);

// Appends an echoed prompt's tokens to `out` as append_completion_logprobs does, the first
// token's logprob and top logprobs null; `prompt_logprobs` holds entry i - 1 for token i.
void append_prompt_completion_logprobs(completion_logprobs& out,
                                       std::span<const int32_t> prompt_token_ids,
                                       std::span<const actors::token_logprob> prompt_logprobs,
                                       const runtime::tokenizer& tokenizer, int32_t num_top,
                                       int32_t text_offset, bool as_token_ids = false);

// vLLM's prompt_logprobs of a prompt (generation_event::prompt_token_ids, ::prompt_logprobs).
prompt_logprobs_list make_prompt_logprobs(std::span<const int32_t> prompt_token_ids,
                                          std::span<const actors::token_logprob> prompt_logprobs,
                                          const runtime::tokenizer& tokenizer);

// {"error": {"message", "type", "param", "code"}}
std::string error_json(const api_error& error);
// The same shape with the type given and `param` null when unset.
std::string error_json(std::string_view message, std::string_view type,
                       const std::optional<std::string>& param, int code);

// GET /version: {"version": version}.
std::string version_json(std::string_view version);

// GET /v1/models: the one served model.
std::string models_json(const actors::model_info& info);

// A non-streaming completion with one choice.
std::string completion_json(const completion_meta& meta, std::string_view text,
                            std::string_view finish_reason, const completion_usage& usage);
// A non-streaming completion with `choices` (in the given order): vLLM 0.32's members, those
// troupe has no value for null; "metrics" is left to with_body_metrics.
std::string completion_json(const completion_meta& meta, std::span<const completion_choice> choices,
                            const completion_usage& usage);

// One streaming chunk (vLLM 0.32's exclude_unset shape: "prompt_token_ids" and "token_ids" on
// every choice, null unless return_token_ids); `finish_reason` empty renders as null.
// `with_fingerprint` adds the system fingerprint (the last chunk of a stream without a usage
// chunk).
std::string stream_chunk_json(const completion_meta& meta, std::string_view text,
                              std::string_view finish_reason, bool with_fingerprint = false);
// `usage` (stream_options.continuous_usage_stats): the chunk's "usage", the choice's counts so far.
std::string stream_chunk_json(const completion_meta& meta, const completion_choice& choice,
                              bool with_fingerprint = false,
                              const completion_usage* usage = nullptr);

// The final usage chunk of a stream: "choices": [], the usage and the system fingerprint (when
// there is one).
std::string usage_chunk_json(const completion_meta& meta, const completion_usage& usage);

// "cmpl-" + 32 random hex digits; thread-safe.
std::string make_completion_id();
// A random 64-bit sampling seed for requests that do not set one; thread-safe.
uint64_t make_random_seed();

}  // namespace troupe::http
