#include "actors/engine.hpp"

#include <gtest/gtest.h>

#include <mutex>

#include <spdlog/spdlog.h>

#include "tests/actors/fakes.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
using testing::collecting_sink;
using testing::fake_generate;
using testing::fake_runner_options;
using testing::fake_text;

struct engine_fixture {
  explicit engine_fixture(runtime::engine_config config = default_config(),
                          fake_runner_options options = {}, int32_t model_max_len = 256) {
    probe = std::make_shared<testing::fake_runner_probe>();
    auto started =
        start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                     std::make_unique<testing::fake_runner>(options, probe), model_max_len);
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.message());
    if (started.ok()) eng = std::move(started.value());
  }

  static runtime::engine_config default_config() {
    runtime::engine_config config;
    config.served_model_name = "fake";
    config.disable_log_requests = true;
    return config;
  }

  std::shared_ptr<collecting_sink> submit(std::string prompt, int32_t max_tokens,
                                          bool ignore_eos = false, uint64_t* id = nullptr,
                                          int64_t priority = 0,
                                          std::shared_ptr<collecting_sink> sink = nullptr) {
    generation_request request;
    request.prompt = std::move(prompt);
    request.max_tokens = max_tokens;
    request.ignore_eos = ignore_eos;
    request.priority = priority;
    if (!sink) sink = std::make_shared<collecting_sink>();
    const uint64_t assigned = eng->submit(std::move(request), sink);
    if (id) *id = assigned;
    return sink;
  }

  // Stats settle a message or two after the last event: poll with a deadline.
  bool wait_idle(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto s = eng->stats();
      if (s.num_kv_blocks_used == 0 && s.num_running == 0 && s.num_waiting == 0 &&
          s.num_live_requests == 0) {
        return true;
      }
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  std::shared_ptr<testing::fake_runner_probe> probe;
  std::unique_ptr<engine> eng;
};

std::vector<int32_t> bytes(const std::string& s) {
  return testing::byte_tokenizer{}.encode(s, false);
}

TEST(Engine, SingleRequestEndToEnd) {
  engine_fixture f;
  ASSERT_TRUE(f.eng);
  EXPECT_EQ(f.eng->info().served_model_name, "fake");
  EXPECT_EQ(f.eng->info().max_model_len, 256);
  auto sink = f.submit("hello", 8);
  ASSERT_TRUE(sink->wait_finished());
  const auto events = sink->events();
  ASSERT_GE(events.size(), 1u);
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_FALSE(events[i].finished);
    EXPECT_EQ(events[i].num_output_tokens, int32_t(i + 1));  // one token per step
  }
  const auto& last = events.back();
  EXPECT_TRUE(last.finished);
  EXPECT_FALSE(last.error);
  EXPECT_EQ(last.finish_reason, "length");
  EXPECT_EQ(last.num_prompt_tokens, 5);
  EXPECT_EQ(last.num_output_tokens, 8);
  const auto expected = fake_generate(bytes("hello"), 8);
  EXPECT_EQ(sink->token_ids(), expected);
  EXPECT_EQ(sink->text(), fake_text(expected));
  EXPECT_EQ(f.probe->num_errors.load(), 0);
  EXPECT_TRUE(f.wait_idle());
  EXPECT_EQ(sink->num_events_after_finish(), 0);
}

TEST(Engine, EndOfGenerationTokenStops) {
  fake_runner_options options;
  options.eos_at = 3;
  engine_fixture f(engine_fixture::default_config(), options);
  auto stopped = f.submit("abc", 10);
  auto ignoring = f.submit("abc", 6, /*ignore_eos=*/true);
  ASSERT_TRUE(stopped->wait_finished());
  ASSERT_TRUE(ignoring->wait_finished());
  EXPECT_EQ(stopped->last().finish_reason, "stop");
  EXPECT_EQ(stopped->last().num_output_tokens, 4);  // 3 characters and the EOS token
  EXPECT_EQ(stopped->token_ids(), fake_generate(bytes("abc"), 4, 3));
  EXPECT_EQ(stopped->text(), fake_text(fake_generate(bytes("abc"), 3)));  // EOS has no text
  EXPECT_EQ(ignoring->last().finish_reason, "length");
  EXPECT_EQ(ignoring->token_ids(), fake_generate(bytes("abc"), 6, 3));
  EXPECT_TRUE(f.wait_idle());
}

std::string prompt_of(int i) {
  return "request number " + std::to_string(i) + std::string(size_t(i % 5), '!');
}

