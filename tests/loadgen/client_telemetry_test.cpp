// The client's own telemetry, pure parts: bucketed quantiles, interval figures from cumulative
// samples, and the rule that calls the client the bottleneck, on synthetic inputs.
#include "loadgen/client_telemetry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::loadgen {
namespace {

// Buckets <= 1, <= 2, <= 4, +Inf. (Counts as arguments: GCC 12.2 with -march=native on an
// AVX-512 machine builds std::vector<uint64_t>{10, 10, 0, 0} as {10, 10, 10, 10}.)
telemetry::histogram_snapshot hist(uint64_t le1, uint64_t le2, uint64_t le4, uint64_t above,
                                   double sum) {
  telemetry::histogram_snapshot h;
  h.bounds = {1.0, 2.0, 4.0};
  for (uint64_t c : {le1, le2, le4, above})
    h.counts.push_back(c);
  h.count = le1 + le2 + le4 + above;
  h.sum = sum;
  return h;
}

TEST(histogram_quantile, interpolates_within_the_bucket) {
  // 10 in (0, 1], 10 in (1, 2]: rank 0.5 x 20 = 10 ends the first bucket, rank 15 is halfway
  // through the second.
  const auto h = hist(10, 10, 0, 0, 25.0);
  EXPECT_DOUBLE_EQ(histogram_quantile(h, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(histogram_quantile(h, 0.75), 1.5);
  EXPECT_DOUBLE_EQ(histogram_quantile(h, 0.25), 0.5);  // the first bucket starts at 0
  EXPECT_DOUBLE_EQ(histogram_quantile(h, 1.0), 2.0);
}

TEST(histogram_quantile, empty_buckets_and_infinity) {
  EXPECT_DOUBLE_EQ(histogram_quantile(hist(0, 0, 0, 0, 0.0), 0.99), 0.0);
  // 99 in (2, 4]; rank 0.99 x 100 = 99 is its end (empty buckets before it are skipped).
  EXPECT_DOUBLE_EQ(histogram_quantile(hist(0, 0, 99, 1, 300.0), 0.99), 4.0);
  EXPECT_DOUBLE_EQ(histogram_quantile(hist(0, 0, 0, 5, 50.0), 0.5), 4.0);  // +Inf: top bound
}

kind_counters counters(const std::string& kind, double messages, double busy_s,
                       telemetry::histogram_snapshot wait, int64_t num_actors = 1) {
  kind_counters k;
  k.spec = {kind, num_actors, kind == "http_client"};
  k.messages = messages;
  k.mailbox_depth_peak = 7;
  k.wait = std::move(wait);
  k.busy_s = busy_s;
  return k;
}

TEST(figures_between, takes_the_interval_from_cumulative_samples) {
  telemetry_sample a{10.0,
                     {counters("driver", 100, 1.0, hist(100, 0, 0, 0, 0.05)),
                      counters("http_client", 50, 4.0, hist(50, 0, 0, 0, 0.01), 2)}};
  // In the next 5 s: 20 driver messages, 10 of them waiting (1, 2] s; 2 s busy. The io
  // threads (2): 5 s of CPU.
  telemetry_sample b{15.0,
                     {counters("driver", 120, 3.0, hist(110, 10, 0, 0, 15.05)),
                      counters("http_client", 60, 9.0, hist(60, 0, 0, 0, 0.02), 2)}};
  const auto f = figures_between(a, b);
  EXPECT_DOUBLE_EQ(f.duration_s, 5.0);
  ASSERT_EQ(f.kinds.size(), 2u);
  const auto& driver = f.kinds[0];
  EXPECT_EQ(driver.kind, "driver");
  EXPECT_EQ(driver.messages, 20);
  EXPECT_EQ(driver.mailbox_depth_peak, 7);
  EXPECT_DOUBLE_EQ(driver.mean_wait_ms, 1e3 * 15.0 / 20);
  EXPECT_DOUBLE_EQ(driver.p99_wait_ms, 1e3 * (1.0 + (0.99 * 20 - 10) / 10));
  EXPECT_DOUBLE_EQ(driver.busy_fraction, 2.0 / 5.0);
  const auto& io = f.kinds[1];
  EXPECT_TRUE(io.cpu_timed);
  EXPECT_DOUBLE_EQ(io.busy_s, 5.0);
  EXPECT_DOUBLE_EQ(io.busy_fraction, 5.0 / (5.0 * 2));  // per thread

  const auto whole = figures_between({}, b);  // from the start of the run
  EXPECT_EQ(whole.kinds[0].messages, 120);
  EXPECT_DOUBLE_EQ(whole.kinds[0].busy_fraction, 3.0 / 15.0);
  EXPECT_EQ(messages_of(b, "driver"), 120);
  EXPECT_EQ(messages_of(b, "nobody"), 0);
}

actor_kind_figures figures(const std::string& kind, double busy, double p99_ms) {
  actor_kind_figures f;
  f.kind = kind;
  f.num_actors = 1;
  f.busy_fraction = busy;
  f.p99_wait_ms = p99_ms;
  f.cpu_timed = kind == "http_client";
  f.delays_requests = kind == "http_client" || kind == "driver";
  return f;
}

client_delays delays(std::optional<double> lateness_ms, double gap_ms,
                     std::optional<double> ttft_ms) {
  return {lateness_ms, gap_ms, ttft_ms};
}

TEST(client_bottlenecks, a_client_that_keeps_up_is_none) {
  // Every figure at its limit: busy 80%, lateness 10 ms (the floor), waits 10% of TTFT.
  const std::vector<actor_kind_figures> calm = {figures("driver", 0.05, 10.0),
                                                figures("collector", 0.8, 500.0),
                                                figures("http_client", 0.3, 1.0)};
  EXPECT_TRUE(client_bottlenecks(calm, delays(10.0, 0.0, 100.0)).empty());
  EXPECT_TRUE(client_bottlenecks({}, {}).empty());
  EXPECT_EQ(bottleneck_statement({}), "client-side bottleneck: none");
}

TEST(client_bottlenecks, a_saturated_kind) {
  EXPECT_EQ(client_bottlenecks({figures("driver", 0.93, 0.1)}, {}),
            std::vector<std::string>{"driver busy 93% (limit 80%)"});
  EXPECT_EQ(client_bottlenecks({figures("http_client", 0.85, 0.1)}, {}),
            std::vector<std::string>{"http_client CPU busy 85% (limit 80%)"});
  EXPECT_EQ(client_bottlenecks({figures("collector", 0.81, 0.1)}, {}).size(), 1u);
}

TEST(client_bottlenecks, late_sends_against_the_send_gap) {
  EXPECT_EQ(client_bottlenecks({}, delays(10.01, 0.0, std::nullopt)),
            std::vector<std::string>{"send lateness p99 10.01 ms (limit 10.00 ms)"});
  // At 4 req/s (a 250 ms gap) 200 ms late is jitter; 300 ms is more than a gap.
  EXPECT_TRUE(client_bottlenecks({}, delays(200.0, 250.0, std::nullopt)).empty());
  EXPECT_EQ(client_bottlenecks({}, delays(300.0, 250.0, std::nullopt)),
            std::vector<std::string>{"send lateness p99 300.00 ms (limit 250.00 ms)"});
}

TEST(client_bottlenecks, waits_against_the_ttft) {
  // Median TTFT 50 ms: a request-delaying wait may reach 5 ms.
  EXPECT_EQ(client_bottlenecks({figures("http_client", 0.1, 6.0)}, delays(0.1, 0, 50.0)),
            std::vector<std::string>{"http_client mailbox wait p99 6.00 ms (limit 5.00 ms)"});
  EXPECT_EQ(client_bottlenecks({figures("driver", 0.1, 6.0)}, delays(0.1, 0, 50.0)).size(), 1u);
  // The collector's waits delay no request: not judged.
  EXPECT_TRUE(client_bottlenecks({figures("collector", 0.1, 600.0)}, delays(0.1, 0, 50.0)).empty());
  // A 2 ms TTFT: the 1 ms floor holds.
  EXPECT_EQ(client_bottlenecks({figures("http_client", 0.1, 1.5)}, delays(0.1, 0, 2.0)),
            std::vector<std::string>{"http_client mailbox wait p99 1.50 ms (limit 1.00 ms)"});
  // No TTFT (nothing completed, or the periodic line): not judged.
  EXPECT_TRUE(client_bottlenecks({figures("http_client", 0.1, 600.0)}, {}).empty());
}

TEST(client_bottlenecks, every_reason_in_one_statement) {
  const auto all = client_bottlenecks({figures("driver", 0.9, 20.0)}, delays(30.0, 1.0, 10.0));
  EXPECT_EQ(bottleneck_statement(all),
            "client-side bottleneck: driver busy 90% (limit 80%); send lateness p99 30.00 ms "
            "(limit 10.00 ms); driver mailbox wait p99 20.00 ms (limit 1.00 ms)");
}

TEST(client_bottlenecks, limits_are_parameters) {
  bottleneck_limits strict;
  strict.busy_fraction = 0.5;
  strict.lateness_floor_ms = 0.5;
  strict.wait_floor_ms = 0.1;
  strict.wait_share_of_ttft = 0.01;
  EXPECT_EQ(
      client_bottlenecks({figures("driver", 0.6, 2.0)}, delays(1.0, 0.0, 100.0), strict).size(),
      3u);
  EXPECT_TRUE(client_bottlenecks({figures("driver", 0.6, 2.0)}, delays(1.0, 0.0, 100.0)).empty());
}

TEST(format_telemetry_line, names_every_kind_and_the_verdict) {
  client_telemetry t;
  t.duration_s = 10;
  t.kinds = {figures("driver", 0.021, 0.03), figures("http_client", 0.95, 0.12)};
  EXPECT_EQ(format_telemetry_line(t, 20.0, 812, 1000),
            "troupe bench telemetry [20.0 s, 812/1000 done]: driver busy 2.1% wait p99 0.03 ms; "
            "http_client CPU 95.0% wait p99 0.12 ms; client-side bottleneck: http_client CPU "
            "busy 95% (limit 80%)");
}

}  // namespace
}  // namespace troupe::loadgen
