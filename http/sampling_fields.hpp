#pragma once
// The sampling and stop fields /v1/completions and /v1/chat/completions share beyond the basic
// ones of request_fields: stop, stop_token_ids, include_stop_str_in_output, skip_special_tokens,
// min_p, presence/frequency/repetition penalties, logit_bias, allowed_token_ids, bad_words (kept
// as words: tokenize_bad_words), min_tokens; and the server-wide
// defaults (runtime::sampling_defaults) for what a request leaves unset. vLLM's ranges and
// messages. Internal to http/: it exposes rapidjson types.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "http/request_fields.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::http {

// Reads the fields above into `out` (after max_tokens was read: min_tokens is checked against
// it), then applies `limits.defaults`.
parse_error read_sampling_fields(const Value& body, const completion_limits& limits,
                                 completion_request& out);

// vLLM's VLLM_MAX_NUM_BAD_WORDS default: token sequences after tokenize_bad_words.
inline constexpr size_t max_bad_words = 128;

// The token ids of completion_request::bad_words as vLLM makes them: each word (leading white
// space stripped) alone, and after a space when that gives another first token and as many
// tokens (the word inside a text). 400 for a word of no tokens or more than max_bad_words
// sequences.
std::variant<std::vector<std::vector<int32_t>>, api_error> tokenize_bad_words(
    const std::vector<std::string>& words, const runtime::tokenizer& tokenizer);

// A double as Python's repr writes it (3.0, 0.5, 1e-05, inf), for vLLM's error messages.
std::string py_float(double value);

}  // namespace troupe::http
