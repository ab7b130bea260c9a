#pragma once
// The KV-cache allocator actor: a shell around runtime::kv_allocator. Answers the batcher's
// per-step reserve_blocks with grants (block ids) and frees on release_blocks.
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>

#include "actors/engine_counters.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/instrumented.hpp"
#include "actors/messages.hpp"

namespace troupe::actors {

// requires: num_blocks >= 1, block_size >= 1. Publishes kv block counts to `counters` and, unless
// `metrics` is empty (--disable-log-stats), vLLM's KV usage and prefix-cache counters after every
// message. Spawned instrumented as actor kind "kv_allocator" with `actor`.
kv_allocator_actor spawn_kv_allocator(caf::actor_system& system, int32_t num_blocks,
                                      int32_t block_size, std::shared_ptr<engine_counters> counters,
                                      std::optional<vllm_metrics> metrics,
                                      actor_kind_metrics actor);

}  // namespace troupe::actors
