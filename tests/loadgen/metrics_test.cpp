// calculate_metrics on hand-made records, checked against values worked out by hand (and with
// numpy's conventions: population std, linear-interpolated percentiles).
#include "loadgen/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace troupe::loadgen {
namespace {

request_record make(double start, double ttft, std::vector<double> itl, int32_t out,
                    int32_t prompt) {
  request_record r;
  r.success = true;
  r.start_time = r.arrival_time = r.scheduled_time = start;
  r.ttft = ttft;
  r.itl = std::move(itl);
  r.latency = ttft;
  for (double g : r.itl)
    r.latency += g;
  r.output_tokens = out;
  r.prompt_len = prompt;
  return r;
}

TEST(stats, match_numpy_conventions) {
  const std::vector<double> xs = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(mean_of(xs), 2.5);
  EXPECT_DOUBLE_EQ(median_of(xs), 2.5);
  EXPECT_DOUBLE_EQ(std_of(xs), std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(percentile_of(xs, 99), 3.97);  // rank 2.97 between 3 and 4
  EXPECT_DOUBLE_EQ(percentile_of(xs, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile_of({}, 50), 0.0);  // benchmark_serving's `xs or 0`
}

TEST(calculate_metrics, ttft_tpot_itl_e2el_and_throughput) {
  std::vector<request_record> rs = {make(0.0, 0.1, {0.02, 0.04}, 3, 10),
                                    make(1.0, 0.3, {0.05}, 2, 20)};
  request_record failed;
  failed.error = "boom";
  rs.push_back(failed);
  const auto m = calculate_metrics(rs, 2.0, {50.0, 99.0}, {}, {});
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input, 30);
  EXPECT_EQ(m.total_output, 5);
  EXPECT_EQ(m.output_lens, (std::vector<int32_t>{3, 2, 0}));
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(m.output_throughput, 2.5);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 17.5);
  EXPECT_NEAR(m.ttft_ms.mean, 200.0, 1e-9);
  // TPOT: (0.16 - 0.1) / 2 = 0.03 and (0.35 - 0.3) / 1 = 0.05.
  EXPECT_NEAR(m.tpot_ms.mean, 40.0, 1e-9);
  EXPECT_NEAR(m.tpot_ms.std, 10.0, 1e-9);
  // ITL pooled: 0.02, 0.04, 0.05 -> median 40 ms, p99 rank 1.98.
  EXPECT_NEAR(m.itl_ms.median, 40.0, 1e-9);
  EXPECT_NEAR(m.itl_ms.percentiles[1].second, 49.8, 1e-9);
  EXPECT_NEAR(m.e2el_ms.mean, (160.0 + 350.0) / 2, 1e-9);
  EXPECT_EQ(m.max_concurrent_requests, 1);
  EXPECT_DOUBLE_EQ(m.max_output_tokens_per_s, 3.0);
}

TEST(calculate_metrics, goodput_counts_requests_meeting_every_slo) {
  std::vector<request_record> rs = {make(0, 0.1, {0.01}, 2, 1), make(0, 0.5, {0.01}, 2, 1),
                                    make(0, 0.1, {0.2}, 2, 1)};
  const auto m = calculate_metrics(rs, 1.0, {99.0}, {{"ttft", 200.0}, {"tpot", 50.0}}, {});
  EXPECT_DOUBLE_EQ(m.request_goodput, 1.0);
  const auto loose = calculate_metrics(rs, 1.0, {99.0}, {{"e2el", 1000.0}}, {});
  EXPECT_DOUBLE_EQ(loose.request_goodput, 3.0);
}

TEST(calculate_metrics, retokenizes_without_usage_and_single_token_has_no_tpot) {
  auto r = make(0, 0.1, {}, 0, 4);
  r.generated_text = "a b c";
  const auto m = calculate_metrics({r}, 1.0, {99.0}, {}, [](const std::string& s) {
    return static_cast<int32_t>((s.size() + 1) / 2);
  });
  EXPECT_EQ(m.total_output, 3);
  const auto one = calculate_metrics({make(0, 0.1, {}, 1, 4)}, 1.0, {99.0}, {}, {});
  EXPECT_DOUBLE_EQ(one.tpot_ms.mean, 0.0);
  EXPECT_EQ(one.total_output, 1);
}

TEST(peak_concurrency, counts_overlaps_half_open) {
  std::vector<request_record> rs = {make(0, 1.0, {}, 1, 1), make(0.5, 1.0, {}, 1, 1),
                                    make(1.0, 1.0, {}, 1, 1), make(0.9, 0.05, {}, 1, 1)};
  EXPECT_EQ(peak_concurrency(rs), 3);
}

TEST(calculate_metrics, send_lateness_and_queue_time_are_separate) {
  auto a = make(1.0, 0.1, {}, 1, 1);
  a.scheduled_time = 0.99;
  a.arrival_time = 0.995;
  a.client_queue_time = a.start_time - a.arrival_time;
  const auto m = calculate_metrics({a}, 1.0, {99.0}, {}, {});
  EXPECT_NEAR(m.send_lateness_ms.percentiles[2].second, 5.0, 1e-9);
  EXPECT_NEAR(m.client_queue_time_ms.mean, 5.0, 1e-9);
}

}  // namespace
}  // namespace troupe::loadgen
