// What the engine logs: vLLM's periodic stats line (from the stats logger actor's timer) and,
// with --enable-log-requests, one line per request lifecycle event.
#include "actors/engine.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/actors/fakes.hpp"
#include "tests/support/captured_log.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;

using troupe::testing::captured_log;

std::unique_ptr<engine> start(const runtime::engine_config& config,
                              std::chrono::microseconds step_sleep) {
  testing::fake_runner_options options;
  options.step_sleep = step_sleep;
  auto started = start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                              std::make_unique<testing::fake_runner>(
                                  options, std::make_shared<testing::fake_runner_probe>()),
                              256);
  EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.message());
  return started.ok() ? std::move(*started) : nullptr;
}

std::shared_ptr<testing::collecting_sink> submit(engine& eng, std::string prompt,
                                                 int32_t max_tokens) {
  generation_request request;
  request.request_id = "cmpl-test-0";
  request.prompt = std::move(prompt);
  request.max_tokens = max_tokens;
  auto sink = std::make_shared<testing::collecting_sink>();
  eng.submit(std::move(request), sink);
  return sink;
}

TEST(EngineLogging, PeriodicStatsLineWhileBusyThenQuiet) {
  captured_log log;
  runtime::engine_config config;
  config.served_model_name = "fake";
  config.log_stats_interval = 0.05;
  auto eng = start(config, 2ms);
  ASSERT_TRUE(eng);
  auto sink = submit(*eng, "hello there", 60);  // about 120 ms of steps
  ASSERT_TRUE(sink->wait_finished());
  std::this_thread::sleep_for(400ms);  // several idle intervals
  const auto info = log.lines_with("info Engine 000: Avg prompt throughput: ");
  ASSERT_GE(info.size(), 2u);
  bool generating = false;
  for (const auto& line : info) {
    if (line.find("Avg generation throughput: 0.0 tokens/s") == std::string::npos)
      generating = true;
  }
  EXPECT_TRUE(generating);
  EXPECT_NE(info.back().find("Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, "
                             "Waiting: 0 reqs, GPU KV cache usage: 0.0%"),
            std::string::npos)
      << info.back();
  // Idle: exactly one info line with zero throughput, then debug lines only.
  size_t zero_info = 0;
  for (const auto& line : info) {
    if (line.find("Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0") !=
        std::string::npos)
      ++zero_info;
  }
  EXPECT_EQ(zero_info, 1u);
  EXPECT_GE(log.lines_with("debug Engine 000: Avg prompt throughput: 0.0").size(), 3u);
}

TEST(EngineLogging, NoStatsLineWithDisableLogStats) {
  captured_log log;
  runtime::engine_config config;
  config.served_model_name = "fake";
  config.log_stats_interval = 0.02;
  config.disable_log_stats = true;
  auto eng = start(config, 0us);
  ASSERT_TRUE(eng);
  ASSERT_TRUE(submit(*eng, "hello", 4)->wait_finished());
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(log.lines_with("Avg prompt throughput").empty());
}

TEST(EngineLogging, EnableLogRequestsWritesEveryLifecycleEvent) {
  captured_log log;
  runtime::engine_config config;
  config.served_model_name = "fake";
  config.enable_log_requests = true;
  auto eng = start(config, 0us);
  ASSERT_TRUE(eng);
  ASSERT_TRUE(submit(*eng, "hello", 4)->wait_finished());
  const auto lines = log.lines_with("info request id=1 ");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("info request id=1 event=received request_id=cmpl-test-0 "
                           "prompt_tokens=5 max_tokens=4 n=1 ",
                           0),
            0u)
      << lines[0];
  EXPECT_EQ(lines[1], "info request id=1 event=queued waiting=1");
  EXPECT_EQ(lines[2], "info request id=1 event=scheduled cached_tokens=0");
  EXPECT_EQ(lines[3].rfind("info request id=1 event=first_token ttft_s=", 0), 0u);
  EXPECT_EQ(lines[4].rfind("info request id=1 event=finished request_id=cmpl-test-0 "
                           "finish_reason=length prompt_tokens=5 output_tokens=4 "
                           "cached_tokens=0 queue_s=",
                           0),
            0u)
      << lines[4];
  EXPECT_NE(lines[4].find(" e2e_s="), std::string::npos);
  // A bad request: one "failed" line with the reason quoted.
  ASSERT_TRUE(submit(*eng, std::string(300, 'x'), 4)->wait_finished());
  const auto failed = log.lines_with("event=failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].find("status=400 error=\"This model's maximum context length"),
            std::string::npos)
      << failed[0];
}

TEST(EngineLogging, RequestLinesAreOffByDefaultAndWithDisableLogRequests) {
  captured_log log;
  runtime::engine_config config;
  config.served_model_name = "fake";
  auto eng = start(config, 0us);
  ASSERT_TRUE(eng);
  ASSERT_TRUE(submit(*eng, "hello", 4)->wait_finished());
  config.enable_log_requests = true;
  config.disable_log_requests = true;  // vLLM's deprecated flag wins
  auto quiet = start(config, 0us);
  ASSERT_TRUE(quiet);
  ASSERT_TRUE(submit(*quiet, "hello", 4)->wait_finished());
  EXPECT_TRUE(log.lines_with("request id=").empty());
}

}  // namespace
}  // namespace troupe::actors
