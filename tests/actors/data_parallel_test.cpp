// Data parallelism (--data-parallel-size): N engines in one actor system behind one engine
// facade, each request routed to one of them (vLLM's internal load balancing).
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "tests/actors/fakes.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
using testing::collecting_sink;
using testing::fake_generate;
using testing::fake_runner;
using testing::fake_runner_options;
using testing::fake_runner_probe;

std::vector<int32_t> bytes(const std::string& s) {
  return testing::byte_tokenizer{}.encode(s, false);
}

// Engines of one fake runner each; probes[d] sees engine d's steps.
struct data_parallel_fixture {
  explicit data_parallel_fixture(int32_t num_engines, fake_runner_options options = {},
                                 const std::string& routing = "prefix-aware") {
    runtime::engine_config config;
    config.served_model_name = "fake";
    config.disable_log_requests = true;
    config.data_parallel_size = num_engines;
    config.data_parallel_routing = routing;
    std::vector<std::unique_ptr<runtime::model_runner>> runners;
    for (int32_t d = 0; d < num_engines; ++d) {
      probes.push_back(std::make_shared<fake_runner_probe>());
      runners.push_back(std::make_unique<fake_runner>(options, probes.back()));
    }
    auto built = runtime::assemble_engine(config, std::make_shared<testing::byte_tokenizer>(),
                                          std::move(runners), 256);
    EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.message());
    if (!built.ok()) return;
    auto started = start_engine(std::move(*built));
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.message());
    if (started.ok()) eng = std::move(*started);
  }

  std::shared_ptr<collecting_sink> submit(const std::string& prompt, int32_t max_tokens,
                                          std::optional<int32_t> rank = std::nullopt, int32_t n = 1,
                                          uint64_t* id = nullptr) {
    generation_request request;
    request.prompt = prompt;
    request.max_tokens = max_tokens;
    request.ignore_eos = true;
    request.n = n;
    request.data_parallel_rank = rank;
    auto sink = std::make_shared<collecting_sink>();
    const uint64_t assigned = eng->submit(std::move(request), sink);
    if (id != nullptr) *id = assigned;
    return sink;
  }

  // Every engine idle with nothing held: polled, the counters settle a message after the events.
  bool wait_idle() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      bool idle = true;
      for (int32_t d = 0; d < eng->info().data_parallel_size; ++d) {
        const auto s = eng->engine_stats_of(d);
        idle = idle && s.num_kv_blocks_used == 0 && s.num_running == 0 && s.num_waiting == 0 &&
               s.num_live_requests == 0;
      }
      if (idle) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  std::vector<std::shared_ptr<fake_runner_probe>> probes;
  std::unique_ptr<engine> eng;
};

TEST(DataParallel, ARequestGoesToTheLeastLoadedEngineAndIsServedThere) {
  data_parallel_fixture f(2, {.step_sleep = 2ms});
  ASSERT_TRUE(f.eng);
  EXPECT_EQ(f.eng->info().data_parallel_size, 2);
  EXPECT_EQ(f.eng->route({}), 0);  // all idle: the lowest index
  auto first = f.submit("first prompt", 40);
  // Engine 0 now holds an unfinished request (counted at submission, before any step).
  EXPECT_EQ(f.eng->engine_stats_of(0).num_live_requests, 1);
  EXPECT_EQ(f.eng->route({}), 1);
  auto second = f.submit("second prompt", 40);
  EXPECT_EQ(f.eng->engine_stats_of(1).num_live_requests, 1);
  generation_request pinned;
  pinned.data_parallel_rank = 1;
  EXPECT_EQ(f.eng->route(pinned), 1);
  ASSERT_TRUE(first->wait_finished());
  ASSERT_TRUE(second->wait_finished());
  EXPECT_EQ(first->token_ids(), fake_generate(bytes("first prompt"), 40));
  EXPECT_EQ(second->token_ids(), fake_generate(bytes("second prompt"), 40));
  EXPECT_GT(f.probes[0]->num_steps.load(), 0);
  EXPECT_GT(f.probes[1]->num_steps.load(), 0);
  EXPECT_EQ(f.probes[0]->num_errors.load() + f.probes[1]->num_errors.load(), 0);
  ASSERT_TRUE(f.wait_idle());
}

