// The actor system against the mock server (mock_server.hpp): a raw-socket HTTP server streaming
// tokens at programmed times (TTFT, then one token every ITL), counting connections in flight.
// Measured ITL / TPOT must match the programme, TTFT / E2EL the mock's send times, within 1 ms
// (or 1%); max-concurrency is never exceeded as the server sees it; the achieved send rate
// matches the schedule.
#include "loadgen/bench_run.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/arrival_process.hpp"
#include "loadgen/metrics.hpp"
#include "loadgen/stats.hpp"
#include "tests/loadgen/mock_server.hpp"

namespace troupe::loadgen {
namespace {

using clock_type = std::chrono::steady_clock;
using test_support::mock_server;

bench_plan make_plan(int port, int64_t n, double rate, int32_t output_len) {
  bench_plan plan;
  plan.endpoint.port = std::to_string(port);
  plan.body.model = "mock";
  for (int64_t i = 0; i < n; ++i)
    plan.requests.push_back({"req" + std::to_string(i), 2, output_len});
  plan.schedule = arrival_schedule({rate, 1.0, "", std::nullopt, std::nullopt, 11}, n);
  return plan;
}

void expect_close(double measured, double truth, const char* what) {
  EXPECT_NEAR(measured, truth, std::max(1e-3, 0.01 * truth)) << what;
}

void check_latencies_at(double rate, int64_t n) {
  const double ttft = 0.020, itl = 0.005;
  const int32_t tokens = 5;
  mock_server server(ttft, itl);
  auto out = run_benchmark(make_plan(server.port(), n, rate, tokens));
  ASSERT_TRUE(out.ok()) << out.message();
  ASSERT_EQ(out->records.size(), static_cast<size_t>(n));
  const auto m = calculate_metrics(out->records, out->duration_s, {50.0}, {}, {});
  ASSERT_EQ(m.completed, n) << out->records[0].error;
  EXPECT_EQ(m.total_output, n * tokens);
  // Medians: robust to the odd scheduler hiccup on a shared 2-core machine.
  // TTFT and E2EL against when the server sent the first and last chunk, measured from the
  // client's send: the programme counts from the request's arrival at the mock, after connect,
  // accept and thread start, which on an idle VM take milliseconds of wake-ups.
  const auto sent = server.sent();
  std::vector<double> true_ttft, true_e2el;
  for (size_t i = 0; i < out->records.size(); ++i) {
    const auto it = sent.find(static_cast<int>(i));
    ASSERT_NE(it, sent.end()) << i;
    const auto start = out->epoch + std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(out->records[i].start_time));
    true_ttft.push_back(std::chrono::duration<double>(it->second.first - start).count());
    true_e2el.push_back(std::chrono::duration<double>(it->second.last - start).count());
  }
  expect_close(m.ttft_ms.median / 1000, median_of(true_ttft), "TTFT");
  expect_close(m.itl_ms.median / 1000, itl, "ITL");
  expect_close(m.tpot_ms.median / 1000, itl, "TPOT");
  expect_close(m.e2el_ms.median / 1000, median_of(true_e2el), "E2EL");
  EXPECT_GE(m.ttft_ms.median / 1000, ttft);  // and the truth follows the programme
  EXPECT_LT(m.ttft_ms.median / 1000, ttft + 0.010);
  if (n > 1) {  // sends follow the schedule: within 0.5% plus 10 ms of endpoint jitter
    const double span = out->records.back().scheduled_time - out->records.front().scheduled_time;
    const double scheduled = static_cast<double>(n - 1) / span;
    EXPECT_NEAR(m.achieved_send_rate, scheduled, (0.005 + 0.010 / span) * scheduled);
  }
}

TEST(run_benchmark, measures_programmed_latencies_at_1_rps) {
  check_latencies_at(1.0, 3);
}

TEST(run_benchmark, measures_programmed_latencies_at_100_rps) {
  check_latencies_at(100.0, 200);
}

TEST(run_benchmark, measures_programmed_latencies_at_1000_rps) {
  check_latencies_at(1000.0, 1000);
}

TEST(run_benchmark, max_concurrency_is_never_exceeded_server_side) {
  mock_server server(0.010, 0.002);
  auto plan = make_plan(server.port(), 40, std::numeric_limits<double>::infinity(), 3);
  plan.max_concurrency = 4;
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(server.num_served(), 40);
  EXPECT_LE(server.max_in_flight(), 4);
  EXPECT_GE(server.max_in_flight(), 2);
  const auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  EXPECT_EQ(m.completed, 40);
  EXPECT_GT(m.client_queue_time_ms.percentiles[0].second, 10.0);  // the queue was felt
  EXPECT_EQ(out->num_connections, 40);  // the mock says "Connection: close"
  EXPECT_EQ(server.num_connections(), 40);
}

TEST(run_benchmark, kept_alive_connections_are_reused) {
  mock_server server(0.002, 0.001, true);
  auto plan = make_plan(server.port(), 30, std::numeric_limits<double>::infinity(), 3);
  plan.max_concurrency = 3;
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  const auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  EXPECT_EQ(m.completed, 30) << out->records[0].error;
  EXPECT_EQ(m.total_output, 90);
  EXPECT_EQ(server.num_served(), 30);
  EXPECT_LE(server.num_connections(), 3);
  EXPECT_EQ(out->num_connections, server.num_connections());
  // 2 ms + 2 x 1 ms programmed; Nagle on the mock's side would hold chunks on a reused
  // connection for the client's delayed ACK (~40 ms) unless the client ACKs at once.
  EXPECT_LT(m.e2el_ms.median, 20.0);
}

TEST(run_benchmark, a_kept_alive_connection_closed_by_the_server_is_retried) {
  mock_server server(0.002, 0.001, true, true);  // says keep-alive, closes anyway
  auto plan = make_plan(server.port(), 12, std::numeric_limits<double>::infinity(), 2);
  plan.max_concurrency = 2;
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  for (const auto& r : out->records)
    EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(server.num_served(), 12);
  EXPECT_EQ(server.num_connections(), 12);
}

TEST(run_benchmark, achieved_send_rate_matches_schedule) {
  mock_server server(0.001, 0.001);
  const double rate = 200.0;
  auto out = run_benchmark(make_plan(server.port(), 400, rate, 1));
  ASSERT_TRUE(out.ok());
  const auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  EXPECT_EQ(m.completed, 400);
  // Sends keep to the schedule; one late wake-up of the sender thread on a loaded 2-core
  // machine (a CI build beside the test) may cost tens of milliseconds, so the 99th percentile
  // is held to 20 ms and the worst to 100 ms.
  std::vector<double> lateness;
  for (const auto& r : out->records)
    lateness.push_back(r.start_time - r.scheduled_time);
  std::sort(lateness.begin(), lateness.end());
  EXPECT_LT(lateness[lateness.size() * 99 / 100], 0.020);
  EXPECT_LT(lateness.back(), 0.100);
  const auto& first = out->records.front();
  const auto& last = out->records.back();
  const double configured = 399.0 / (last.scheduled_time - first.scheduled_time);
  EXPECT_NEAR(m.achieved_send_rate, configured, 0.005 * configured);
}

// The acceptance run: 10,000 requests at 1,000 req/s on loopback (about 10 s, so not
// part of the default suite: --gtest_also_run_disabled_tests).
TEST(run_benchmark, DISABLED_achieved_rate_over_10000_requests_at_1000_rps) {
  mock_server server(0.002, 0.001);
  auto out = run_benchmark(make_plan(server.port(), 10000, 1000.0, 2));
  ASSERT_TRUE(out.ok());
  const auto m = calculate_metrics(out->records, out->duration_s, {50.0, 99.0}, {}, {});
  EXPECT_EQ(m.completed, 10000);
  const double span = out->records.back().scheduled_time - out->records.front().scheduled_time;
  const double scheduled = 9999.0 / span;
  EXPECT_NEAR(m.achieved_send_rate, scheduled, 0.005 * scheduled);
  std::printf(
      "achieved %.2f req/s vs scheduled %.2f; send lateness p50 %.3f ms p99 %.3f ms "
      "max %.3f ms; median TTFT %.3f ms ITL %.3f ms\n",
      m.achieved_send_rate, scheduled, m.send_lateness_ms.percentiles[0].second,
      m.send_lateness_ms.percentiles[1].second, m.send_lateness_ms.percentiles[2].second,
      m.ttft_ms.median, m.itl_ms.median);
}

TEST(run_benchmark, unreachable_server_gives_failed_records) {
  auto plan = make_plan(1, 2, std::numeric_limits<double>::infinity(), 1);
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok());
  for (const auto& r : out->records) {
    EXPECT_FALSE(r.success);
    EXPECT_NE(r.error.find("connect"), std::string::npos) << r.error;
  }
}

}  // namespace
}  // namespace troupe::loadgen
