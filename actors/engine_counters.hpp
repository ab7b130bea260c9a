#pragma once
// Load counters the actors publish and engine::stats() reads: telemetry, and the data-parallel
// router's load estimate (a heuristic that tolerates a stale read), so relaxed atomics suffice.
//
// Thread: each counter has one writer (the allocator writes kv_*, the batcher the rest but
// num_unfinished, which the engine raises at submission and each request actor's end lowers);
// any thread reads. One set per data-parallel engine (actors/engine_core.hpp).
#include <atomic>
#include <cstdint>

#include "actors/engine.hpp"

namespace troupe::actors {

struct engine_counters {
  std::atomic<int32_t> num_kv_blocks_total{0};
  std::atomic<int32_t> num_kv_blocks_free{0};
  std::atomic<int32_t> num_running{0};
  std::atomic<int32_t> num_waiting{0};
  std::atomic<int64_t> num_preemptions{0};
  std::atomic<int64_t> num_steps{0};
  std::atomic<int32_t> num_kv_blocks_cached{0};
  std::atomic<int64_t> num_prefix_cache_requests{0};  // admissions counted in the two below
  std::atomic<int64_t> num_prefix_cache_queries{0};
  std::atomic<int64_t> num_prefix_cache_hits{0};
  std::atomic<int32_t> num_unfinished{0};  // request actors submitted here and alive
  bool prefix_caching = false;             // set before the actors start

  engine_stats snapshot() const {
    constexpr auto relaxed = std::memory_order_relaxed;
    engine_stats s;
    s.num_kv_blocks_total = num_kv_blocks_total.load(relaxed);
    s.num_kv_blocks_free = num_kv_blocks_free.load(relaxed);
    s.num_kv_blocks_used = s.num_kv_blocks_total - s.num_kv_blocks_free;
    s.num_running = num_running.load(relaxed);
    s.num_waiting = num_waiting.load(relaxed);
    s.num_preemptions = num_preemptions.load(relaxed);
    s.num_steps = num_steps.load(relaxed);
    s.prefix_caching = prefix_caching;
    s.num_kv_blocks_cached = num_kv_blocks_cached.load(relaxed);
    s.num_prefix_cache_queries = num_prefix_cache_queries.load(relaxed);
    s.num_prefix_cache_hits = num_prefix_cache_hits.load(relaxed);
    s.num_live_requests = num_unfinished.load(relaxed);
    return s;
  }
};

}  // namespace troupe::actors
