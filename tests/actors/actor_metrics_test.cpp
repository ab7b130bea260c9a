// The engine's actors are instrumented: under a burst the batcher's mailbox fills (depth and
// peak), and every gauge returns to rest when the burst is over.
#include "actors/engine.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/actors/fakes.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;

telemetry::labels kind(const char* name) {
  if (std::string(name) == "executor") return {{"kind", name}, {"rank", "0"}};
  return {{"kind", name}};
}

// Tokenizing takes a while, as a real tokenizer's does on long prompts.
class slow_tokenizer final : public testing::byte_tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    std::this_thread::sleep_for(100us);
    return testing::byte_tokenizer::encode(text, add_special);
  }
};

// While the one CAF thread works through the burst's request actors (tokenizing), the batcher,
// woken by a step's result, waits behind them in the scheduler's queue, and their submissions
// pile up in its mailbox.
TEST(ActorMetrics, BatcherMailboxFillsUnderABurstAndDrains) {
  runtime::engine_config config;
  config.served_model_name = "fake";
  config.num_actor_threads = 1;
  testing::fake_runner_options options;
  options.num_kv_blocks = 1024;
  options.step_sleep = 2ms;  // a slow model: submissions pile up while a step runs
  auto probe = std::make_shared<testing::fake_runner_probe>();
  auto started = start_engine(config, std::make_shared<slow_tokenizer>(),
                              std::make_unique<testing::fake_runner>(options, probe), 256);
  ASSERT_TRUE(started.ok()) << started.message();
  auto& eng = **started;
  const auto& metrics = eng.metrics();
  auto depth = [&](const char* k) { return *metrics.value("troupe_actor_mailbox_depth", kind(k)); };

  constexpr int n = 200;
  std::vector<std::shared_ptr<testing::collecting_sink>> sinks;
  for (int i = 0; i < n; ++i) {
    generation_request request;
    request.prompt = "burst " + std::to_string(i);
    request.max_tokens = 4;
    sinks.push_back(std::make_shared<testing::collecting_sink>());
    eng.submit(std::move(request), sinks.back());
  }
  double max_seen = 0;
  for (auto& sink : sinks) {
    while (!sink->wait_finished(1ms))
      max_seen = std::max(max_seen, depth("batcher"));
  }
  // 200 submissions arrived faster than one CAF thread let the batcher take them.
  EXPECT_GE(*metrics.value("troupe_actor_mailbox_depth_peak", kind("batcher")), 20.0);
  EXPECT_GE(max_seen, 1.0);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         (eng.stats().num_live_requests > 0 || depth("batcher") > 0 || depth("kv_allocator") > 0 ||
          depth("executor") > 0 ||  // the release_sequences sent when the batcher went idle
          *metrics.value("troupe_actors_running", kind("request")) > 0)) {
    std::this_thread::sleep_for(2ms);
  }
  for (const char* k : {"request", "batcher", "kv_allocator", "executor"})
    EXPECT_EQ(depth(k), 0.0) << k;
  EXPECT_EQ(*metrics.value("troupe_actors_running", kind("request")), 0.0);
  EXPECT_EQ(*metrics.value("troupe_actors_running", kind("batcher")), 1.0);
  // Each request actor handled at least its tokens' deltas; the batcher at least every submit.
  EXPECT_GE(*metrics.value("troupe_actor_messages_total", kind("request")), n);
  EXPECT_GE(*metrics.value("troupe_actor_messages_total", kind("batcher")), n);
  // The executor handled one message per step, and a release_sequences each time the batcher
  // went idle after one.
  const double executor_messages = *metrics.value("troupe_actor_messages_total", kind("executor"));
  EXPECT_GE(executor_messages, probe->num_steps.load());
  EXPECT_LE(executor_messages, 2 * probe->num_steps.load());
  // Waits are timed for messages with at most 256 ahead of them (all here but in a pathological
  // schedule).
  const auto waits = metrics.histogram_value("troupe_actor_mailbox_wait_seconds", kind("batcher"));
  EXPECT_GT(waits->count, 0u);
  EXPECT_LE(waits->count, *metrics.value("troupe_actor_messages_total", kind("batcher")));
  // The executor was busy at least as long as the model slept.
  EXPECT_GE(*metrics.value("troupe_actor_busy_seconds_total", kind("executor")),
            0.002 * probe->num_steps.load());
}

}  // namespace
}  // namespace troupe::actors
