#include "runtime/sched/scheduler.hpp"

#include <gtest/gtest.h>

#include "runtime/sequence_states.hpp"

#include <map>
#include <random>

namespace troupe::runtime {
namespace {

// A fake model: request r's output token i is 1000 + i, whatever the batch looks like.
constexpr int32_t first_output_token = 1000;

request_spec make_request(uint64_t id, int32_t num_prompt, int32_t max_tokens,
                          std::vector<int32_t> stops = {}) {
  request_spec spec;
  spec.id = id;
  for (int32_t i = 0; i < num_prompt; ++i)
    spec.prompt_token_ids.push_back(i + 1);
  spec.max_tokens = max_tokens;
  spec.stop_token_ids = std::move(stops);
  return spec;
}

// The scheduler and the allocator as the batcher drives them, with the executor's side of each
// step (sequence_states) in between: the tests read the batch the runner would get.
struct harness {
  harness(scheduler_config config, int32_t num_blocks, int32_t block_size)
      : sched(config), alloc(num_blocks, block_size) {}

  void add(request_spec spec) { ASSERT_TRUE(sched.add_request(std::move(spec)).ok()); }

  std::vector<request_output> execute_and_update(const step_plan& plan) {
    auto batch = states.apply(plan.delta);
    EXPECT_TRUE(batch.ok()) << batch.message();
    last_batch = batch ? std::move(*batch) : step_batch{};
    // The executor holds exactly the running sequences (an empty plan carries no releases: the
    // next one does).
    if (!plan.empty()) {
      EXPECT_EQ(states.num_sequences(), sched.num_running());
    }
    for (uint64_t id : sched.running())
      EXPECT_NE(states.find(id), nullptr) << "sequence " << id;
    std::vector<sampled_token> sampled;
    for (const auto& seq : last_batch.seqs) {
      if (seq.sample) sampled.push_back({seq.seq_id, first_output_token + seq.output_index, 0.f});
    }
    auto outputs = sched.update(plan, sampled);
    std::vector<uint64_t> finished;
    for (const auto& out : outputs) {
      if (out.finish != finish_reason::none) finished.push_back(out.request_id);
    }
    alloc.release(finished);
    return outputs;
  }

  // One step; returns the plan's {request id -> tokens scheduled}.
  std::map<uint64_t, int32_t> step() {
    last_plan = sched.schedule(alloc);
    std::map<uint64_t, int32_t> scheduled;
    for (const auto& seq : last_plan.delta.seqs)
      scheduled[seq.seq_id] = seq.num_tokens;
    last_outputs = execute_and_update(last_plan);
    return scheduled;
  }

  // The releases no step carried (the batcher's release_sequences when it goes idle).
  void release_idle() { states.release(sched.take_released()); }

  scheduler sched;
  kv_allocator alloc;
  sequence_states states;
  step_plan last_plan;
  step_batch last_batch;  // views `states`: valid until the next step
  std::vector<request_output> last_outputs;
};

scheduler_config config(int32_t max_num_seqs, int32_t budget, bool chunked = true,
                        int32_t max_model_len = 1024) {
  return {max_num_seqs, budget, chunked, max_model_len};
}

scheduler_config by_priority(scheduler_config c) {
  c.policy = scheduling_policy::priority;
  return c;
}

request_spec with_priority(request_spec spec, int64_t priority) {
  spec.priority = priority;
  return spec;
}

TEST(Scheduler, TokenBudgetCutsTheLastPrompt) {
  harness h(config(8, 10), 64, 4);
  h.add(make_request(1, 6, 4));
  h.add(make_request(2, 6, 4));
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 6}, {2, 4}}));
  EXPECT_EQ(h.last_plan.num_scheduled_tokens(), 10);
  ASSERT_EQ(h.last_outputs.size(), 1u);  // request 2's prompt is not complete yet
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 2}}));
  EXPECT_EQ(h.last_outputs.size(), 2u);
}

