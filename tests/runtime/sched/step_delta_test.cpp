// The step protocol end to end without actors: the scheduler's deltas, applied to the executor's
// sequence_states, rebuild every step exactly as a full copy of the scheduler's and allocator's
// state would give it (tables, positions, tokens, sampling, the penalties' history), through
// prefix-cache hits, n > 1 groups, preemption, aborts, finishes and failed steps; and once the
// work is done the executor holds nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include "runtime/sched/scheduler.hpp"
#include "runtime/sequence_states.hpp"

namespace troupe::runtime {
namespace {

struct protocol_harness {
  protocol_harness(scheduler_config config, int32_t num_blocks)
      : sched(config), alloc(num_blocks, config.block_size) {}

  // One step as the batcher runs it; `fail`: the executor's reply is an error, so the batcher
  // aborts the step's requests instead of updating.
  void step(bool fail, std::mt19937& rng) {
    const step_plan plan = sched.schedule(alloc);
    auto batch = states.apply(plan.delta);
    ASSERT_TRUE(batch.ok()) << batch.message();
    ASSERT_EQ(states.num_sequences(), sched.num_running());
    ASSERT_EQ(batch->seqs.size(), plan.delta.seqs.size());
    std::vector<sampled_token> sampled;
    size_t offset = 0;
    for (const auto& seq : batch->seqs) {
      check_against_full_copy(seq, std::span(batch->token_ids).subspan(offset, seq.num_tokens));
      offset += static_cast<size_t>(seq.num_tokens);
      if (seq.sample) sampled.push_back({seq.seq_id, 1 + int32_t(rng() % 90), 0.f});
    }
    if (fail) {
      for (const auto& chunk : plan.delta.seqs)
        abort(chunk.seq_id);
      return;
    }
    std::vector<uint64_t> finished;
    for (const auto& out : sched.update(plan, sampled))
      if (out.finish != finish_reason::none) finished.push_back(out.request_id);
    alloc.release(finished);
  }

  void check_against_full_copy(const seq_step& seq, std::span<const int32_t> tokens) {
    const sched_request* r = sched.find(seq.seq_id);
    ASSERT_NE(r, nullptr);
    const auto* table = alloc.cache().block_table(seq.seq_id);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(seq.block_table, *table) << "sequence " << seq.seq_id;
    EXPECT_EQ(seq.start_pos + seq.num_tokens, r->num_computed_tokens);
    const auto begin = r->token_ids.begin() + seq.start_pos;
    EXPECT_TRUE(std::equal(tokens.begin(), tokens.end(), begin, begin + seq.num_tokens));
    EXPECT_EQ(seq.sampling, r->spec.sampling);
    EXPECT_EQ(seq.sample, r->num_computed_tokens == r->num_tokens());
    if (!seq.sample) return;
    ++num_samples;
    EXPECT_EQ(seq.output_index, r->num_output_tokens());
    if (r->spec.sampling.has_penalties()) {
      ++num_histories;
      EXPECT_TRUE(std::equal(seq.token_history.begin(), seq.token_history.end(),
                             r->token_ids.begin(), r->token_ids.end()))
          << "sequence " << seq.seq_id;
    } else {
      EXPECT_TRUE(seq.token_history.empty());
    }
  }

  void abort(uint64_t id) {
    if (!sched.abort(id)) return;
    const std::vector<uint64_t> ids{id};
    alloc.release(ids);
  }

  scheduler sched;
  kv_allocator alloc;
  sequence_states states;
  int32_t num_samples = 0;
  int32_t num_histories = 0;
};

request_spec random_request(uint64_t id, std::mt19937& rng) {
  request_spec spec;
  spec.id = id;
  const int32_t prefix = int32_t(rng() % 3);  // a few shared prompt beginnings: cache hits
  const int32_t num_prompt = 1 + int32_t(rng() % 20);
  for (int32_t i = 0; i < num_prompt; ++i)
    spec.prompt_token_ids.push_back(i < 12 ? 100 + prefix * 12 + i : int32_t(rng() % 90) + 1);
  spec.max_tokens = 1 + int32_t(rng() % 12);
  spec.cache_prefix = rng() % 4 != 0;
  if (rng() % 2 == 0) {
    spec.sampling.repetition_penalty = 1.1f;
    spec.sampling.frequency_penalty = 0.2f;
  }
  if (rng() % 3 == 0) {
    spec.sampling.logit_bias = {{3, 1.0f}, {int32_t(rng() % 90), -2.0f}};
    spec.sampling.min_tokens = 2;
    spec.sampling.min_tokens_stop_ids = {0, 7};
  }
  spec.sampling.seed = rng();
  return spec;
}

TEST(step_delta, deltas_rebuild_every_step_and_leave_nothing_behind) {
  std::mt19937 rng(77);
  int64_t num_preemptions = 0, num_hits = 0, num_failed = 0;
  int32_t num_samples = 0, num_histories = 0;
  for (int round = 0; round < 30; ++round) {
    const bool chunked = round % 3 != 0;
    scheduler_config config{
        1 + int32_t(rng() % 8), chunked ? 4 + int32_t(rng() % 30) : 40, chunked, 40, 4,
        block_hash_algo::sha256};
    protocol_harness h(config, 10 + int32_t(rng() % 30));
    uint64_t next_id = 1;
    for (int step = 0; step < 200 || h.sched.has_work(); ++step) {
      ASSERT_LT(step, 5000) << "no progress";
      if (step < 200 && rng() % 3 == 0) {
        const auto spec = random_request(next_id, rng);
        const int32_t n = rng() % 4 == 0 ? 3 : 1;  // n > 1: consecutive ids, one prompt
        for (int32_t i = 0; i < n; ++i) {
          auto choice = spec;
          choice.id = next_id++;
          choice.sampling.seed += uint64_t(i);
          ASSERT_TRUE(h.sched.add_request(std::move(choice)).ok());
        }
      }
      if (rng() % 12 == 0 && next_id > 1) h.abort(1 + rng() % (next_id - 1));
      if (!h.sched.has_work()) {
        h.states.release(h.sched.take_released());  // the batcher going idle
        ASSERT_EQ(h.states.num_sequences(), 0);
        continue;
      }
      const bool fail = rng() % 25 == 0;
      num_failed += fail;
      h.step(fail, rng);
      if (::testing::Test::HasFatalFailure()) return;
    }
    h.states.release(h.sched.take_released());
    EXPECT_EQ(h.states.num_sequences(), 0) << "round " << round;
    EXPECT_EQ(h.alloc.cache().num_used_blocks(), 0) << "round " << round;
    num_preemptions += h.sched.num_preemptions();
    num_hits += h.alloc.stats().num_hits;
    num_samples += h.num_samples;
    num_histories += h.num_histories;
  }
  // Every path was taken.
  EXPECT_GT(num_preemptions, 0);
  EXPECT_GT(num_hits, 0);
  EXPECT_GT(num_failed, 0);
  EXPECT_GT(num_histories, 0);
  EXPECT_GT(num_samples, num_histories);
}

}  // namespace
}  // namespace troupe::runtime