// A burst spreads over the engines, every answer is the one a single engine gives, and each
// engine ends with nothing held.
TEST(DataParallel, ABurstSpreadsOverTheEnginesWithTheSameAnswers) {
  data_parallel_fixture f(3, {.step_sleep = 1ms});
  ASSERT_TRUE(f.eng);
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  std::vector<std::string> prompts;
  for (int32_t i = 0; i < 12; ++i) {
    prompts.push_back("prompt number " + std::to_string(i));
    sinks.push_back(f.submit(prompts.back(), 12 + i));
  }
  for (int32_t d = 0; d < 3; ++d) {
    EXPECT_GE(f.eng->engine_stats_of(d).num_live_requests, 1) << "engine " << d;
  }
  for (size_t i = 0; i < sinks.size(); ++i) {
    ASSERT_TRUE(sinks[i]->wait_finished());
    EXPECT_EQ(sinks[i]->token_ids(), fake_generate(bytes(prompts[i]), 12 + int32_t(i)));
  }
  for (const auto& probe : f.probes) {
    EXPECT_GT(probe->num_steps.load(), 0);
    EXPECT_EQ(probe->num_errors.load(), 0);
  }
  ASSERT_TRUE(f.wait_idle());
  const auto total = f.eng->stats();
  EXPECT_EQ(total.num_kv_blocks_total, 3 * 256);
  EXPECT_EQ(total.num_live_requests, 0);
}

// data_parallel_rank (X-data-parallel-rank) pins the request; the choices of an n > 1 request
// stay together on one engine (they share the prompt's blocks there).
TEST(DataParallel, APinnedRequestAndAllChoicesOfOneRunOnOneEngine) {
  data_parallel_fixture f(2);
  ASSERT_TRUE(f.eng);
  auto pinned = f.submit("pinned", 8, 1);
  ASSERT_TRUE(pinned->wait_finished());
  EXPECT_EQ(f.probes[0]->num_steps.load(), 0);
  EXPECT_GT(f.probes[1]->num_steps.load(), 0);
  ASSERT_TRUE(f.wait_idle());

  const int32_t steps_at_1 = f.probes[1]->num_steps.load();
  auto choices = f.submit("three choices", 6, std::nullopt, 3);  // idle: engine 0
  ASSERT_TRUE(choices->wait_finished());
  ASSERT_TRUE(f.wait_idle());
  EXPECT_GT(f.probes[0]->num_steps.load(), 0);
  EXPECT_EQ(f.probes[1]->num_steps.load(), steps_at_1);
  EXPECT_EQ(f.eng->engine_stats_of(0).num_prefix_cache_hits > 0, true)
      << "the choices after the first find its prompt blocks on the same engine";
}

// Prefix-aware routing (the default): a prompt whose prefix an engine computed goes back there
// while that engine is within one waiting request of the least loaded, and finds its blocks in
// that engine's cache; least-loaded routing (vLLM's) sends it to the idle engine.
TEST(DataParallel, APromptGoesBackToTheEngineHoldingItsPrefix) {
  for (const std::string routing : {"prefix-aware", "least-loaded"}) {
    SCOPED_TRACE(routing);
    data_parallel_fixture f(2, {.step_sleep = 1ms}, routing);
    ASSERT_TRUE(f.eng);
    std::string prefix;
    for (int i = 0; prefix.size() < 200; ++i)
      prefix += "shared context " + std::to_string(i) + ". ";
    ASSERT_TRUE(f.submit(prefix + "first question", 4)->wait_finished());  // idle: engine 0
    ASSERT_TRUE(f.wait_idle());
    uint64_t busy_id = 0;
    auto busy = f.submit("keeps engine zero busy", 0, 0, 1, &busy_id);  // to max_model_len
    ASSERT_TRUE(busy->wait_events(2));
    generation_request next;
    next.prompt = prefix + "second question";
    const int32_t expected = routing == "prefix-aware" ? 0 : 1;
    EXPECT_EQ(f.eng->route(next), expected);
    const int64_t hits_before = f.eng->engine_stats_of(expected).num_prefix_cache_hits;
    auto second = f.submit(next.prompt, 4);
    ASSERT_TRUE(second->wait_finished());
    EXPECT_EQ(second->token_ids(), fake_generate(bytes(next.prompt), 4));
    const int64_t hits = f.eng->engine_stats_of(expected).num_prefix_cache_hits - hits_before;
    if (expected == 0) {
      EXPECT_GE(hits, 196) << "the prefix's blocks come from engine 0's cache";
    } else {
      EXPECT_EQ(hits, 0);
    }
    f.eng->abort(busy_id);
    ASSERT_TRUE(busy->wait_finished());
    ASSERT_TRUE(f.wait_idle());
  }
}