TEST(Scheduler, RunningRequestsComeFirst) {
  harness h(config(8, 3), 64, 4);
  h.add(make_request(1, 2, 8));
  h.add(make_request(2, 2, 8));
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 2}, {2, 1}}));
  h.add(make_request(3, 2, 8));
  // Decode of 1, the rest of 2's prompt, then one token of 3's prompt.
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 1}, {3, 1}}));
}

TEST(Scheduler, MaxNumSeqsLimitsRunning) {
  harness h(config(2, 100), 64, 4);
  for (uint64_t id = 1; id <= 3; ++id)
    h.add(make_request(id, 3, 2));
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 3}, {2, 3}}));
  EXPECT_EQ(h.sched.num_running(), 2);
  EXPECT_EQ(h.sched.num_waiting(), 1);
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 1}}));  // both finish (2 tokens)
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{3, 3}}));
}

TEST(Scheduler, ChunkedPrefillContinuesAcrossSteps) {
  harness h(config(8, 4), 64, 4);
  h.add(make_request(1, 10, 2));
  for (int32_t start : {0, 4, 8}) {
    h.step();
    ASSERT_EQ(h.last_batch.seqs.size(), 1u);
    const auto& seq = h.last_batch.seqs[0];
    EXPECT_EQ(seq.start_pos, start);
    EXPECT_EQ(seq.num_tokens, start == 8 ? 2 : 4);
    EXPECT_EQ(seq.sample, start == 8);
    EXPECT_EQ(seq.output_index, 0);
    EXPECT_EQ(static_cast<int32_t>(seq.block_table.size()), (start + seq.num_tokens + 3) / 4);
  }
  // The chunk's tokens are the prompt's, in order.
  EXPECT_EQ(h.last_batch.token_ids, (std::vector<int32_t>{9, 10}));
  ASSERT_EQ(h.last_outputs.size(), 1u);
  EXPECT_EQ(h.last_outputs[0].new_token_ids, (std::vector<int32_t>{first_output_token}));
  h.step();  // decode: the sampled token goes in at position 10
  EXPECT_EQ(h.last_batch.seqs[0].start_pos, 10);
  EXPECT_EQ(h.last_batch.token_ids, (std::vector<int32_t>{first_output_token}));
}

TEST(Scheduler, WithoutChunkingAPromptWaitsForRoomButNotTheOnesBehindIt) {
  harness h(config(8, 8, /*chunked=*/false), 64, 4);
  h.add(make_request(1, 5, 4));
  h.add(make_request(2, 5, 4));  // 3 tokens left in step 1: waits, whole
  h.add(make_request(3, 1, 4));  // fits: starts in step 1 anyway
  h.add(make_request(4, 3, 4));  // 2 tokens left: waits
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 5}, {3, 1}}));
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 5}, {3, 1}}));  // 1 left for 4
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 1}, {3, 1}, {4, 3}}));
}

TEST(Scheduler, RejectsBadRequestsAtAdmission) {
  scheduler sched(config(8, 8, /*chunked=*/false, 32));
  EXPECT_FALSE(sched.add_request(make_request(1, 9, 4)).ok());   // longer than the budget
  EXPECT_FALSE(sched.add_request(make_request(2, 0, 4)).ok());   // empty
  EXPECT_FALSE(sched.add_request(make_request(3, 32, 4)).ok());  // no room for output
  EXPECT_FALSE(sched.add_request(make_request(4, 3, 0)).ok());
  EXPECT_TRUE(sched.add_request(make_request(5, 8, 4)).ok());
  EXPECT_FALSE(sched.add_request(make_request(5, 2, 4)).ok());  // duplicate id
  EXPECT_EQ(sched.num_waiting(), 1);
}

