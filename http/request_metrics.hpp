#pragma once
// vLLM's per-request metrics in responses (`--enable-per-request-metrics`): vLLM's
// PerRequestMetrics, as build_per_request_timing_metrics computes it
// (vllm/entrypoints/generate/base/serving.py), from the engine's timing of the request
// (actors::request_timing) and the number of tokens it generated:
//
//   queued ──── scheduled ──────── first token ──────────── last token
//   |<- queue ->|<- time_to_first ->|<---- generation ------->|
//                |<-------------- inference ----------------->|
//
//   time_to_first_token_ms = (first token - scheduled) * 1000    (not arrival-based: no queue)
//   generation_time_ms     = (last token - first token) * 1000   (0 for one token)
//   queue_time_ms          = (scheduled - queued) * 1000
//   mean_itl_ms            = generation_time_ms / (tokens - 1)   null unless tokens > 1
//   tokens_per_second      = tokens / inference seconds          null unless inference > 0
//
// Milliseconds as doubles, unrounded. A field is null when its stamps are unknown: troupe's engine
// times a request only once it produced a token, so with no timing every field is null.
//
// Where it goes (vLLM's rules; `n` is the request's number of choices):
//   - non-streaming body: "metrics" as its last member, every field written (nulls included,
//     vLLM's model_dump()); "metrics": null when n > 1.
//   - stream: only on the final usage chunk (stream_options.include_usage), null fields left out
//     (exclude_none: {} when none is known); no "metrics" when n > 1 and on no other chunk, so a
//     stream without include_usage carries none.
//   - flag off: "metrics": null in every non-streaming body (vLLM 0.32's model_dump()), none in
//     a stream.
#include <cstdint>
#include <optional>
#include <string>

#include "actors/engine.hpp"

namespace troupe::http {

// vLLM's PerRequestMetrics; std::nullopt = null.
struct request_metrics {
  std::optional<double> time_to_first_token_ms;
  std::optional<double> generation_time_ms;
  std::optional<double> queue_time_ms;
  std::optional<double> mean_itl_ms;
  std::optional<double> tokens_per_second;
};

// The metrics of a request the engine timed as `timing` (std::nullopt: not timed) that generated
// `num_generation_tokens` tokens (the response's completion_tokens).
request_metrics make_request_metrics(const std::optional<actors::request_timing>& timing,
                                     int32_t num_generation_tokens);

// {"time_to_first_token_ms": ..., ...} in vLLM's member order: every member, null when unknown;
// or with `omit_nulls`, only the known ones.
std::string request_metrics_json(const request_metrics& metrics, bool omit_nulls);

// What a responder knows of its response's metrics once every choice has finished.
struct response_timing {
  bool enabled = false;                          // --enable-per-request-metrics
  int32_t num_choices = 1;                       // the request's n
  std::optional<actors::request_timing> timing;  // the engine's (from a final event)
  int32_t num_generation_tokens = 0;             // usage.completion_tokens
};

// `body` (one serialized JSON object) with "metrics" appended as its last member: when enabled
// the metrics for n == 1, else null.
std::string with_body_metrics(std::string body, const response_timing& response);

// A stream's final usage chunk (one serialized JSON object) with "metrics" appended, null fields
// left out, when enabled and n == 1. Unchanged otherwise.
std::string with_usage_chunk_metrics(std::string chunk, const response_timing& response);

}  // namespace troupe::http
