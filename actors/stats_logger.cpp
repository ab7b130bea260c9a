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
                    vllm_metrics metrics, std::chrono::milliseconds interval, int engine_index)
      : stats_logger_actor::base(cfg),
        counters_(std::move(counters)),
        metrics_(metrics),
        interval_(interval),
        stats_(steady_seconds(), sample(), engine_index) {}

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
          log_spec_decoding();
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

  // vLLM's SpecDecodingLogging: the drafts since the last line that had any, over the time
  // since that line.
  void log_spec_decoding() {
    if (!metrics_.spec_decode_num_drafts) return;
    const telemetry::spec_decode_sample now = spec_sample();
    if (now.num_drafts == spec_logged_.num_drafts) return;
    telemetry::spec_decode_sample delta{now.num_drafts - spec_logged_.num_drafts,
                                        now.num_draft_tokens - spec_logged_.num_draft_tokens,
                                        now.num_accepted_tokens - spec_logged_.num_accepted_tokens,
                                        now.num_accepted_tokens_per_pos};
    for (size_t i = 0; i < delta.num_accepted_tokens_per_pos.size(); ++i)
      delta.num_accepted_tokens_per_pos[i] -= spec_logged_.num_accepted_tokens_per_pos[i];
    const double time = steady_seconds();
    spdlog::info(telemetry::format_spec_decoding_line(delta, time - spec_logged_time_));
    spec_logged_ = now;
    spec_logged_time_ = time;
  }

  telemetry::spec_decode_sample spec_sample() const {
    auto count = [](const telemetry::counter* c) {
      return c ? static_cast<int64_t>(c->value()) : int64_t{0};
    };
    telemetry::spec_decode_sample s{count(metrics_.spec_decode_num_drafts),
                                    count(metrics_.spec_decode_num_draft_tokens),
                                    count(metrics_.spec_decode_num_accepted_tokens),
                                    {}};
    for (const auto* c : metrics_.spec_decode_num_accepted_tokens_per_pos)
      s.num_accepted_tokens_per_pos.push_back(count(c));
    return s;
  }

  std::shared_ptr<const engine_counters> counters_;
  vllm_metrics metrics_;
  telemetry::spec_decode_sample spec_logged_ = spec_sample();
  double spec_logged_time_ = steady_seconds();
  std::chrono::milliseconds interval_;
  telemetry::periodic_stats stats_;
};

}  // namespace

stats_logger_actor spawn_stats_logger(caf::actor_system& system,
                                      std::shared_ptr<const engine_counters> counters,
                                      vllm_metrics metrics, actor_kind_metrics actor,
                                      std::chrono::milliseconds interval, int engine_index) {
  return system.spawn<instrumented<stats_logger_impl>>(actor, std::move(counters), metrics,
                                                       interval, engine_index);
}

}  // namespace troupe::actors
