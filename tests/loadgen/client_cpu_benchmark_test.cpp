// The client-cost benchmark of issue 4 (not part of the default suite; run it with
// tools/bench_client_cpu.sh): 1,000 req/s against the mock server running in a forked child
// process, so this process's getrusage is the load generator's alone. Prints send lateness
// p50 / p99 / max and client CPU time per streamed token. The default-suite test below only
// checks that the measurement is taken.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "loadgen/arrival_process.hpp"
#include "loadgen/bench_run.hpp"
#include "loadgen/metrics.hpp"
#include "tests/loadgen/mock_server.hpp"

namespace troupe::loadgen {
namespace {

// The mock server in a child process; the child exits when the parent closes the pipe.
class forked_mock_server {
 public:
  forked_mock_server(double ttft_s, double itl_s, bool keep_alive = false) {
    int to_parent[2], to_child[2];
    if (::pipe(to_parent) != 0 || ::pipe(to_child) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_parent[0]), ::close(to_child[1]);
      test_support::mock_server server(ttft_s, itl_s, keep_alive);
      const int port = server.port();
      if (::write(to_parent[1], &port, sizeof port) != sizeof port) ::_exit(1);
      char byte;
      while (::read(to_child[0], &byte, 1) > 0) {
      }
      ::_exit(0);  // skip the server's orderly shutdown: the process goes away anyway
    }
    ::close(to_parent[1]), ::close(to_child[0]);
    control_ = to_child[1];
    if (::read(to_parent[0], &port_, sizeof port_) != sizeof port_) port_ = 0;
    ::close(to_parent[0]);
  }
  ~forked_mock_server() {
    if (control_ >= 0) ::close(control_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int control_ = -1;
  int port_ = 0;
};

int64_t env_or(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : fallback;
}

bench_plan make_plan(int port, int64_t n, double rate, int32_t output_len) {
  bench_plan plan;
  plan.endpoint.port = std::to_string(port);
  plan.body.model = "mock";
  for (int64_t i = 0; i < n; ++i)
    plan.requests.push_back({"w1 w2", 2, output_len});
  plan.schedule = arrival_schedule({rate, 1.0, "", std::nullopt, std::nullopt, 3}, n);
  return plan;
}

TEST(client_cpu, is_measured_per_run) {
  forked_mock_server server(0.002, 0.001);
  ASSERT_GT(server.port(), 0);
  auto out = run_benchmark(make_plan(server.port(), 200, 400.0, 8));
  ASSERT_TRUE(out.ok()) << out.message();
  auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  EXPECT_EQ(m.completed, 200);
  set_client_cpu(m, out->client_cpu_s);
  EXPECT_GT(m.client_cpu_s, 0.0);
  EXPECT_LT(m.client_cpu_s, out->duration_s * 8);  // a process on a handful of threads
  EXPECT_NEAR(m.client_cpu_us_per_token, out->client_cpu_s * 1e6 / 1600, 1e-6);
}

// TROUPE_BENCH_RATE (default 1000), TROUPE_BENCH_REQUESTS (10000), TROUPE_BENCH_TOKENS (16),
// TROUPE_BENCH_KEEP_ALIVE (1: the mock keeps connections open, as vLLM does; 0: it closes).
TEST(client_cpu, DISABLED_benchmark_at_1000_rps) {
  const double rate = static_cast<double>(env_or("TROUPE_BENCH_RATE", 1000));
  const int64_t n = env_or("TROUPE_BENCH_REQUESTS", 10000);
  const auto tokens = static_cast<int32_t>(env_or("TROUPE_BENCH_TOKENS", 16));
  const bool keep_alive = env_or("TROUPE_BENCH_KEEP_ALIVE", 1) != 0;
  forked_mock_server server(0.002, 0.001, keep_alive);
  ASSERT_GT(server.port(), 0);
  auto out = run_benchmark(make_plan(server.port(), n, rate, tokens));
  ASSERT_TRUE(out.ok()) << out.message();
  auto m = calculate_metrics(out->records, out->duration_s, {50.0, 99.0}, {}, {});
  set_client_cpu(m, out->client_cpu_s);
  EXPECT_EQ(m.completed, n);
  const auto& late = m.send_lateness_ms.percentiles;
  std::printf(
      "client_cpu_benchmark: %lld requests x %d tokens at %.0f req/s, keep-alive %s (%lld "
      "connections): achieved send rate %.2f req/s; send lateness p50 %.3f ms p99 %.3f ms max "
      "%.3f ms; client CPU %.3f s = %.2f us per streamed token (%.1f us per request); duration "
      "%.2f s\n",
      static_cast<long long>(n), tokens, rate, keep_alive ? "on" : "off",
      static_cast<long long>(out->num_connections), m.achieved_send_rate, late[0].second,
      late[1].second, late[2].second, m.client_cpu_s, m.client_cpu_us_per_token,
      m.client_cpu_s * 1e6 / static_cast<double>(n), out->duration_s);
}

}  // namespace
}  // namespace troupe::loadgen
