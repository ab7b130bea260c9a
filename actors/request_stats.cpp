#include "actors/request_stats.hpp"

#include <algorithm>
#include <chrono>

namespace troupe::actors {
namespace {

// Stamps come from different threads' reads of one steady clock; a span never goes negative.
double seconds_between(int64_t from_ns, int64_t to_ns) {
  return static_cast<double>(std::max<int64_t>(0, to_ns - from_ns)) * 1e-9;
}

}  // namespace

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool request_stats::on_delta(const request_times& times, int32_t num_tokens,
                             int32_t num_prompt_tokens, int64_t now_ns) {
  times_ = times;
  if (num_tokens <= 0) return false;
  const bool first = first_token_ns_ == 0;
  if (first) first_token_ns_ = now_ns;
  if (metrics_) {
    if (first) {
      metrics_->time_to_first_token->observe(seconds_between(arrival_ns_, now_ns));
      metrics_->prompt_tokens->inc(num_prompt_tokens);
    } else {
      metrics_->inter_token_latency->observe(seconds_between(last_token_ns_, now_ns));
    }
    metrics_->generation_tokens->inc(num_tokens);
  }
  last_token_ns_ = now_ns;
  return first;
}

std::optional<request_timing> request_stats::on_finish(runtime::finish_reason reason,
                                                       int32_t num_prompt_tokens,
                                                       int32_t num_output_tokens,
                                                       int32_t max_tokens_param, int64_t now_ns) {
  std::optional<request_timing> t;
  if (has_output()) t = timing(now_ns);
  if (!metrics_) return t;
  metrics_->success(reason).inc();
  metrics_->e2e_request_latency->observe(seconds_between(arrival_ns_, now_ns));
  metrics_->request_prompt_tokens->observe(num_prompt_tokens);
  metrics_->request_generation_tokens->observe(num_output_tokens);
  if (max_tokens_param > 0) metrics_->request_params_max_tokens->observe(max_tokens_param);
  if (t) {
    metrics_->request_queue_time->observe(t->queue);
    metrics_->request_prefill_time->observe(t->prefill);
    metrics_->request_decode_time->observe(t->decode);
    metrics_->request_inference_time->observe(t->inference);
  }
  return t;
}

request_timing request_stats::timing(int64_t now_ns) const {
  request_timing t;
  t.queue = seconds_between(times_.queued_ns, times_.scheduled_ns);
  t.prefill = seconds_between(times_.scheduled_ns, first_token_ns_);
  t.decode = seconds_between(first_token_ns_, last_token_ns_);
  t.inference = seconds_between(times_.scheduled_ns, last_token_ns_);
  t.ttft = ttft_seconds();
  t.e2e = seconds_between(arrival_ns_, now_ns);
  return t;
}

}  // namespace troupe::actors
