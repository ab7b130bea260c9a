#pragma once
// vLLM's periodic stats line (its LoggingStatLogger), as a policy without clocks or logging: the
// caller samples the engine's cumulative counters and current gauges every interval and logs
// what tick() returns.
//
//   Engine 000: Avg prompt throughput: 812.4 tokens/s, Avg generation throughput: 95.1 tokens/s,
//   Running: 8 reqs, Waiting: 0 reqs, GPU KV cache usage: 12.5%, Prefix cache hit rate: 43.0%
//
// Throughputs are over the interval since the previous tick. The hit rate is over the most
// recent max_recent_requests admissions (vLLM's CachingMetrics window), counted in tokens. As in
// vLLM, a line whose interval and the one before both had no tokens is "idle" (vLLM logs it at
// debug level), so an idle server goes quiet after one line showing zero throughput.
//
// Thread: not thread-safe; one owner.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace troupe::telemetry {

struct stats_sample {
  double prompt_tokens = 0.0;      // cumulative (vllm:prompt_tokens_total)
  double generation_tokens = 0.0;  // cumulative (vllm:generation_tokens_total)
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  double kv_cache_usage = 0.0;  // fraction 0..1
  // Cumulative prefix-cache lookups: admissions, and their tokens queried and found.
  int64_t prefix_cache_requests = 0;
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
};

struct stats_line {
  std::string text;
  bool idle = false;  // log at debug, not info
};

class periodic_stats {
 public:
  static constexpr int64_t max_recent_requests = 1000;

  // `engine_index`: the line's "Engine 00d" (the data-parallel engine it samples).
  periodic_stats(double now_seconds, const stats_sample& start, int engine_index = 0)
      : engine_index_(engine_index), last_time_(now_seconds), last_(start) {}

  // requires: now_seconds >= the previous tick's; counters never decrease.
  stats_line tick(double now_seconds, const stats_sample& sample);

  double hit_rate() const;  // 0..1; 0 before any query

 private:
  struct window_entry {
    int64_t requests, queries, hits;
  };
  void observe_prefix_cache(const stats_sample& sample);

  int engine_index_;
  double last_time_;
  stats_sample last_;
  double last_prompt_throughput_ = 0.0;
  double last_generation_throughput_ = 0.0;
  std::deque<window_entry> window_;
  window_entry total_{0, 0, 0};
};

// Speculative decoding over one interval (differences of runtime::spec_decode_stats).
struct spec_decode_sample {
  int64_t num_drafts = 0;
  int64_t num_draft_tokens = 0;
  int64_t num_accepted_tokens = 0;
  std::vector<int64_t> num_accepted_tokens_per_pos;
};

// vLLM's SpecDecodingLogging line for an interval of `elapsed_seconds` with drafts:
//
//   SpecDecoding metrics: Mean acceptance length: 2.50, Accepted throughput: 12.00 tokens/s,
//   Drafted throughput: 32.00 tokens/s, Accepted: 120 tokens, Drafted: 320 tokens, Per-position
//   acceptance rate: 0.700, 0.500, 0.300, 0.000, Avg Draft acceptance rate: 37.5%
//
// (mean acceptance length counts the token after the drafts; a position's rate is its accepted
// drafts over the interval's drafts). requires: sample.num_drafts > 0.
std::string format_spec_decoding_line(const spec_decode_sample& sample, double elapsed_seconds);

// The line's text, vLLM's format (throughputs in tokens/s, usage and hit rate as fractions).
std::string format_stats_line(int engine_index, double prompt_throughput,
                              double generation_throughput, int64_t num_running,
                              int64_t num_waiting, double kv_cache_usage, double hit_rate);

}  // namespace troupe::telemetry