TEST(Scheduler, PreemptsTheTailAndRecomputes) {
  // block_size 2, 8 blocks: four 3-token prompts take 2 blocks each, then decodes need more.
  harness h(config(8, 100), 8, 2);
  for (uint64_t id = 1; id <= 4; ++id)
    h.add(make_request(id, 3, 6));
  h.step();  // prefill: 4 tokens each now, 2 blocks each, 0 free
  h.step();  // decode at position 3 fits; 5 tokens each now
  EXPECT_EQ(h.alloc.cache().num_free_blocks(), 0);
  EXPECT_EQ(h.sched.num_preemptions(), 0);
  // Position 4 needs a third block for everyone: 4 is preempted for 1 (freeing 2 blocks: one for
  // 1, one for 2), then 3 for itself.
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 1}}));
  EXPECT_EQ(h.last_plan.preempted, (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(h.sched.num_preemptions(), 2);
  EXPECT_EQ(h.sched.waiting(), (std::deque<uint64_t>{3, 4}));  // running order kept
  const auto* r3 = h.sched.find(3);
  ASSERT_NE(r3, nullptr);
  EXPECT_EQ(r3->num_computed_tokens, 0);
  EXPECT_EQ(r3->num_tokens(), 5);  // its tokens stay
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 6);
  EXPECT_EQ(h.alloc.cache().block_table(3), nullptr);
  // Request 3 comes back with all 5 tokens recomputed and samples its third output.
  for (int i = 0; i < 20 && h.sched.find(3)->num_computed_tokens == 0; ++i)
    h.step();
  const auto& resumed = h.last_batch.seqs.front();
  EXPECT_EQ(resumed.seq_id, 3u);
  EXPECT_EQ(resumed.start_pos, 0);
  EXPECT_EQ(resumed.num_tokens, 5);
  EXPECT_TRUE(resumed.sample);
  EXPECT_EQ(resumed.output_index, 2);
}

TEST(Scheduler, FinishReasons) {
  harness h(config(8, 100, true, 8), 64, 4);
  h.add(make_request(1, 2, 10, {first_output_token + 2}));  // stops at its 3rd output
  auto ignoring = make_request(2, 2, 4, {first_output_token + 2});
  ignoring.ignore_eos = true;
  h.add(std::move(ignoring));      // runs to max_tokens
  h.add(make_request(3, 5, 100));  // reaches max_model_len (8) after 3 outputs
  std::map<uint64_t, std::pair<finish_reason, int32_t>> finished;
  for (int i = 0; i < 10 && h.sched.has_work(); ++i) {
    h.step();
    for (const auto& out : h.last_outputs) {
      if (out.finish != finish_reason::none)
        finished[out.request_id] = {out.finish, out.num_output_tokens};
    }
  }
  EXPECT_EQ(finished[1], std::make_pair(finish_reason::stop, 3));
  EXPECT_EQ(finished[2], std::make_pair(finish_reason::length, 4));
  EXPECT_EQ(finished[3], std::make_pair(finish_reason::length, 3));
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 0);
}

TEST(Scheduler, AbortRemovesRequestsAnywhere) {
  harness h(config(1, 100), 64, 4);
  h.add(make_request(1, 6, 50));
  h.add(make_request(2, 6, 50));
  h.step();
  EXPECT_GT(h.alloc.cache().num_used_blocks(), 0);
  EXPECT_TRUE(h.sched.abort(1));   // running
  EXPECT_TRUE(h.sched.abort(2));   // waiting
  EXPECT_FALSE(h.sched.abort(2));  // gone
  const std::vector<uint64_t> aborted{1, 2};
  h.alloc.release(aborted);
  EXPECT_FALSE(h.sched.has_work());
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 0);
  // Only the running one was on the executor; no step follows, so the caller releases it.
  EXPECT_EQ(h.sched.take_released(), std::vector<uint64_t>{1});
  EXPECT_TRUE(h.sched.take_released().empty());
}

