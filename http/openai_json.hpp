#pragma once
// JSON bodies of the OpenAI/vLLM completions API, in vLLM's field order and shape.
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/engine.hpp"
#include "http/api_error.hpp"

namespace troupe::http {

// What every response of one completion repeats.
struct completion_meta {
  std::string id;  // "cmpl-<32 hex>"
  int64_t created = 0;
  std::string model;
};

struct completion_usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

// {"error": {"message", "type", "param", "code"}}
std::string error_json(const api_error& error);

// GET /v1/models: the one served model.
std::string models_json(const actors::model_info& info);

// A non-streaming completion with one choice.
std::string completion_json(const completion_meta& meta, std::string_view text,
                            std::string_view finish_reason, const completion_usage& usage);

// One streaming chunk; `finish_reason` empty renders as null. `with_usage_null` adds
// "usage": null, as OpenAI does on every chunk when stream_options.include_usage is set.
std::string stream_chunk_json(const completion_meta& meta, std::string_view text,
                              std::string_view finish_reason, bool with_usage_null);

// The final usage chunk of a stream: "choices": [] and the usage.
std::string usage_chunk_json(const completion_meta& meta, const completion_usage& usage);

// "cmpl-" + 32 random hex digits; thread-safe.
std::string make_completion_id();
// A random 64-bit sampling seed for requests that do not set one; thread-safe.
uint64_t make_random_seed();

}  // namespace troupe::http
