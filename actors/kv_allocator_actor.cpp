#include "actors/kv_allocator_actor.hpp"

#include <utility>

#include <caf/typed_event_based_actor.hpp>

#include "runtime/sched/kv_allocator.hpp"

namespace troupe::actors {
namespace {

class kv_allocator_impl : public kv_allocator_actor::base {
 public:
  kv_allocator_impl(caf::actor_config& cfg, int32_t num_blocks, int32_t block_size,
                    std::shared_ptr<engine_counters> counters, std::optional<vllm_metrics> metrics)
      : kv_allocator_actor::base(cfg),
        allocator_(num_blocks, block_size),
        counters_(std::move(counters)),
        metrics_(std::move(metrics)) {
    counters_->num_kv_blocks_total = num_blocks;
    publish();
  }

  behavior_type make_behavior() override {
    return {
        [this](reserve_blocks& msg) -> blocks_reserved {
          blocks_reserved reply{allocator_.reserve(msg.proposal)};
          publish();
          return reply;
        },
        [this](release_blocks& msg) {
          allocator_.release(msg.request_ids, msg.failed_step);
          publish();
        },
        [this](clear_prefix_cache&) -> prefix_cache_cleared {
          prefix_cache_cleared reply{allocator_.reset_prefix_cache(),
                                     allocator_.cache().num_used_blocks()};
          publish();
          return reply;
        },
    };
  }

 private:
  void publish() {
    constexpr auto relaxed = std::memory_order_relaxed;
    const auto& cache = allocator_.cache();
    const auto& stats = allocator_.stats();
    counters_->num_kv_blocks_free.store(cache.num_free_blocks(), relaxed);
    counters_->num_kv_blocks_cached.store(cache.num_cached_blocks(), relaxed);
    counters_->num_prefix_cache_requests.store(stats.num_requests, relaxed);
    counters_->num_prefix_cache_queries.store(stats.num_queries, relaxed);
    counters_->num_prefix_cache_hits.store(stats.num_hits, relaxed);
    if (!metrics_) return;
    // vLLM's usage: blocks held by requests; cached blocks nobody holds count as free.
    metrics_->kv_cache_usage_perc->set(static_cast<double>(cache.num_used_blocks()) /
                                       cache.num_blocks());
    metrics_->prefix_cache_queries->inc(
        static_cast<double>(stats.num_queries - published_.num_queries));
    metrics_->prefix_cache_hits->inc(static_cast<double>(stats.num_hits - published_.num_hits));
    published_ = stats;
  }

  runtime::kv_allocator allocator_;
  std::shared_ptr<engine_counters> counters_;
  std::optional<vllm_metrics> metrics_;
  runtime::prefix_cache_stats published_;  // what the counters have been given
};

}  // namespace

kv_allocator_actor spawn_kv_allocator(caf::actor_system& system, int32_t num_blocks,
                                      int32_t block_size, std::shared_ptr<engine_counters> counters,
                                      std::optional<vllm_metrics> metrics,
                                      actor_kind_metrics actor) {
  return system.spawn<instrumented<kv_allocator_impl>>(actor, num_blocks, block_size,
                                                       std::move(counters), std::move(metrics));
}

}  // namespace troupe::actors
