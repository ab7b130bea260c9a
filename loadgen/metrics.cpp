#include "loadgen/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace troupe::loadgen {
namespace {

constexpr double kMs = 1000.0;

struct samples {
  std::vector<double> ttfts, tpots, all_tpots, itls, e2els, queue_times;
};

bool is_good(const goodput_config& goodput, double ttft, double tpot, double e2el) {
  // benchmark_serving: good when every configured SLO (ms) >= the request's value (s).
  const std::pair<const char*, double> values[] = {{"ttft", ttft}, {"tpot", tpot}, {"e2el", e2el}};
  for (const auto& [name, value] : values) {
    auto it = goodput.find(name);
    if (it != goodput.end() && !(it->second / kMs >= value)) return false;
  }
  return true;
}

// Output tokens per one-second bucket from the first send; benchmark_serving's peak tok/s.
double peak_tokens_per_s(const std::vector<request_record>& records) {
  double min_start = INFINITY, max_end = -INFINITY;
  for (const auto& r : records) {
    if (!r.success) continue;
    min_start = std::min(min_start, r.start_time);
    max_end = std::max(max_end, r.start_time + r.latency);
  }
  if (!std::isfinite(min_start)) return 0.0;
  const auto num_buckets = static_cast<size_t>(std::ceil(max_end - min_start)) + 1;
  std::vector<double> buckets(num_buckets, 0.0);
  for (const auto& r : records) {
    if (!r.success) continue;
    double t = r.start_time + r.ttft;
    auto add = [&](double at) {
      const double offset = at - min_start;
      if (offset >= 0 && offset < static_cast<double>(num_buckets)) {
        buckets[static_cast<size_t>(offset)] += 1;
      }
    };
    add(t);
    for (double gap : r.itl)
      add(t += gap);
  }
  return *std::max_element(buckets.begin(), buckets.end());
}

// The figures the client's delays are weighed against (client_telemetry.hpp).
client_delays delays_of(const benchmark_metrics& m, const std::vector<request_record>& records) {
  client_delays d;
  d.send_lateness_p99_ms = m.send_lateness_ms.percentiles[1].second;  // p50, p99, max
  if (records.size() > 1) {
    const auto [lo, hi] = std::minmax_element(
        records.begin(), records.end(),
        [](const auto& a, const auto& b) { return a.scheduled_time < b.scheduled_time; });
    d.mean_send_gap_ms =
        kMs * (hi->scheduled_time - lo->scheduled_time) / static_cast<double>(records.size() - 1);
  }
  if (m.completed > 0) d.median_ttft_ms = m.ttft_ms.median;
  return d;
}

}  // namespace

void set_client_cpu(benchmark_metrics& m, double client_cpu_s) {
  m.client_cpu_s = client_cpu_s;
  m.client_cpu_us_per_token =
      m.total_output > 0 ? client_cpu_s * 1e6 / static_cast<double>(m.total_output) : 0.0;
}

void set_client_telemetry(benchmark_metrics& m, std::optional<client_telemetry> telemetry) {
  m.telemetry = std::move(telemetry);
  m.client_bottleneck = client_bottlenecks(
      m.telemetry ? m.telemetry->kinds : std::vector<actor_kind_figures>{}, m.delays);
}

int64_t peak_concurrency(const std::vector<request_record>& records) {
  std::vector<std::pair<double, int>> events;
  for (const auto& r : records) {
    if (!r.success) continue;
    events.emplace_back(r.start_time, 1);
    events.emplace_back(r.start_time + r.latency, -1);
  }
  std::sort(events.begin(), events.end());  // departures (-1) before arrivals at equal times
  int64_t current = 0, peak = 0;
  for (const auto& e : events)
    peak = std::max(peak, current += e.second);
  return peak;
}

benchmark_metrics calculate_metrics(const std::vector<request_record>& records, double dur_s,
                                    const std::vector<double>& percentiles,
                                    const goodput_config& goodput,
                                    const token_counter& count_tokens) {
  benchmark_metrics m;
  samples s;
  int64_t good = 0;
  std::vector<double> lateness, sends;
  for (const auto& r : records) {
    if (!r.success) {
      m.output_lens.push_back(0);
      ++m.failed;
      continue;
    }
    int32_t output_len = r.output_tokens;
    if (output_len <= 0) output_len = count_tokens ? count_tokens(r.generated_text) : 1;
    m.output_lens.push_back(output_len);
    m.total_input += r.prompt_len;
    double tpot = 0.0;
    if (output_len > 1) {
      tpot = (r.latency - r.ttft) / (output_len - 1);
      s.tpots.push_back(tpot);
    }
    s.all_tpots.push_back(tpot);
    s.itls.insert(s.itls.end(), r.itl.begin(), r.itl.end());
    s.ttfts.push_back(r.ttft);
    s.e2els.push_back(r.latency);
    s.queue_times.push_back(r.client_queue_time);
    if (!goodput.empty() && is_good(goodput, r.ttft, tpot, r.latency)) ++good;
    ++m.completed;
  }
  for (const auto& r : records) {
    sends.push_back(r.start_time);
    lateness.push_back(r.arrival_time - r.scheduled_time);
  }
  for (int32_t n : m.output_lens)
    m.total_output += n;
  m.request_throughput = static_cast<double>(m.completed) / dur_s;
  m.request_goodput = static_cast<double>(good) / dur_s;
  m.output_throughput = static_cast<double>(m.total_output) / dur_s;
  m.total_token_throughput = static_cast<double>(m.total_input + m.total_output) / dur_s;
  m.ttft_ms = summarize(s.ttfts, percentiles, kMs);
  m.tpot_ms = summarize(s.tpots, percentiles, kMs);
  m.itl_ms = summarize(s.itls, percentiles, kMs);
  m.e2el_ms = summarize(s.e2els, percentiles, kMs);
  m.max_output_tokens_per_s = peak_tokens_per_s(records);
  m.max_concurrent_requests = peak_concurrency(records);
  const std::vector<double> lateness_ps = {50.0, 99.0, 100.0};
  m.send_lateness_ms = summarize(lateness, lateness_ps, kMs);
  m.client_queue_time_ms = summarize(s.queue_times, percentiles, kMs);
  m.delays = delays_of(m, records);
  m.client_bottleneck = client_bottlenecks({}, m.delays);
  if (sends.size() > 1) {
    const auto [lo, hi] = std::minmax_element(sends.begin(), sends.end());
    if (*hi > *lo) m.achieved_send_rate = static_cast<double>(sends.size() - 1) / (*hi - *lo);
  }
  return m;
}

}  // namespace troupe::loadgen
