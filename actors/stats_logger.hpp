#pragma once
// The stats logger actor: every `interval` (vLLM: 10 s) it samples the engine's counters and
// logs vLLM's periodic stats line (runtime/telemetry/stats_line.hpp) at info, or at debug once
// the engine has been idle for a whole interval. A timer by delayed message to itself: no thread
// sleeps. Not started with --disable-log-stats.
#include <chrono>
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/engine_counters.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/instrumented.hpp"
#include "actors/messages.hpp"

namespace troupe::actors {

// requires: interval > 0; `metrics`' registry outlives the actor. Spawned instrumented as actor
// kind "stats_logger" with `actor`. `engine_index`: the data-parallel engine the lines name.
stats_logger_actor spawn_stats_logger(caf::actor_system& system,
                                      std::shared_ptr<const engine_counters> counters,
                                      vllm_metrics metrics, actor_kind_metrics actor,
                                      std::chrono::milliseconds interval, int engine_index = 0);

}  // namespace troupe::actors
