#pragma once
// GET /metrics and GET /v1/telemetry: the engine's metrics registry (actors::engine::metrics(),
// vLLM's names and troupe's actor and step figures; docs/telemetry.md) as the Prometheus text
// format, and as one JSON snapshot for `troupe top` and /dashboard.
//
// /v1/telemetry's body (docs/telemetry.md has the field reference):
//   {"object": "telemetry", "version": 1,
//    "timestamp": <unix seconds, fractional>,       when the snapshot was taken
//    "model": {"name", "max_model_len", "created"},
//    "engine": {"num_running", "num_waiting", "num_kv_blocks_total", ... engine_stats},
//    "metrics": [...]}                                 registry::json_snapshot()'s families
//
// Thread: any; both read the registry under its lock and the engine's thread-safe stats().
#include <string>
#include <string_view>

#include "actors/engine.hpp"

namespace troupe::http {

// The content type of the Prometheus text exposition format 0.0.4.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// The body of GET /metrics.
std::string metrics_text(const actors::engine& engine);

// The body of GET /v1/telemetry; `timestamp` is the unix time in seconds to report.
std::string telemetry_json(const actors::engine& engine, double timestamp);

// The unix time now, in seconds with a fraction.
double unix_time_now();

}  // namespace troupe::http
