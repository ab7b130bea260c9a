// Async scheduling through the actors: the batcher sends step N+1 before step N has returned.
// The executor here answers a step only once the next one has arrived (as an executor that
// launches step N+1 on a GPU before it waits for step N would), or after a pause when none
// comes: with async scheduling nearly every step is answered by the next one's arrival, and the
// outputs are still the fake model's. Through the engine (--async-scheduling): the same outputs
// as without it, early stops and aborts included, and every block released.
#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>

#include "actors/batcher.hpp"
#include "actors/engine.hpp"
#include "actors/kv_allocator_actor.hpp"
#include "runtime/sequence_states.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/actors/test_clients.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
using testing::outcomes;
using testing::spawn_client;

struct overlap_counts {
  std::atomic<int32_t> answered_by_next_step{0};
  std::atomic<int32_t> answered_after_pause{0};
};

// Runs each step at once (sequence_states + the fake model) but holds its answer until the next
// step arrives, or until `pause` has passed (a release_sequences without ids to itself wakes it).
executor_actor spawn_lagging_executor(caf::actor_system& system,
                                      std::shared_ptr<overlap_counts> counts,
                                      std::chrono::milliseconds pause) {
  struct held_step {
    caf::typed_response_promise<step_executed> promise;
    std::vector<runtime::sampled_token> tokens;
    std::chrono::steady_clock::time_point since;
  };
  struct state {
    runtime::sequence_states sequences;
    testing::fake_runner runner{{}, std::make_shared<testing::fake_runner_probe>()};
    std::optional<held_step> held;
  };
  return system.spawn(
      [counts, pause](executor_actor::pointer self) -> executor_actor::behavior_type {
        auto s = std::make_shared<state>();
        auto answer = [s] {
          s->held->promise.deliver(step_executed{std::move(s->held->tokens)});
          s->held.reset();
        };
        return {
            [self, s, counts, pause, answer](execute_step& msg) -> caf::result<step_executed> {
              auto promise = self->make_response_promise<step_executed>();
              if (s->held) {
                answer();
                ++counts->answered_by_next_step;
              }
              auto batch = s->sequences.apply(msg.delta);
              if (!batch) return caf::make_error(caf::sec::runtime_error, batch.message());
              auto tokens = s->runner.execute(*batch);
              s->sequences.record_sampled(tokens);
              s->held = held_step{promise, std::move(tokens), std::chrono::steady_clock::now()};
              self->delayed_send(self, pause, release_sequences{});
              return promise;
            },
            [s, counts, pause, answer](release_sequences& msg) {
              s->sequences.release(msg.seq_ids);
              if (!msg.seq_ids.empty() || !s->held) return;
              if (std::chrono::steady_clock::now() - s->held->since < pause) return;
              answer();
              ++counts->answered_after_pause;
            },
        };
      });
}

