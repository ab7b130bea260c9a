#pragma once
// One request's timeline and vLLM's per-request metrics, kept by its request actor. The intervals
// are vLLM v1's (vllm/v1/metrics/stats.py):
//
//   arrival ── queued ── scheduled ──── first token ─────── last token ── finished
//   (submit)   (batcher)  (batcher,      (received)          (received)    (request actor)
//                          first time)
//   |<-queue->|<-prefill->|<------ decode ----->|
//              |<----------- inference ----------->|
//   |<------------ ttft ------------>|   e2e = finished - arrival
//
// The batcher stamps queued and scheduled on every token_delta; the token times are when the
// request actor receives them (vLLM's front end measures TTFT there too), so the intervals add
// up: inference = prefill + decode and e2e >= ttft + decode. Preemption does not reset
// "scheduled"; its time counts as prefill or decode.
//
// Thread: one owner (the request actor, or a test). CAF-free.
#include <cstdint>
#include <optional>
#include <utility>

#include "actors/engine.hpp"
#include "actors/engine_metrics.hpp"
#include "runtime/sched/request.hpp"

namespace troupe::actors {

// When the batcher saw a request, in steady-clock nanoseconds since the clock's epoch (0 = not
// yet); carried by every token_delta.
struct request_times {
  int64_t queued_ns = 0;     // the batcher accepted it into the waiting queue
  int64_t scheduled_ns = 0;  // first admitted to the running batch
};

int64_t steady_now_ns();

class request_stats {
 public:
  // `metrics` empty: timing only (--disable-log-stats). Their registry must outlive this.
  request_stats(int64_t arrival_ns, std::optional<vllm_metrics> metrics)
      : arrival_ns_(arrival_ns), metrics_(std::move(metrics)) {}

  // A delta received at `now_ns` with `num_tokens` new tokens (0 for an abort's last delta).
  // Observes TTFT and the prompt tokens on the first tokens, the inter-token latency (since the
  // previous delta with tokens) after them, generation tokens always. Returns true for the
  // request's first tokens.
  bool on_delta(const request_times& times, int32_t num_tokens, int32_t num_prompt_tokens,
                int64_t now_ns);

  // The request finished (stop, length or abort) at `now_ns`: counts it by reason and observes
  // e2e and its token counts; `max_tokens_param` > 0 when the client set max_tokens. Returns its
  // timing (and observes the interval histograms) when it produced output.
  std::optional<request_timing> on_finish(runtime::finish_reason reason, int32_t num_prompt_tokens,
                                          int32_t num_output_tokens, int32_t max_tokens_param,
                                          int64_t now_ns);

  bool has_output() const { return first_token_ns_ != 0; }
  double ttft_seconds() const {
    return has_output() ? static_cast<double>(first_token_ns_ - arrival_ns_) * 1e-9 : 0.0;
  }

 private:
  request_timing timing(int64_t now_ns) const;

  int64_t arrival_ns_;
  std::optional<vllm_metrics> metrics_;
  request_times times_;  // the latest stamps
  int64_t first_token_ns_ = 0;
  int64_t last_token_ns_ = 0;
};

}  // namespace troupe::actors
