#pragma once
// The pieces every OpenAI-style JSON body of http/ is written with (completions and chat alike).
// Internal to http/: it exposes rapidjson's writer.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/openai_json.hpp"

namespace troupe::http {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s);
void write_key(json_writer& w, std::string_view key);
// An empty string renders as null.
void write_string_or_null(json_writer& w, std::string_view s);
// "id", "object", "created", "model" members of a response or chunk.
void write_meta(json_writer& w, const completion_meta& meta, std::string_view object);
// The usage object. "prompt_tokens_details" is {"cached_tokens": N} when usage.cached_tokens > 0,
// "completion_tokens_details" {"reasoning_tokens": N} when usage.reasoning_tokens is set; each
// else null when `with_details_null`, else absent: vLLM 0.32's unset details are null in
// complete responses, absent from usage chunks (exclude_unset or exclude_none).
void write_usage(json_writer& w, const completion_usage& usage, bool with_details_null);
// A list of token ids, or null.
void write_ids_or_null(json_writer& w, const std::optional<std::vector<int32_t>>& ids);
// "system_fingerprint": the server's (completion_meta::system_fingerprint) or null.
void write_fingerprint(json_writer& w, const completion_meta& meta);
// The vLLM members a complete response ends with that troupe leaves null: "kv_transfer_params"
// and "ec_transfer_params" (the caller appends "metrics": http/request_metrics.hpp).
void write_transfer_params(json_writer& w);
// A stream chunk's usage under vLLM's continuous_usage_stats: prompt_tokens, total_tokens,
// completion_tokens, and for chat "completion_tokens_details" (null, or {"reasoning_tokens": N}
// when usage.reasoning_tokens is set).
void write_chunk_usage(json_writer& w, const completion_usage& usage, bool completion_details);
// A logprob as vLLM writes it: -inf (anything below -9999) as -9999.0.
void write_logprob(json_writer& w, float logprob);
// prompt_logprobs as vLLM writes them: [null, {"<id>": {"logprob", "rank", "decoded_token"},
// ...}, ...].
void write_prompt_logprobs(json_writer& w, const prompt_logprobs_list& list);

}  // namespace troupe::http
