// The executor's sequence state through the real pipeline (batcher, KV allocator, executor; test
// request actors): preemption on a tight cache, prefix-cache hits, penalties, aborts, finishes
// and a step the runner fails. Outputs match the model's, no table is wrong (the fake model reads
// its KV back through them), and when the work is done the executor holds no sequence.
#include "actors/executor.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>

#include "actors/batcher.hpp"
#include "actors/kv_allocator_actor.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/actors/test_clients.hpp"

namespace troupe::actors {
namespace {

using testing::outcomes;
using testing::spawn_client;

using namespace std::chrono_literals;

// The fake model, except that step `fail_at` throws.
class failing_runner : public testing::fake_runner {
 public:
  failing_runner(testing::fake_runner_options options,
                 std::shared_ptr<testing::fake_runner_probe> probe, int32_t fail_at)
      : fake_runner(options, std::move(probe)), fail_at_(fail_at) {}

  std::vector<runtime::sampled_token> execute(const runtime::step_batch& batch) override {
    if (num_steps_++ == fail_at_) throw std::runtime_error("the device fell over");
    return fake_runner::execute(batch);
  }

 private:
  int32_t fail_at_;
  int32_t num_steps_ = 0;
};

// The batcher, the KV allocator and `num_ranks` executors (as tensor-parallel ranks: each with
// its own fake model, which keeps its own KV); step `fail_at` throws at rank `failing_rank`.
// With `async`, the batcher schedules one step ahead (placeholders the executors fill in).
struct pipeline {
  explicit pipeline(bool async, int32_t fail_at, int32_t num_ranks = 1, int32_t failing_rank = 0)
      : system(cfg) {
    testing::fake_runner_options options;
    options.num_kv_blocks = 24;  // too few for everyone: preemption
    options.block_size = 4;
    options.step_sleep = 100us;
    for (int32_t r = 0; r < num_ranks; ++r) {
      const telemetry::labels rank = {{"rank", std::to_string(r)}};
      num_sequences.push_back(
          &registry.add_gauge("test_executor_sequences", "sequences held", rank));
      executors.push_back(spawn_executor(
          system,
          std::make_unique<failing_runner>(options, r == 0 ? probe : other_probe,
                                           r == failing_rank ? fail_at : -1),
          actor_kind_metrics::create(registry, "executor", rank), num_sequences.back()));
    }
    allocator = spawn_kv_allocator(system, options.num_kv_blocks, options.block_size, counters,
                                   std::nullopt, kind("kv_allocator"));
    batcher_options batching;
    batching.scheduler = {8, 32, true, 256, options.block_size, runtime::block_hash_algo::sha256};
    batching.async_scheduling = async;
    batcher = spawn_batcher(system, batching, allocator, executors, counters,
                            {kind("batcher"), step_metrics::create(registry), std::nullopt});
  }

