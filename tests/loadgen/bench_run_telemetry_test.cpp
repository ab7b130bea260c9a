// run_benchmark with telemetry, against the mock server (mock_server.hpp): every message of the
// client's actors is counted (the driver: one send_due per release plus one request_finished per
// request; the collector: one record_ready per request; the HTTP client: one start per
// request), the periodic line comes every interval, and a client made slow on purpose is called
// the bottleneck while a fast one is not.
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/arrival_process.hpp"
#include "loadgen/bench_run.hpp"
#include "loadgen/metrics.hpp"
#include "tests/loadgen/mock_server.hpp"

namespace troupe::loadgen {
namespace {

using test_support::mock_server;
constexpr double inf = std::numeric_limits<double>::infinity();

bench_plan make_plan(int port, int64_t n, double rate) {
  bench_plan plan;
  plan.endpoint.port = std::to_string(port);
  plan.body.model = "mock";
  for (int64_t i = 0; i < n; ++i)
    plan.requests.push_back({"req" + std::to_string(i), 2, 3});
  plan.schedule = arrival_schedule({rate, 1.0, "", std::nullopt, std::nullopt, 5}, n);
  plan.telemetry.enabled = true;
  return plan;
}

const actor_kind_figures& kind(const client_telemetry& t, const std::string& name) {
  for (const auto& k : t.kinds)
    if (k.kind == name) return k;
  ADD_FAILURE() << "no kind " << name;
  return t.kinds.front();
}

TEST(bench_telemetry, counts_every_message_of_the_clients_actors) {
  mock_server server(0.002, 0.001, true);
  const int64_t n = 60;
  auto plan = make_plan(server.port(), n, inf);  // one release: a single send_due
  plan.max_concurrency = 8;
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  ASSERT_EQ(server.num_served(), n);
  ASSERT_TRUE(out->telemetry.has_value());
  const auto& t = *out->telemetry;
  EXPECT_DOUBLE_EQ(t.duration_s, out->duration_s);
  ASSERT_EQ(t.kinds.size(), 3u);  // no interval: no monitor
  const auto& driver = kind(t, "driver");
  EXPECT_EQ(driver.num_actors, 1);
  EXPECT_EQ(driver.messages, n + 1);
  EXPECT_EQ(kind(t, "collector").messages, n);
  const auto& io = kind(t, "http_client");
  EXPECT_EQ(io.messages, n);
  EXPECT_TRUE(io.cpu_timed);
  EXPECT_GT(io.busy_s, 0.0);
  // The driver was busy sending, and request_finished messages queued behind the burst.
  EXPECT_GT(driver.busy_s, 0.0);
  EXPECT_GE(driver.mailbox_depth_peak, 1);
  for (const auto& k : t.kinds) {
    EXPECT_GT(k.busy_fraction, 0.0) << k.kind;
    EXPECT_LE(k.busy_fraction, 1.0) << k.kind;
  }
}

TEST(bench_telemetry, driver_messages_follow_the_schedule) {
  mock_server server(0.001, 0.001, true);
  const int64_t n = 40;
  auto out = run_benchmark(make_plan(server.port(), n, 400.0));
  ASSERT_TRUE(out.ok()) << out.message();
  // Every timer's send_due releases at least one request (it never fires early); the first,
  // sent at the start, may release none.
  const auto driver = kind(*out->telemetry, "driver").messages;
  EXPECT_GE(driver, n + 1);
  EXPECT_LE(driver, 2 * n + 1);
  EXPECT_EQ(kind(*out->telemetry, "collector").messages, n);
}

TEST(bench_telemetry, off_measures_nothing) {
  mock_server server(0.001, 0.001, true);
  auto plan = make_plan(server.port(), 5, inf);
  plan.telemetry.enabled = false;
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_FALSE(out->telemetry.has_value());
}

TEST(bench_telemetry, a_line_every_interval) {
  mock_server server(0.001, 0.001, true);
  auto plan = make_plan(server.port(), 60, 150.0);  // about 0.4 s
  plan.telemetry.interval_s = 0.05;
  std::mutex mutex;
  std::vector<std::string> lines;
  plan.telemetry.on_line = [&](const std::string& line) {
    std::lock_guard lock(mutex);
    lines.push_back(line);
  };
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  std::lock_guard lock(mutex);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("troupe bench telemetry [0.", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("/60 done]: driver busy "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("http_client CPU "), std::string::npos) << lines[0];
  EXPECT_NE(lines.back().find("client-side bottleneck: "), std::string::npos);
  const auto& monitor = kind(*out->telemetry, "monitor");
  EXPECT_GE(monitor.messages, static_cast<int64_t>(lines.size()));
}

// The collector (where the progress callback runs) takes 10 ms per record while records
// arrive every 5 ms: it is busy nearly all the run and its mailbox backs up. The server is fast.
TEST(bench_telemetry, a_slow_client_is_called_the_bottleneck) {
  mock_server server(0.001, 0.001, true);
  auto plan = make_plan(server.port(), 50, 200.0);
  plan.on_progress = [](int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  auto out = run_benchmark(plan);
  ASSERT_TRUE(out.ok()) << out.message();
  auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  EXPECT_EQ(m.completed, 50);
  set_client_telemetry(m, out->telemetry);
  ASSERT_FALSE(m.client_bottleneck.empty());
  EXPECT_EQ(m.client_bottleneck[0].rfind("collector busy ", 0), 0u) << m.client_bottleneck[0];
  EXPECT_GT(kind(*out->telemetry, "collector").p99_wait_ms, 10.0);
}

// Busy figures only: on a shared machine a wake-up can still be late now and then.
TEST(bench_telemetry, a_fast_client_is_not_busy) {
  mock_server server(0.001, 0.001, true);
  auto out = run_benchmark(make_plan(server.port(), 50, 200.0));
  ASSERT_TRUE(out.ok()) << out.message();
  auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  set_client_telemetry(m, out->telemetry);
  for (const auto& reason : m.client_bottleneck)
    EXPECT_EQ(reason.find(" busy "), std::string::npos) << reason;
}

}  // namespace
}  // namespace troupe::loadgen