TEST(AsyncSchedulingActors, TheNextStepArrivesBeforeTheStepBeforeItIsAnswered) {
  telemetry::registry registry;
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  auto counts = std::make_shared<overlap_counts>();
  auto counters = std::make_shared<engine_counters>();
  auto kind = [&](const std::string& name) { return actor_kind_metrics::create(registry, name); };
  const testing::fake_runner_options fake;
  std::vector<executor_actor> executors = {spawn_lagging_executor(system, counts, 50ms)};
  auto allocator = spawn_kv_allocator(system, fake.num_kv_blocks, fake.block_size, counters,
                                      std::nullopt, kind("kv_allocator"));
  batcher_options options;
  options.scheduler = {8, 64, true, 256, fake.block_size, runtime::block_hash_algo::sha256};
  options.async_scheduling = true;
  auto batcher = spawn_batcher(system, options, allocator, executors, counters,
                               {kind("batcher"), step_metrics::create(registry), std::nullopt});
  auto out = std::make_shared<outcomes>();
  const std::vector<int32_t> prompts[] = {{'a', 's', 'y', 'n', 'c'}, {'o', 'v', 'e', 'r'}};
  for (uint64_t id : {1u, 2u}) {
    runtime::request_spec spec;
    spec.id = id;
    spec.prompt_token_ids = prompts[id - 1];
    spec.max_tokens = 24;
    caf::anon_send(batcher, submit_generation{std::move(spec), spawn_client(system, out)});
  }
  ASSERT_TRUE(out->wait_all(2));
  {
    std::lock_guard lock{out->mutex};
    for (uint64_t id : {1u, 2u})
      EXPECT_EQ(out->tokens[id], testing::fake_generate(prompts[id - 1], 24)) << id;
  }
  // About 25 steps; only those with nothing left to schedule behind them wait for the pause.
  EXPECT_GE(counts->answered_by_next_step.load(), 20);
  EXPECT_LE(counts->answered_after_pause.load(), 3);
  caf::anon_send_exit(batcher, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(allocator, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(executors[0], caf::exit_reason::user_shutdown);
}

// -- through the engine --

struct engine_run {
  std::vector<std::string> texts;
  std::vector<std::string> finish_reasons;
  int64_t num_preemptions = 0;
};

// Requests 0..n-1 (request i: prompt "prompt i", 10 + i tokens, EOS at output 7 for every
// third) on a tight cache, request `abort_index` (40 tokens) aborted after its third event.
engine_run run_engine(bool async, int n, int abort_index) {
  runtime::engine_config config;
  config.served_model_name = "fake";
  config.disable_log_requests = true;
  config.async_scheduling = async;
  config.max_num_seqs = 6;
  config.max_num_batched_tokens = 16;
  testing::fake_runner_options fake;
  fake.num_kv_blocks = 16;
  fake.block_size = 4;
  fake.step_sleep = 200us;
  fake.eos_at = 7;
  auto probe = std::make_shared<testing::fake_runner_probe>();
  auto started = start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                              std::make_unique<testing::fake_runner>(fake, probe), 96);
  EXPECT_TRUE(started.ok());
  if (!started) return {};
  auto& eng = **started;
  std::vector<std::shared_ptr<testing::collecting_sink>> sinks;
  uint64_t abort_id = 0;
  for (int i = 0; i < n; ++i) {
    generation_request request;
    request.prompt = "prompt " + std::to_string(i);
    request.max_tokens = i == abort_index ? 40 : 10 + i;
    request.ignore_eos = i % 3 != 0;
    sinks.push_back(std::make_shared<testing::collecting_sink>());
    const uint64_t id = eng.submit(std::move(request), sinks.back());
    if (i == abort_index) abort_id = id;
  }
  engine_run run;
  for (int i = 0; i < n; ++i) {
    if (i == abort_index) {
      EXPECT_TRUE(sinks[size_t(i)]->wait_events(3));
      eng.abort(abort_id);
    }
    EXPECT_TRUE(sinks[size_t(i)]->wait_finished()) << i;
    run.texts.push_back(sinks[size_t(i)]->text());
    run.finish_reasons.push_back(sinks[size_t(i)]->last().finish_reason);
  }
  // Every block comes back.
  for (int i = 0; i < 5000 && eng.stats().num_kv_blocks_used != 0; ++i)
    std::this_thread::sleep_for(2ms);
  EXPECT_EQ(eng.stats().num_kv_blocks_used, 0);
  EXPECT_EQ(probe->num_errors.load(), 0);
  run.num_preemptions = eng.stats().num_preemptions;
  return run;
}

TEST(AsyncSchedulingActors, TheEngineGeneratesWhatItDoesWithoutAsyncScheduling) {
  constexpr int n = 14;
  constexpr int aborted = 4;
  const engine_run sync = run_engine(false, n, aborted);
  const engine_run async = run_engine(true, n, aborted);
  ASSERT_EQ(async.texts.size(), size_t(n));
  ASSERT_EQ(sync.texts.size(), size_t(n));
  EXPECT_GT(async.num_preemptions, 0) << "the cache was never tight";
  for (int i = 0; i < n; ++i) {
    if (i == aborted) {
      EXPECT_EQ(async.finish_reasons[size_t(i)], "abort");
      continue;
    }
    EXPECT_GE(sync.texts[size_t(i)].size(), 7u) << i;
    EXPECT_EQ(async.texts[size_t(i)], sync.texts[size_t(i)]) << i;
    EXPECT_EQ(async.finish_reasons[size_t(i)], sync.finish_reasons[size_t(i)]) << i;
  }
}

}  // namespace
}  // namespace troupe::actors