// Random arrivals, aborts and tiny KV pools, under both policies (random priorities): every
// invariant holds after every step, every request that is not aborted gets exactly its expected
// output, and no block leaks.
TEST(Scheduler, RandomizedOperationsLeakNoBlocks) {
  std::mt19937 rng(20240611);
  int64_t num_preemptions = 0;
  for (int round = 0; round < 60; ++round) {
    const bool chunked = round % 2 == 0;
    const bool priority = round % 3 == 2;
    const int32_t max_model_len = 48, block_size = 1 + static_cast<int32_t>(rng() % 6);
    const int32_t num_blocks = (max_model_len + block_size - 1) / block_size + int32_t(rng() % 20);
    const int32_t budget = chunked ? 4 + int32_t(rng() % 40) : 24 + int32_t(rng() % 40);
    auto c = config(1 + int32_t(rng() % 6), budget, chunked, max_model_len);
    harness h(priority ? by_priority(c) : c, num_blocks, block_size);
    std::map<uint64_t, std::vector<int32_t>> outputs;
    std::map<uint64_t, int32_t> expected_len;
    uint64_t next_id = 1;
    for (int step = 0; step < 400 || h.sched.has_work(); ++step) {
      ASSERT_LT(step, 5000) << "no progress";
      if (step < 400 && rng() % 3 == 0) {
        const int32_t num_prompt = 1 + int32_t(rng() % std::min(budget, max_model_len - 1));
        const int32_t max_tokens = 1 + int32_t(rng() % 30);
        expected_len[next_id] = std::min(max_tokens, max_model_len - num_prompt);
        const auto level = static_cast<int64_t>(rng() % 4);
        h.add(with_priority(make_request(next_id++, num_prompt, max_tokens), level));
      }
      if (rng() % 10 == 0 && next_id > 1) {
        const uint64_t victim = 1 + rng() % (next_id - 1);
        if (h.sched.abort(victim)) expected_len.erase(victim);
        const std::vector<uint64_t> ids{victim};
        h.alloc.release(ids);
      }
      if (!h.sched.has_work()) continue;
      h.step();
      // Under priority the first running request can be preempted for itself: then the step is
      // empty but freed blocks.
      ASSERT_TRUE(!h.last_plan.empty() || !h.last_plan.preempted.empty())
          << "a step with work scheduled nothing";
      ASSERT_LE(h.last_plan.num_scheduled_tokens(), budget);
      ASSERT_LE(h.sched.num_running(), h.sched.config().max_num_seqs);
      int32_t num_blocks_held = 0;
      for (uint64_t id : h.sched.running()) {
        const auto* r = h.sched.find(id);
        const auto* table = h.alloc.cache().block_table(id);
        ASSERT_NE(table, nullptr);
        const auto* executor_side = h.states.find(id);
        ASSERT_NE(executor_side, nullptr);
        ASSERT_EQ(*table, executor_side->block_table);  // the deltas rebuilt the whole table
        ASSERT_GE(int32_t(table->size()) * block_size, r->num_computed_tokens);
        num_blocks_held += int32_t(table->size());
      }
      for (uint64_t id : h.sched.waiting()) {
        const auto* table = h.alloc.cache().block_table(id);
        num_blocks_held += table ? int32_t(table->size()) : 0;
      }
      ASSERT_EQ(num_blocks_held, h.alloc.cache().num_used_blocks());
      for (const auto& out : h.last_outputs) {
        auto& tokens = outputs[out.request_id];
        tokens.insert(tokens.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      }
    }
    EXPECT_EQ(h.alloc.cache().num_used_blocks(), 0) << "round " << round;
    h.release_idle();
    EXPECT_EQ(h.states.num_sequences(), 0) << "round " << round;  // no executor state leaks
    num_preemptions += h.sched.num_preemptions();
    for (const auto& [id, len] : expected_len) {
      std::vector<int32_t> expected;
      for (int32_t i = 0; i < len; ++i)
        expected.push_back(first_output_token + i);
      EXPECT_EQ(outputs[id], expected) << "request " << id << " round " << round;
    }
  }
  EXPECT_GT(num_preemptions, 0) << "the pools were never tight: the test proves little";
}

TEST(SchedulingPolicy, PriorityQueuesByPriorityThenArrival) {
  harness h(by_priority(config(1, 100)), 64, 4);
  h.add(with_priority(make_request(1, 2, 2), 0));
  h.step();  // 1 runs; the rest wait for its seat
  h.add(with_priority(make_request(2, 2, 2), 5));
  h.add(with_priority(make_request(3, 2, 2), -1));
  h.add(with_priority(make_request(4, 2, 2), 5));
  h.add(with_priority(make_request(5, 2, 2), -1));
  EXPECT_EQ(h.sched.waiting(), (std::deque<uint64_t>{3, 5, 2, 4}));
  std::vector<uint64_t> admitted;
  for (int i = 0; i < 20 && h.sched.has_work(); ++i) {
    h.step();
    for (const auto& a : h.last_plan.delta.admitted)
      admitted.push_back(a.seq_id);
  }
  EXPECT_EQ(admitted, (std::vector<uint64_t>{3, 5, 2, 4}));
}

TEST(SchedulingPolicy, FcfsIgnoresPriority) {
  harness h(config(1, 100), 64, 4);
  h.add(make_request(1, 2, 2));
  h.step();
  h.add(with_priority(make_request(2, 2, 2), 5));
  h.add(with_priority(make_request(3, 2, 2), -1));
  EXPECT_EQ(h.sched.waiting(), (std::deque<uint64_t>{2, 3}));
}

// block_size 4, 4 blocks. A (3-token prompt), B (2), C (3), B the least urgent. In the third step
// A and C cross into a second block and B does not: A takes the last free block, B is granted
// nothing new, C finds none and preempts B (the highest priority value), whose grant is taken
// back; B waits at its place and comes back once A and C are done.
TEST(SchedulingPolicy, PreemptsTheLeastUrgentEvenIfGrantedInTheStep) {
  harness h(by_priority(config(8, 100)), 4, 4);
  h.add(with_priority(make_request(1, 3, 5), 0));
  h.add(with_priority(make_request(2, 2, 3), 7));
  h.add(with_priority(make_request(3, 3, 5), 0));
  h.step();
  h.step();
  EXPECT_EQ(h.alloc.cache().num_free_blocks(), 1);
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{1, 1}, {3, 1}}));
  EXPECT_EQ(h.last_plan.preempted, (std::vector<uint64_t>{2}));
  EXPECT_EQ(h.sched.waiting(), (std::deque<uint64_t>{2}));
  EXPECT_EQ(h.alloc.cache().block_table(2), nullptr);
  // The same pool under FCFS preempts the tail (C) instead.
  harness fcfs(config(8, 100), 4, 4);
  fcfs.add(make_request(1, 3, 5));
  fcfs.add(make_request(2, 2, 3));
  fcfs.add(make_request(3, 3, 5));
  fcfs.step();
  fcfs.step();
  EXPECT_EQ(fcfs.step(), (std::map<uint64_t, int32_t>{{1, 1}, {2, 1}}));
  EXPECT_EQ(fcfs.last_plan.preempted, (std::vector<uint64_t>{3}));
  // Under priority B finishes last, with all its tokens.
  std::map<uint64_t, int32_t> finished_at;
  for (int i = 0; i < 20 && h.sched.has_work(); ++i) {
    h.step();
    for (const auto& out : h.last_outputs) {
      if (out.finish != finish_reason::none) finished_at[out.request_id] = i;
    }
  }
  ASSERT_EQ(finished_at.size(), 3u);
  EXPECT_GT(finished_at[2], finished_at[1]);
  EXPECT_GT(finished_at[2], finished_at[3]);
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 0);
}