class EngineThreads : public ::testing::TestWithParam<int32_t> {};

TEST_P(EngineThreads, ConcurrentRequestsGetTheirOwnOutput) {
  auto config = engine_fixture::default_config();
  config.num_actor_threads = GetParam();
  // Steps that take a moment, so that the requests overlap even on a loaded machine (an instant
  // fake step let the first request finish before the next was submitted, once in a while).
  fake_runner_options options;
  options.step_sleep = 1ms;
  engine_fixture f(config, options);
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  for (int i = 0; i < 16; ++i)
    sinks.push_back(f.submit(prompt_of(i), 12 + i));
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(sinks[size_t(i)]->wait_finished()) << i;
    EXPECT_EQ(sinks[size_t(i)]->text(), fake_text(fake_generate(bytes(prompt_of(i)), 12 + i)));
    EXPECT_EQ(sinks[size_t(i)]->last().finish_reason, "length");
  }
  EXPECT_GT(f.probe->max_seqs_in_step.load(), 1);  // they really were batched
  EXPECT_EQ(f.probe->num_errors.load(), 0);
  EXPECT_TRUE(f.wait_idle());
}

INSTANTIATE_TEST_SUITE_P(ActorThreads, EngineThreads, ::testing::Values(1, 2));

TEST(Engine, MoreRequestsThanSeqsAndBlocksPreemptAndComplete) {
  auto config = engine_fixture::default_config();
  config.num_actor_threads = 2;
  config.max_num_seqs = 6;
  config.max_num_batched_tokens = 16;  // chunked prefill too
  fake_runner_options options;
  options.num_kv_blocks = 16;  // 64 tokens for everyone: a 40-token request takes 10 blocks
  options.block_size = 4;
  engine_fixture f(config, options);
  ASSERT_TRUE(f.eng);
  EXPECT_EQ(f.eng->info().max_model_len, 64);  // capped to the KV cache
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  for (int i = 0; i < 20; ++i)
    sinks.push_back(f.submit(prompt_of(i), 20));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(sinks[size_t(i)]->wait_finished()) << i;
    EXPECT_FALSE(sinks[size_t(i)]->last().error) << *sinks[size_t(i)]->last().error;
    EXPECT_EQ(sinks[size_t(i)]->text(), fake_text(fake_generate(bytes(prompt_of(i)), 20))) << i;
  }
  EXPECT_TRUE(f.wait_idle());
  const auto stats = f.eng->stats();
  EXPECT_GT(stats.num_preemptions, 0);
  EXPECT_EQ(stats.num_kv_blocks_free, 16);
  EXPECT_LE(f.probe->max_seqs_in_step.load(), 6);
  EXPECT_EQ(f.probe->num_errors.load(), 0);
}

TEST(Engine, AbortMidGenerationFreesEveryBlock) {
  fake_runner_options options;
  options.step_sleep = 1ms;
  engine_fixture f(engine_fixture::default_config(), options);
  uint64_t id = 0;
  auto aborted = f.submit("abort me", 0, false, &id);  // up to max_model_len
  auto bystander = f.submit("keep going", 30);
  ASSERT_TRUE(aborted->wait_events(3));
  f.eng->abort(id);
  ASSERT_TRUE(aborted->wait_finished());
  EXPECT_EQ(aborted->last().finish_reason, "abort");
  EXPECT_LT(aborted->last().num_output_tokens, 200);
  EXPECT_GE(aborted->last().num_output_tokens, 3);
  const auto generated = aborted->token_ids();
  EXPECT_EQ(generated, fake_generate(bytes("abort me"), int32_t(generated.size())));
  f.eng->abort(id);  // gone: ignored
  f.eng->abort(12345);
  ASSERT_TRUE(bystander->wait_finished());
  EXPECT_EQ(bystander->text(), fake_text(fake_generate(bytes("keep going"), 30)));
  EXPECT_TRUE(f.wait_idle());
  EXPECT_EQ(f.eng->stats().num_kv_blocks_used, 0);
}

TEST(Engine, AbortRightAfterSubmitIsNotLost) {
  fake_runner_options options;
  options.step_sleep = 200us;
  engine_fixture f(engine_fixture::default_config(), options);
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  for (int i = 0; i < 8; ++i) {
    uint64_t id = 0;
    sinks.push_back(f.submit(prompt_of(i), 0, false, &id));
    f.eng->abort(id);
  }
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->wait_finished());
    EXPECT_EQ(sink->last().finish_reason, "abort");
  }
  EXPECT_TRUE(f.wait_idle());
}

