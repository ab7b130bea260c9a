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

namespace troupe::actors {
namespace {

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

// What the request actors heard, by request id.
struct outcomes {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, runtime::finish_reason> finished;
  std::map<uint64_t, int32_t> failed;  // status

  bool wait_all(size_t n) {
    std::unique_lock lock{mutex};
    return cv.wait_for(lock, 20s, [&] { return finished.size() + failed.size() >= n; });
  }
};

request_actor spawn_client(caf::actor_system& system, std::shared_ptr<outcomes> out) {
  return system.spawn([out](request_actor::pointer) -> request_actor::behavior_type {
    return {
        [out](token_delta& msg) {
          std::lock_guard lock{out->mutex};
          auto& tokens = out->tokens[msg.request_id];
          tokens.insert(tokens.end(), msg.token_ids.begin(), msg.token_ids.end());
          if (msg.finish != runtime::finish_reason::none)
            out->finished[msg.request_id] = msg.finish;
          out->cv.notify_all();
        },
        [out](request_failed& msg) {
          std::lock_guard lock{out->mutex};
          out->failed[msg.request_id] = msg.status;
          out->cv.notify_all();
        },
        [](stop_generation&) {},
        [](prompt_ready&) {},
    };
  });
}

struct pipeline {
  explicit pipeline(int32_t fail_at) : system(cfg) {
    testing::fake_runner_options options;
    options.num_kv_blocks = 24;  // too few for everyone: preemption
    options.block_size = 4;
    options.step_sleep = 100us;
    num_sequences = &registry.add_gauge("test_executor_sequences", "sequences held");
    executor = spawn_executor(system, std::make_unique<failing_runner>(options, probe, fail_at),
                              kind("executor"), num_sequences);
    allocator = spawn_kv_allocator(system, options.num_kv_blocks, options.block_size, counters,
                                   std::nullopt, kind("kv_allocator"));
    batcher_options batching;
    batching.scheduler = {8, 32, true, 256, options.block_size, runtime::block_hash_algo::sha256};
    batcher = spawn_batcher(system, batching, allocator, executor, counters,
                            {kind("batcher"), step_metrics::create(registry), std::nullopt});
  }

  ~pipeline() {
    for (const caf::actor& a :
         {caf::actor_cast<caf::actor>(batcher), caf::actor_cast<caf::actor>(allocator),
          caf::actor_cast<caf::actor>(executor)})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
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

  bool wait_released() {
    for (int i = 0; i < 2000 && num_sequences->value() != 0; ++i)
      std::this_thread::sleep_for(2ms);
    return num_sequences->value() == 0;
  }

  telemetry::registry registry;
  caf::actor_system_config cfg;
  caf::actor_system system;
  std::shared_ptr<testing::fake_runner_probe> probe =
      std::make_shared<testing::fake_runner_probe>();
  std::shared_ptr<engine_counters> counters = std::make_shared<engine_counters>();
  std::shared_ptr<outcomes> out = std::make_shared<outcomes>();
  telemetry::gauge* num_sequences = nullptr;
  executor_actor executor;
  kv_allocator_actor allocator;
  batcher_actor batcher;
};

std::vector<int32_t> prompt_of(int32_t i) {
  std::vector<int32_t> prompt = {'s', 'h', 'a', 'r', 'e', 'd', ' ', 'p'};  // two full blocks
  for (int32_t k = 0; k <= i % 5; ++k)
    prompt.push_back('a' + (i + k) % 26);
  return prompt;
}

TEST(Executor, HoldsNoSequenceOnceEveryRequestEnded) {
  pipeline p(/*fail_at=*/-1);
  constexpr int n = 12;
  for (int i = 0; i < n; ++i)
    p.submit(uint64_t(i + 1), prompt_of(i), 20, /*penalties=*/i % 2 == 0);
  caf::anon_send(p.batcher, abort_generation{3});
  ASSERT_TRUE(p.out->wait_all(n));
  EXPECT_TRUE(p.wait_released()) << p.num_sequences->value() << " sequences held";
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
TEST(Executor, AFailedStepLeavesNoSequenceBehind) {
  pipeline p(/*fail_at=*/3);
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
  EXPECT_TRUE(p.wait_released()) << p.num_sequences->value() << " sequences held";
  p.submit(100, prompt_of(0), 4, true);  // the executor still serves
  ASSERT_TRUE(p.out->wait_all(n + 1));
  EXPECT_TRUE(p.wait_released());
  std::lock_guard lock{p.out->mutex};
  EXPECT_EQ(p.out->tokens[100], testing::fake_generate(prompt_of(0), 4));
}

}  // namespace
}  // namespace troupe::actors
