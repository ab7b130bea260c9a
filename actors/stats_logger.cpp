#include "actors/stats_logger.hpp"

#include <utility>

#include <spdlog/spdlog.h>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/telemetry/stats_line.hpp"

namespace troupe::actors {
namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class stats_logger_impl : public stats_logger_actor::base {
 public:
  stats_logger_impl(caf::actor_config& cfg, std::shared_ptr<const engine_counters> counters,
                    vllm_metrics metrics, std::chrono::milliseconds interval)
      : stats_logger_actor::base(cfg),
        counters_(std::move(counters)),
        metrics_(metrics),
        interval_(interval),
        stats_(steady_seconds(), sample()) {}

  behavior_type make_behavior() override {
    delayed_send(this, interval_, log_stats_tick{});
    return {
        [this](log_stats_tick) {
          const auto line = stats_.tick(steady_seconds(), sample());
          if (line.idle) {
            spdlog::debug(line.text);
          } else {
            spdlog::info(line.text);
          }
          delayed_send(this, interval_, log_stats_tick{});
        },
    };
  }

 private:
  telemetry::stats_sample sample() const {
    constexpr auto relaxed = std::memory_order_relaxed;
    telemetry::stats_sample s;
    s.prompt_tokens = metrics_.prompt_tokens->value();
    s.generation_tokens = metrics_.generation_tokens->value();
    s.num_running = counters_->num_running.load(relaxed);
    s.num_waiting = counters_->num_waiting.load(relaxed);
    const int32_t total = counters_->num_kv_blocks_total.load(relaxed);
    const int32_t used = total - counters_->num_kv_blocks_free.load(relaxed);
    s.kv_cache_usage = total > 0 ? static_cast<double>(used) / total : 0.0;
    s.prefix_cache_requests = counters_->num_prefix_cache_requests.load(relaxed);
    s.prefix_cache_queries = counters_->num_prefix_cache_queries.load(relaxed);
    s.prefix_cache_hits = counters_->num_prefix_cache_hits.load(relaxed);
    return s;
  }

  std::shared_ptr<const engine_counters> counters_;
  vllm_metrics metrics_;
  std::chrono::milliseconds interval_;
  telemetry::periodic_stats stats_;
};

}  // namespace

stats_logger_actor spawn_stats_logger(caf::actor_system& system,
                                      std::shared_ptr<const engine_counters> counters,
                                      vllm_metrics metrics, actor_kind_metrics actor,
                                      std::chrono::milliseconds interval) {
  return system.spawn<instrumented<stats_logger_impl>>(actor, std::move(counters), metrics,
                                                       interval);
}

}  // namespace troupe::actors
