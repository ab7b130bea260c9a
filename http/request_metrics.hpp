#pragma once
// Per-request timing in responses (`--enable-per-request-metrics`): the final JSON of a
// completion or chat completion, or the final chunk of its stream, gains a "metrics" object with
// where the request's time went, in seconds (actors::request_timing, vLLM's intervals):
//
//   "metrics": {"queue_time", "prefill_time", "decode_time", "inference_time",
//               "time_to_first_token", "e2e_latency"}
//
// Absent when the flag is off or the engine reported no timing (a request that produced no
// output, an error). With n > 1 it is the timing of the choice that finished last.
#include <string>

#include "actors/engine.hpp"

namespace troupe::http {

// {"queue_time": ..., ...} for `timing`.
std::string request_metrics_json(const actors::request_timing& timing);

// Appends "metrics": request_metrics_json(timing) as the last member of `object`.
// requires: `object` is one serialized JSON object (it ends with '}').
std::string with_request_metrics(std::string object, const actors::request_timing& timing);

}  // namespace troupe::http
