#pragma once
// The request fields /v1/completions and /v1/chat/completions share (model, max_tokens, sampling,
// stream, stream_options, prompt_logprobs, n, ignore_eos, add_special_tokens, cache_salt,
// priority, and the parameters troupe rejects), read from a parsed JSON body. Internal to http/: it
// exposes rapidjson types.
#include <cstdint>
#include <optional>
#include <string_view>

#include <rapidjson/document.h>

#include "http/api_error.hpp"
#include "http/completion_request.hpp"

namespace troupe::http {

using rapidjson::Value;
using parse_error = std::optional<api_error>;

// The member `key`, or nullptr when it is absent or null (null always means "the default").
const Value* member(const Value& object, const char* key);
// A string value's text.
std::string_view view(const Value& s);
// `v` as compact JSON text.
std::string to_json(const Value& v);
// A string value of `s` (copied with `a`).
Value string_value(std::string_view s, rapidjson::Document::AllocatorType& a);
// An integer, also written as 16.0 (pydantic accepts integral floats).
std::optional<int64_t> as_integer(const Value& v);
// 400 "`key` must be <expected>."
api_error type_error(const char* key, const char* expected);
// Reads an optional boolean member into `out` (unchanged when absent or null).
parse_error read_bool(const Value& body, const char* key, bool& out);

// The deepest JSON nesting a request body may have: parsing is iterative, but copying and
// writing values recurse, so deeper input is refused before anything walks it.
inline constexpr int max_json_depth = 256;

// 400 when `body` (JSON text, possibly malformed) nests arrays/objects deeper than `max_depth`.
// A linear scan that skips strings; it does not validate the JSON.
parse_error check_json_depth(std::string_view body, int max_depth = max_json_depth);

// Parses a request body into `doc`: 400 when it nests too deeply, is not valid JSON (UTF-8
// validated) or is not a JSON object.
parse_error parse_json_object(std::string_view body, rapidjson::Document& doc);

// vLLM's refusal of max_tokens below 1 (its SamplingParams).
api_error max_tokens_error(int64_t value);

// vLLM's checks against the model's length (its TokenizeParams), when limits.max_model_len is
// set: max_tokens (named `max_tokens_key` in the message) and truncate_prompt_tokens at most
// max_model_len.
parse_error check_model_length(const completion_request& request, const completion_limits& limits,
                               std::string_view max_tokens_key);

// An integer header as vLLM reads one, Python's int() of it (surrounding whitespace, a sign,
// digits with single underscores between them); std::nullopt, as if the header were absent,
// when it is not such an integer or does not fit 64 bits. vLLM's integer headers:
//   X-Vllm-Priority        overrides the body's priority
//   X-data-parallel-rank   the data-parallel engine to serve the request (a value outside
//                          [0, --data-parallel-size) is refused with a 400)
inline constexpr std::string_view priority_header = "X-Vllm-Priority";
inline constexpr std::string_view data_parallel_rank_header = "X-data-parallel-rank";
std::optional<int64_t> parse_int_header(std::string_view value);

// vLLM's refusals for a beam search (use_beam_search) that the rest of the request does not
// allow: a completions stream, echo with logprobs; and troupe's for sample logprobs. Drops the
// prompt logprobs an echo asked for. Nothing without beam search. `completions`: the request is
// a /v1/completions one (chat streams a beam search's answer).
parse_error check_beam_search(completion_request& request, bool completions);

// Reads every shared field of `body` (a JSON object) into `out`; the prompt is left to the caller.
// `default_seed` is used when the request sets no seed.
parse_error read_generation_fields(const Value& body, const completion_limits& limits,
                                   uint64_t default_seed, completion_request& out);

}  // namespace troupe::http