TEST(Engine, FullWaitingQueueAnswers503) {
  auto config = engine_fixture::default_config();
  config.max_num_seqs = 1;
  config.max_waiting_requests = 2;
  fake_runner_options options;
  options.step_sleep = 2ms;
  engine_fixture f(config, options);
  auto running = f.submit("first", 60);
  ASSERT_TRUE(running->wait_events(1));  // admitted and running
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  for (int i = 0; i < 4; ++i)
    sinks.push_back(f.submit(prompt_of(i), 5));
  int num_rejected = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(sinks[size_t(i)]->wait_finished());
    const auto last = sinks[size_t(i)]->last();
    if (last.error) {
      EXPECT_EQ(last.error_status, 503);
      EXPECT_NE(last.error->find("overloaded"), std::string::npos);
      ++num_rejected;
    } else {
      EXPECT_EQ(sinks[size_t(i)]->text(), fake_text(fake_generate(bytes(prompt_of(i)), 5)));
    }
  }
  EXPECT_EQ(num_rejected, 2);
  ASSERT_TRUE(running->wait_finished());
  EXPECT_EQ(running->last().finish_reason, "length");
  EXPECT_TRUE(f.wait_idle());
}

TEST(Engine, BadRequestsAnswer400AndDisturbNothing) {
  auto config = engine_fixture::default_config();
  config.max_model_len = 64;
  engine_fixture f(config);
  auto good = f.submit("fine", 20);
  auto too_long = f.submit(std::string(60, 'x'), 10);
  auto empty = f.submit("", 4);
  generation_request oov;
  oov.prompt_token_ids = {5, 6, 500};
  auto oov_sink = std::make_shared<collecting_sink>();
  f.eng->submit(oov, oov_sink);
  for (auto* sink : {&too_long, &empty, &oov_sink}) {
    ASSERT_TRUE((*sink)->wait_finished());
    EXPECT_EQ((*sink)->last().error_status, 400);
    EXPECT_EQ((*sink)->events().size(), 1u);
  }
  EXPECT_EQ(*too_long->last().error,
            "This model's maximum context length is 64 tokens. However, you requested 70 tokens "
            "(60 in the messages, 10 in the completion). Please reduce the length of the messages "
            "or completion.");
  EXPECT_NE(oov_sink->last().error->find("500"), std::string::npos);
  ASSERT_TRUE(good->wait_finished());
  EXPECT_EQ(good->text(), fake_text(fake_generate(bytes("fine"), 20)));
  EXPECT_TRUE(f.wait_idle());
}

TEST(Engine, SamplingParametersPassThrough) {
  engine_fixture f;
  generation_request request;
  request.prompt_token_ids = {10, 11, 12};
  request.max_tokens = 2;
  request.sampling.seed = 42;
  auto sink = std::make_shared<collecting_sink>();
  f.eng->submit(request, sink);
  ASSERT_TRUE(sink->wait_finished());
  EXPECT_EQ(f.probe->last_seed.load(), 42u);
  EXPECT_EQ(sink->token_ids(), fake_generate({10, 11, 12}, 2));

  // Seed 0 is a seed like any other, not "pick one".
  request.sampling.seed = 0;
  auto zero = std::make_shared<collecting_sink>();
  f.eng->submit(request, zero);
  ASSERT_TRUE(zero->wait_finished());
  EXPECT_EQ(f.probe->last_seed.load(), 0u);
}

TEST(Engine, ShutdownEndsUnfinishedGenerations) {
  fake_runner_options options;
  options.step_sleep = 1ms;
  engine_fixture f(engine_fixture::default_config(), options);
  auto sink = f.submit("never finishes in time", 0);
  ASSERT_TRUE(sink->wait_events(2));
  f.eng.reset();  // must not hang
  ASSERT_TRUE(sink->wait_finished(1s));
  EXPECT_TRUE(sink->last().error);
  EXPECT_EQ(sink->last().error_status, 503);
}

TEST(Engine, StartRejectsBadSetups) {
  auto config = engine_fixture::default_config();
  config.max_model_len = 1000;
  auto probe = std::make_shared<testing::fake_runner_probe>();
  auto too_long =
      start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                   std::make_unique<testing::fake_runner>(fake_runner_options{}, probe), 512);
  EXPECT_FALSE(too_long.ok());
  auto no_runner = start_engine(engine_fixture::default_config(),
                                std::make_shared<testing::byte_tokenizer>(), nullptr, 512);
  EXPECT_FALSE(no_runner.ok());
}