  ~pipeline() {
    caf::anon_send_exit(batcher, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(allocator, caf::exit_reason::user_shutdown);
    for (const auto& executor : executors)
      caf::anon_send_exit(executor, caf::exit_reason::user_shutdown);
  }

  actor_kind_metrics kind(const std::string& name) {
    return actor_kind_metrics::create(registry, name);
  }

  void submit(uint64_t id, std::vector<int32_t> prompt, int32_t max_tokens, bool penalties) {
    runtime::request_spec spec;
    spec.id = id;
    spec.prompt_token_ids = std::move(prompt);
    spec.max_tokens = max_tokens;
    spec.cache_prefix = true;
    spec.sampling.seed = id;
    if (penalties) spec.sampling.repetition_penalty = 1.3f;
    caf::anon_send(batcher, submit_generation{std::move(spec), spawn_client(system, out)});
  }

  // Every rank's executor holds no sequence.
  bool wait_released() {
    for (int i = 0; i < 2000 && num_held() != 0; ++i)
      std::this_thread::sleep_for(2ms);
    return num_held() == 0;
  }
  double num_held() const {
    double held = 0;
    for (const auto* gauge : num_sequences)
      held += gauge->value();
    return held;
  }

  telemetry::registry registry;
  caf::actor_system_config cfg;
  caf::actor_system system;
  std::shared_ptr<testing::fake_runner_probe> probe =  // rank 0's
      std::make_shared<testing::fake_runner_probe>();
  std::shared_ptr<testing::fake_runner_probe> other_probe =  // the other ranks'
      std::make_shared<testing::fake_runner_probe>();
  std::shared_ptr<engine_counters> counters = std::make_shared<engine_counters>();
  std::shared_ptr<outcomes> out = std::make_shared<outcomes>();
  std::vector<telemetry::gauge*> num_sequences;  // per rank
  std::vector<executor_actor> executors;
  kv_allocator_actor allocator;
  batcher_actor batcher;
};

std::vector<int32_t> prompt_of(int32_t i) {
  std::vector<int32_t> prompt = {'s', 'h', 'a', 'r', 'e', 'd', ' ', 'p'};  // two full blocks
  for (int32_t k = 0; k <= i % 5; ++k)
    prompt.push_back('a' + (i + k) % 26);
  return prompt;
}

// Every test runs with synchronous and with async scheduling.
class Executor : public ::testing::TestWithParam<bool> {
 protected:
  bool async() const { return GetParam(); }
};

TEST_P(Executor, HoldsNoSequenceOnceEveryRequestEnded) {
  pipeline p(async(), /*fail_at=*/-1);
  constexpr int n = 12;
  for (int i = 0; i < n; ++i)
    p.submit(uint64_t(i + 1), prompt_of(i), 20, /*penalties=*/i % 2 == 0);
  caf::anon_send(p.batcher, abort_generation{3});
  ASSERT_TRUE(p.out->wait_all(n));
  EXPECT_TRUE(p.wait_released()) << p.num_held() << " sequences held";
  EXPECT_EQ(p.probe->num_errors.load(), 0);  // every table the model read was right
  EXPECT_GT(p.counters->num_preemptions.load(), 0) << "the cache was never tight";
  EXPECT_GT(p.counters->num_prefix_cache_hits.load(), 0);
  std::lock_guard lock{p.out->mutex};
  for (int i = 0; i < n; ++i) {
    const uint64_t id = uint64_t(i + 1);
    if (p.out->finished[id] != runtime::finish_reason::length) continue;  // 3: maybe aborted
    EXPECT_EQ(p.out->tokens[id], testing::fake_generate(prompt_of(i), 20)) << "request " << id;
  }
}

// The batcher fails the step's requests; the executor forgets them with the next release, and
// the requests after them run as usual.
TEST_P(Executor, AFailedStepLeavesNoSequenceBehind) {
  pipeline p(async(), /*fail_at=*/3);
  constexpr int n = 6;
  for (int i = 0; i < n; ++i)
    p.submit(uint64_t(i + 1), prompt_of(i), 8, /*penalties=*/i % 2 == 1);
  ASSERT_TRUE(p.out->wait_all(n));
  {
    std::lock_guard lock{p.out->mutex};
    EXPECT_FALSE(p.out->failed.empty());
    for (const auto& [id, status] : p.out->failed)
      EXPECT_EQ(status, 500) << "request " << id;
  }
  EXPECT_TRUE(p.wait_released()) << p.num_held() << " sequences held";
  p.submit(100, prompt_of(0), 4, true);  // the executor still serves
  ASSERT_TRUE(p.out->wait_all(n + 1));
  EXPECT_TRUE(p.wait_released());
  std::lock_guard lock{p.out->mutex};
  EXPECT_EQ(p.out->tokens[100], testing::fake_generate(prompt_of(0), 4));
}

// The failed step was the prompt's first: the blocks the allocator registered for it were never
// written, so the same prompt again must compute them rather than hit them in the prefix cache.
TEST_P(Executor, AFailedStepsBlocksAreNotPrefixCacheHits) {
  pipeline p(async(), /*fail_at=*/0);
  p.submit(1, prompt_of(0), 4, false);
  ASSERT_TRUE(p.out->wait_all(1));
  EXPECT_TRUE(p.wait_released());
  p.submit(2, prompt_of(0), 4, false);
  ASSERT_TRUE(p.out->wait_all(2));
  std::lock_guard lock{p.out->mutex};
  EXPECT_EQ(p.out->failed[1], 500);
  EXPECT_EQ(p.out->tokens[2], testing::fake_generate(prompt_of(0), 4));
  EXPECT_EQ(p.counters->num_prefix_cache_hits.load(), 0);
}

// Tensor-parallel ranks: every rank gets every step and release, so all hold the same sequences;
// rank 0's tokens are the step's. A step that throws at one rank fails the step's requests (500)
// even though the other rank finished it, and both ranks forget them.
TEST_P(Executor, EveryRankRunsEveryStepAndOneFailingRankFailsTheStep) {
  for (int32_t failing_rank : {-1, 0, 1}) {
    SCOPED_TRACE("failing rank " + std::to_string(failing_rank));
    pipeline p(async(), /*fail_at=*/failing_rank < 0 ? -1 : 3, 2, failing_rank);
    constexpr int n = 8;
    for (int i = 0; i < n; ++i)
      p.submit(uint64_t(i + 1), prompt_of(i), 10, /*penalties=*/i % 2 == 0);
    ASSERT_TRUE(p.out->wait_all(n));
    EXPECT_TRUE(p.wait_released()) << p.num_held() << " sequences held";
    p.submit(100, prompt_of(1), 6, false);  // the ranks still serve
    ASSERT_TRUE(p.out->wait_all(n + 1));
    EXPECT_TRUE(p.wait_released());
    // The failing rank's failed step never reached the fake model.
    EXPECT_EQ(p.probe->num_steps.load() + (failing_rank == 0),
              p.other_probe->num_steps.load() + (failing_rank == 1));
    EXPECT_EQ(p.probe->num_errors.load() + p.other_probe->num_errors.load(), 0);
    std::lock_guard lock{p.out->mutex};
    EXPECT_EQ(p.out->failed.empty(), failing_rank < 0);
    for (const auto& [id, status] : p.out->failed)
      EXPECT_EQ(status, 500) << "request " << id;
    for (int i = 0; i < n; ++i) {
      const uint64_t id = uint64_t(i + 1);
      if (p.out->finished.count(id) == 0) continue;  // failed
      EXPECT_EQ(p.out->tokens[id], testing::fake_generate(prompt_of(i), 10)) << "request " << id;
    }
    EXPECT_EQ(p.out->tokens[100], testing::fake_generate(prompt_of(1), 6));
  }
}

INSTANTIATE_TEST_SUITE_P(Scheduling, Executor, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Async" : "Sync"; });

}  // namespace
}  // namespace troupe::actors