// The first running request is the least urgent and the pool is dry: it is preempted for itself,
// the step schedules nothing, and the next steps run the others on the block it freed.
TEST(SchedulingPolicy, TheFirstRunningRequestCanBePreemptedForItself) {
  harness h(by_priority(config(8, 100)), 3, 4);
  h.add(with_priority(make_request(1, 3, 3), 9));
  h.step();  // alone, so first in the running list (admission follows priority)
  h.add(with_priority(make_request(2, 3, 3), 0));
  h.add(with_priority(make_request(3, 3, 3), 0));
  h.step();
  EXPECT_EQ(h.alloc.cache().num_free_blocks(), 0);
  EXPECT_TRUE(h.step().empty());
  EXPECT_EQ(h.last_plan.preempted, (std::vector<uint64_t>{1}));
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{2, 1}, {3, 1}}));  // in their first block
  EXPECT_EQ(h.step(), (std::map<uint64_t, int32_t>{{2, 1}}));          // 2 takes the block 1 freed
  EXPECT_EQ(h.last_plan.preempted, (std::vector<uint64_t>{3}));        // and 3 goes for itself
  for (int i = 0; i < 30 && h.sched.has_work(); ++i)
    h.step();
  EXPECT_FALSE(h.sched.has_work());
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 0);
}