// Notes in a shared log when its request produces its first event.
class first_event_log : public collecting_sink {
 public:
  first_event_log(std::shared_ptr<std::vector<std::string>> log, std::mutex* mu, std::string name)
      : log_(std::move(log)), mu_(mu), name_(std::move(name)) {}
  void on_event(generation_event event) override {
    {
      std::lock_guard lock{*mu_};
      if (!started_) log_->push_back(name_);
      started_ = true;
    }
    collecting_sink::on_event(std::move(event));
  }

 private:
  std::shared_ptr<std::vector<std::string>> log_;
  std::mutex* mu_;
  std::string name_;
  bool started_ = false;
};

// One seat (max_num_seqs 1): while a request holds it, a later but more urgent request is served
// before an earlier, less urgent one under --scheduling-policy priority, and after it under FCFS.
TEST(Engine, SchedulingPolicyOrdersTheWaitingQueue) {
  for (const char* policy : {"priority", "fcfs"}) {
    auto config = engine_fixture::default_config();
    config.max_num_seqs = 1;
    config.scheduling_policy = policy;
    fake_runner_options options;
    options.step_sleep = 2ms;
    engine_fixture f(config, options);
    ASSERT_TRUE(f.eng);
    auto log = std::make_shared<std::vector<std::string>>();
    std::mutex mu;
    auto seat = f.submit("holds the seat", 100, true);
    ASSERT_TRUE(seat->wait_events(1));
    auto late = std::make_shared<first_event_log>(log, &mu, "lazy");
    auto urgent = std::make_shared<first_event_log>(log, &mu, "urgent");
    f.submit("lazy one", 5, true, nullptr, 10, late);
    f.submit("urgent one", 5, true, nullptr, -3, urgent);
    ASSERT_TRUE(late->wait_finished());
    ASSERT_TRUE(urgent->wait_finished());
    EXPECT_EQ(late->text(), fake_text(fake_generate(bytes("lazy one"), 5)));
    EXPECT_EQ(urgent->text(), fake_text(fake_generate(bytes("urgent one"), 5)));
    const std::vector<std::string> expected = std::string(policy) == "priority"
                                                  ? std::vector<std::string>{"urgent", "lazy"}
                                                  : std::vector<std::string>{"lazy", "urgent"};
    EXPECT_EQ(*log, expected) << policy;
    ASSERT_TRUE(seat->wait_finished());
    EXPECT_TRUE(f.wait_idle());
  }
}

// Priorities over a pool that forces preemption, with and without async scheduling: the least
// urgent running request is preempted, sometimes the first one (an empty step, scheduled again
// at once); every request still completes with the fake model's output and every block returns.
TEST(Engine, PriorityPreemptionUnderPressureCompletesEveryRequest) {
  for (bool async : {false, true}) {
    auto config = engine_fixture::default_config();
    config.max_num_seqs = 6;
    config.max_num_batched_tokens = 16;
    config.scheduling_policy = "priority";
    config.async_scheduling = async;
    fake_runner_options options;
    options.num_kv_blocks = 16;
    options.block_size = 4;
    engine_fixture f(config, options);
    ASSERT_TRUE(f.eng);
    // The least urgent request runs first, so that it is the one to go when its table grows.
    auto lazy = f.submit("the lazy one", 40, true, nullptr, 9);
    ASSERT_TRUE(lazy->wait_events(1));
    std::vector<std::shared_ptr<collecting_sink>> sinks;
    for (int i = 0; i < 16; ++i)
      sinks.push_back(f.submit(prompt_of(i), 20, false, nullptr, (i * 7) % 5 - 2));
    for (int i = 0; i < 16; ++i) {
      ASSERT_TRUE(sinks[size_t(i)]->wait_finished(5s)) << i << (async ? " async" : "");
      EXPECT_FALSE(sinks[size_t(i)]->last().error) << *sinks[size_t(i)]->last().error;
      EXPECT_EQ(sinks[size_t(i)]->text(), fake_text(fake_generate(bytes(prompt_of(i)), 20))) << i;
    }
    ASSERT_TRUE(lazy->wait_finished(5s));
    EXPECT_EQ(lazy->text(), fake_text(fake_generate(bytes("the lazy one"), 40)));
    EXPECT_TRUE(f.wait_idle());
    const auto stats = f.eng->stats();
    EXPECT_GT(stats.num_preemptions, 0);
    EXPECT_EQ(stats.num_kv_blocks_free, 16);
    EXPECT_EQ(f.probe->num_errors.load(), 0);
  }
}

}  // namespace
}  // namespace troupe::actors