TEST(DataParallel, AbortReachesTheRequestOnItsEngine) {
  data_parallel_fixture f(2, {.step_sleep = 2ms});
  ASSERT_TRUE(f.eng);
  uint64_t id = 0;
  auto aborted = f.submit("abort me", 0, 1, 1, &id);  // up to max_model_len on engine 1
  ASSERT_TRUE(aborted->wait_events(3));
  f.eng->abort(id);
  ASSERT_TRUE(aborted->wait_finished());
  EXPECT_EQ(aborted->last().finish_reason, "abort");
  ASSERT_TRUE(f.wait_idle());
}

// Every engine's vLLM metrics carry its index (engine="d"), troupe's step and actor metrics too
// when there are several; the tokens each engine counts add up to what was generated.
TEST(DataParallel, MetricsAreLabelledWithTheirEngine) {
  data_parallel_fixture f(2);
  ASSERT_TRUE(f.eng);
  auto a = f.submit("aaaa", 5, 0);
  auto b = f.submit("bbbbbb", 7, 1);
  ASSERT_TRUE(a->wait_finished());
  ASSERT_TRUE(b->wait_finished());
  ASSERT_TRUE(f.wait_idle());
  const std::string text = f.eng->metrics().prometheus_text();
  EXPECT_NE(text.find("vllm:generation_tokens_total{model_name=\"fake\",engine=\"0\"} 5"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vllm:generation_tokens_total{model_name=\"fake\",engine=\"1\"} 7"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:prompt_tokens_total{model_name=\"fake\",engine=\"1\"} 6"),
            std::string::npos);
  EXPECT_NE(text.find("troupe_steps_total{engine=\"1\"}"), std::string::npos);
  EXPECT_NE(text.find("troupe_actor_messages_total{kind=\"batcher\",engine=\"0\"}"),
            std::string::npos);
  EXPECT_NE(text.find("troupe_executor_sequences{rank=\"0\",engine=\"1\"}"), std::string::npos);
  EXPECT_NE(text.find("num_gpu_blocks=\"256\",num_gpu_blocks_override=\"None\","
                      "prefix_caching_hash_algo=\"sha256\",engine=\"1\"}"),
            std::string::npos);
}

TEST(DataParallel, ResetPrefixCacheResetsEveryEngineOrSaysWhichBlocksAreInUse) {
  data_parallel_fixture f(2, {.step_sleep = 2ms});
  ASSERT_TRUE(f.eng);
  auto reset = [&] {
    std::promise<status> answer;
    f.eng->reset_prefix_cache([&](status s) { answer.set_value(std::move(s)); });
    return answer.get_future().get();
  };
  auto a = f.submit("a prompt of two blocks", 2, 0);
  auto b = f.submit("another prompt of blocks", 2, 1);
  ASSERT_TRUE(a->wait_finished());
  ASSERT_TRUE(b->wait_finished());
  ASSERT_TRUE(f.wait_idle());
  EXPECT_GT(f.eng->engine_stats_of(0).num_kv_blocks_cached, 0);
  EXPECT_GT(f.eng->engine_stats_of(1).num_kv_blocks_cached, 0);
  const status done = reset();
  EXPECT_TRUE(done.ok()) << done.message();
  EXPECT_EQ(f.eng->stats().num_kv_blocks_cached, 0);

  uint64_t id = 0;
  auto busy = f.submit("still running on engine one", 0, 1, 1, &id);  // up to max_model_len
  ASSERT_TRUE(busy->wait_events(2));
  const status refused = reset();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("Cannot reset the prefix cache while requests hold KV blocks"),
            std::string::npos)
      << refused.message();
  f.eng->abort(id);
  ASSERT_TRUE(busy->wait_finished());
  ASSERT_TRUE(f.wait_idle());
}

}  // namespace
}  // namespace troupe::actors