// A request with prompt logprobs takes no prefix-cache hits (vLLM's skip_reading_prefix_cache),
// still registers its blocks, gets its prompt with its admission, and receives the prompt
// logprobs of every chunk: alone for a chunk that samples nothing, with the token otherwise.
TEST(Scheduler, PromptLogprobsSkipCacheHitsAndReachTheirRequest) {
  auto c = config(8, 6);
  c.block_size = 4;  // the allocator's
  harness h(c, 64, 4);
  auto cached = make_request(1, 9, 1);
  cached.cache_prefix = true;
  h.add(cached);
  while (h.sched.num_running() + h.sched.num_waiting() > 0)
    h.step();
  auto plain = make_request(3, 9, 1);
  plain.cache_prefix = true;
  h.add(plain);
  auto scored = make_request(2, 9, 1);
  scored.cache_prefix = true;
  scored.sampling.num_prompt_logprobs = 2;
  h.add(scored);

  const step_plan plan = h.sched.schedule(h.alloc);
  ASSERT_EQ(plan.delta.admitted.size(), 2u);
  EXPECT_EQ(plan.delta.admitted[0].num_computed_tokens, 8);  // two blocks found
  EXPECT_TRUE(plan.delta.admitted[0].prompt_token_ids.empty());
  EXPECT_EQ(plan.delta.admitted[1].num_computed_tokens, 0);  // the whole prompt computed
  EXPECT_EQ(plan.delta.admitted[1].prompt_token_ids, cached.prompt_token_ids);
  ASSERT_EQ(plan.delta.seqs.size(), 2u);
  ASSERT_EQ(plan.delta.seqs[1].num_tokens, 5);  // the budget cuts the scored prompt
  EXPECT_FALSE(plan.delta.seqs[1].sample);
  auto batch = h.states.apply(plan.delta);
  ASSERT_TRUE(batch.ok()) << batch.message();
  std::vector<sampled_token> out = {{3, first_output_token, 0.0f}};
  for (int32_t p = 1; p <= 5; ++p) {
    sampled_token t{2, p + 1, -0.5f * static_cast<float>(p), {}};
    t.prompt_position = p;
    out.push_back(t);
  }
  auto outputs = h.sched.update(plan, out);
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].request_id, 3u);
  EXPECT_TRUE(outputs[0].prompt_logprobs.empty());
  EXPECT_EQ(outputs[1].request_id, 2u);
  EXPECT_TRUE(outputs[1].new_token_ids.empty());
  EXPECT_EQ(outputs[1].finish, finish_reason::none);
  ASSERT_EQ(outputs[1].prompt_logprobs.size(), 5u);
  EXPECT_EQ(outputs[1].prompt_logprobs[4].prompt_position, 5);
  h.alloc.release(std::vector<uint64_t>{3});

  // The rest of the prompt samples: its last prompt logprobs come with the token.
  const step_plan next = h.sched.schedule(h.alloc);
  ASSERT_EQ(next.delta.seqs.size(), 1u);
  EXPECT_TRUE(next.delta.seqs[0].sample);
  ASSERT_TRUE(h.states.apply(next.delta).ok());
  std::vector<sampled_token> last = {{2, first_output_token, 0.0f}};
  for (int32_t p = 6; p <= 8; ++p) {
    sampled_token t{2, p + 1, -0.25f, {}};
    t.prompt_position = p;
    last.push_back(t);
  }
  outputs = h.sched.update(next, last);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].new_token_ids, (std::vector<int32_t>{first_output_token}));
  EXPECT_EQ(outputs[0].finish, finish_reason::length);
  ASSERT_EQ(outputs[0].prompt_logprobs.size(), 3u);
  EXPECT_EQ(outputs[0].prompt_logprobs[0].prompt_position, 6);
}

}  // namespace
}  // namespace troupe::runtime
