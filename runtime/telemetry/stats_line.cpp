#include "runtime/telemetry/stats_line.hpp"

#include <cstdio>
#include <limits>

namespace troupe::telemetry {

stats_line periodic_stats::tick(double now_seconds, const stats_sample& sample) {
  const double elapsed = now_seconds - last_time_;
  auto throughput = [&](double now, double before) {
    return elapsed > 0.0 ? (now - before) / elapsed : 0.0;
  };
  const double prompt = throughput(sample.prompt_tokens, last_.prompt_tokens);
  const double generation = throughput(sample.generation_tokens, last_.generation_tokens);
  observe_prefix_cache(sample);
  stats_line line;
  line.idle = prompt == 0.0 && generation == 0.0 && last_prompt_throughput_ == 0.0 &&
              last_generation_throughput_ == 0.0;
  line.text = format_stats_line(engine_index_, prompt, generation, sample.num_running,
                                sample.num_waiting, sample.kv_cache_usage, hit_rate());
  last_prompt_throughput_ = prompt;
  last_generation_throughput_ = generation;
  last_time_ = now_seconds;
  last_ = sample;
  return line;
}

double periodic_stats::hit_rate() const {
  return total_.queries > 0 ? static_cast<double>(total_.hits) / total_.queries : 0.0;
}

// One window entry per interval with admissions (an empty one would push useful ones out); the
// oldest leave while more than max_recent_requests are counted, the newest always stays.
void periodic_stats::observe_prefix_cache(const stats_sample& sample) {
  const window_entry delta{sample.prefix_cache_requests - last_.prefix_cache_requests,
                           sample.prefix_cache_queries - last_.prefix_cache_queries,
                           sample.prefix_cache_hits - last_.prefix_cache_hits};
  if (delta.requests <= 0) return;
  window_.push_back(delta);
  total_ = {total_.requests + delta.requests, total_.queries + delta.queries,
            total_.hits + delta.hits};
  while (window_.size() > 1 && total_.requests > max_recent_requests) {
    const window_entry& old = window_.front();
    total_ = {total_.requests - old.requests, total_.queries - old.queries, total_.hits - old.hits};
    window_.pop_front();
  }
}

std::string format_spec_decoding_line(const spec_decode_sample& sample, double elapsed_seconds) {
  const auto drafts = static_cast<double>(sample.num_drafts);
  const auto drafted = static_cast<double>(sample.num_draft_tokens);
  const auto accepted = static_cast<double>(sample.num_accepted_tokens);
  const double per_second = elapsed_seconds > 0.0 ? 1.0 / elapsed_seconds : 0.0;
  std::string rates;
  char buf[512];
  for (const int64_t n : sample.num_accepted_tokens_per_pos) {
    std::snprintf(buf, sizeof buf, "%s%.3f", rates.empty() ? "" : ", ",
                  static_cast<double>(n) / drafts);
    rates += buf;
  }
  std::snprintf(
      buf, sizeof buf,
      "SpecDecoding metrics: Mean acceptance length: %.2f, Accepted throughput: %.2f "
      "tokens/s, Drafted throughput: %.2f tokens/s, Accepted: %lld tokens, Drafted: "
      "%lld tokens, Per-position acceptance rate: %s, Avg Draft acceptance rate: %.1f%%",
      1.0 + accepted / drafts, accepted * per_second, drafted * per_second,
      static_cast<long long>(sample.num_accepted_tokens),
      static_cast<long long>(sample.num_draft_tokens), rates.c_str(),
      drafted > 0.0 ? accepted / drafted * 100.0 : std::numeric_limits<double>::quiet_NaN());
  return buf;
}

std::string format_stats_line(int engine_index, double prompt_throughput,
                              double generation_throughput, int64_t num_running,
                              int64_t num_waiting, double kv_cache_usage, double hit_rate) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "Engine %03d: Avg prompt throughput: %.1f tokens/s, Avg generation throughput: "
                "%.1f tokens/s, Running: %lld reqs, Waiting: %lld reqs, GPU KV cache usage: "
                "%.1f%%, Prefix cache hit rate: %.1f%%",
                engine_index, prompt_throughput, generation_throughput,
                static_cast<long long>(num_running), static_cast<long long>(num_waiting),
                kv_cache_usage * 100.0, hit_rate * 100.0);
  return buf;
}

}  // namespace troupe::telemetry
