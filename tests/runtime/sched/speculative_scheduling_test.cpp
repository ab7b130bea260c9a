// Speculative decoding in the scheduler and the executor's sequence states: drafts proposed from
// a request's own tokens go into its next chunk, the accepted ones stay, the rejected ones leave
// both sides' computed tokens, and what the request outputs is what it outputs without drafts.
// The fake model's output i of a request is script[i] whatever came before (a deterministic
// model), so its drafts are accepted exactly while they follow the script.
#include <gtest/gtest.h>

#include <map>

#include "runtime/sched/kv_allocator.hpp"
#include "runtime/sched/scheduler.hpp"
#include "runtime/sequence_states.hpp"

namespace troupe::runtime {
namespace {

constexpr int32_t block_size = 4;

scheduler_config spec_config(int32_t k, int32_t budget = 64) {
  scheduler_config c;
  c.max_num_batched_tokens = budget;
  c.max_model_len = 256;
  c.block_size = block_size;
  c.speculative = {k, 1, 3};
  return c;
}

struct spec_harness {
  explicit spec_harness(scheduler_config config, int32_t num_blocks = 64)
      : sched(config), alloc(num_blocks, block_size) {}

  void add(uint64_t id, std::vector<int32_t> prompt, std::vector<int32_t> script,
           int32_t max_tokens, std::vector<int32_t> eos = {}) {
    request_spec spec;
    spec.id = id;
    spec.prompt_token_ids = std::move(prompt);
    spec.max_tokens = max_tokens;
    spec.stop_token_ids = std::move(eos);
    spec.cache_prefix = true;
    scripts[id] = std::move(script);
    ASSERT_TRUE(sched.add_request(std::move(spec)).ok());
  }

  // One step; returns the plan.
  step_plan step() {
    const step_proposal proposal = sched.propose();
    step_plan plan = sched.finalize(proposal, alloc.reserve(proposal));
    auto batch = states.apply(plan.delta);
    EXPECT_TRUE(batch.ok()) << batch.message();
    if (!batch) return plan;
    std::vector<sampled_token> sampled;
    size_t offset = 0;
    for (const auto& seq : batch->seqs) {
      offset += static_cast<size_t>(seq.num_tokens);
      if (!seq.sample) continue;
      const auto& script = scripts.at(seq.seq_id);
      std::vector<int32_t> rows;
      for (int32_t j = 0; j <= seq.num_draft_tokens; ++j)
        rows.push_back(script.at(static_cast<size_t>(seq.output_index + j)));
      const auto drafts = std::span<const int32_t>(batch->token_ids)
                              .subspan(offset - static_cast<size_t>(seq.num_draft_tokens),
                                       static_cast<size_t>(seq.num_draft_tokens));
      const int32_t kept = accept_draft_tokens(drafts, rows);
      for (int32_t j = 0; j < kept; ++j)
        sampled.push_back({seq.seq_id, rows[static_cast<size_t>(j)], 0.f});
    }
    states.record_sampled(sampled);
    std::vector<uint64_t> finished;
    for (const auto& out : sched.update(plan, sampled)) {
      auto& o = outputs[out.request_id];
      o.insert(o.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      if (out.finish != finish_reason::none) finished.push_back(out.request_id);
    }
    alloc.release(finished);
    // Both sides agree on every running request's computed tokens.
    for (uint64_t id : sched.running()) {
      const auto* held = states.find(id);
      EXPECT_NE(held, nullptr);
      if (held) EXPECT_EQ(held->num_computed_tokens, sched.find(id)->num_computed_tokens) << id;
    }
    return plan;
  }

  void run_to_completion() {
    for (int32_t i = 0; i < 500 && sched.has_work(); ++i)
      step();
    EXPECT_FALSE(sched.has_work());
    EXPECT_EQ(alloc.cache().num_free_blocks(), alloc.cache().num_blocks());
  }

  scheduler sched;
  kv_allocator alloc;
  sequence_states states;
  std::map<uint64_t, std::vector<int32_t>> scripts;
  std::map<uint64_t, std::vector<int32_t>> outputs;
};

const seq_chunk* chunk_of(const step_plan& plan, uint64_t id) {
  for (const auto& c : plan.delta.seqs)
    if (c.seq_id == id) return &c;
  return nullptr;
}

TEST(SpeculativeScheduling, AcceptedDraftsAdvanceSeveralTokensAStep) {
  spec_harness h(spec_config(3));
  // The prompt repeats 1 2 3 4; the model goes on repeating it.
  h.add(1, {1, 2, 3, 4, 1, 2, 3}, {4, 1, 2, 3, 4, 1, 2, 3, 4, 1}, 10);
  step_plan first = h.step();  // the prompt; samples 4
  EXPECT_EQ(chunk_of(first, 1)->num_draft_tokens, 0);
  EXPECT_EQ(h.sched.find(1)->draft_token_ids, (std::vector<int32_t>{1, 2, 3}));
  step_plan second = h.step();  // 4 and the drafts 1 2 3, all accepted, then 4
  const seq_chunk* c = chunk_of(second, 1);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->num_tokens, 4);
  EXPECT_EQ(c->num_draft_tokens, 3);
  EXPECT_EQ(second.delta.token_ids, (std::vector<int32_t>{4, 1, 2, 3}));
  EXPECT_EQ(h.outputs[1], (std::vector<int32_t>{4, 1, 2, 3, 4}));
  EXPECT_EQ(h.sched.find(1)->num_computed_tokens, 11);
  h.run_to_completion();
  EXPECT_EQ(h.outputs[1], h.scripts[1]);
  const auto& stats = h.sched.spec_stats();
  EXPECT_GE(stats.num_drafts, 2);
  EXPECT_EQ(stats.num_accepted_tokens_per_pos.size(), 3u);
  EXPECT_EQ(stats.num_accepted_tokens_per_pos[0], stats.num_drafts);  // the script never breaks
}

TEST(SpeculativeScheduling, RejectedDraftsLeaveBothSidesAndOutputsFollowTheModel) {
  spec_harness h(spec_config(4));
  // Drafts say 1 2 3 4 again; the model turns to 7 after two of them.
  h.add(1, {1, 2, 3, 4, 1, 2, 3, 4}, {1, 2, 7, 8, 9, 1, 2, 3}, 8);
  h.step();  // the prompt; samples 1 (output 0)
  step_plan second = h.step();
  ASSERT_EQ(chunk_of(second, 1)->num_draft_tokens, 4);  // 1 then drafts 2 3 4 1
  // Row after 1 says 2 (accepted), after 2 says 7 (draft 3 rejected): outputs 1 2 7.
  EXPECT_EQ(h.outputs[1], (std::vector<int32_t>{1, 2, 7}));
  EXPECT_EQ(h.sched.find(1)->num_computed_tokens, 8 + 2);  // 1 and 2 in the cache, 7 not yet
  EXPECT_EQ(h.states.find(1)->num_computed_tokens, 10);
  h.run_to_completion();
  EXPECT_EQ(h.outputs[1], h.scripts[1]);
  EXPECT_LT(h.sched.spec_stats().num_accepted_tokens, h.sched.spec_stats().num_draft_tokens);
}

TEST(SpeculativeScheduling, DraftsStopAtMaxTokensAndAStopTokenDropsTheRest) {
  spec_harness h(spec_config(5));
  h.add(1, {5, 6, 5, 6, 5}, {6, 5, 6, 5, 6, 5}, 3);
  h.add(2, {5, 6, 5, 6, 5}, {6, 5, 6, 5, 6, 5}, 20, /*eos=*/{5});
  h.step();
  // Request 1 has two outputs left after its first: one draft, whose follower is its last.
  EXPECT_EQ(h.sched.find(1)->draft_token_ids, (std::vector<int32_t>{5}));
  h.step();
  EXPECT_EQ(h.outputs[1], (std::vector<int32_t>{6, 5, 6}));
  // Request 2 accepts the draft 5 (its stop token): it finishes there, the rest dropped.
  EXPECT_EQ(h.outputs[2], (std::vector<int32_t>{6, 5}));
  EXPECT_FALSE(h.sched.has_work());
  EXPECT_EQ(h.alloc.cache().num_free_blocks(), h.alloc.cache().num_blocks());
}

TEST(SpeculativeScheduling, TheTokenBudgetCutsDrafts) {
  spec_harness h(spec_config(4, /*budget=*/3));
  h.add(1, {1, 2, 1, 2, 1, 2, 1, 2}, {1, 2, 1, 2, 1, 2, 1, 2}, 8);
  for (int i = 0; i < 3; ++i)
    h.step();  // the prompt in chunks of 3, 3 and 2; samples 1
  ASSERT_EQ(h.sched.find(1)->draft_token_ids.size(), 4u);
  step_plan plan = h.step();
  EXPECT_EQ(chunk_of(plan, 1)->num_tokens, 3);  // 1 and two of the four drafts
  EXPECT_EQ(chunk_of(plan, 1)->num_draft_tokens, 2);
  h.run_to_completion();
  EXPECT_EQ(h.outputs[1], h.scripts[1]);
}

// vLLM's num_speculative_tokens_per_batch_size: after a step of two requests, none gets drafts.
TEST(SpeculativeScheduling, APerBatchSizeScheduleSetsTheDraftsAfterAStep) {
  scheduler_config config = spec_config(3);
  config.speculative.per_batch_size = {{1, 1, 3}, {2, 256, 0}};
  spec_harness h(config);
  h.add(1, {1, 2, 3, 4, 1, 2, 3}, {4, 1, 2, 3, 4, 1, 2, 3}, 8);
  h.step();
  EXPECT_EQ(h.sched.find(1)->draft_token_ids.size(), 3u);  // alone in its step
  h.add(2, {1, 2, 3, 4, 1, 2, 3}, {4, 1, 2, 3, 4, 1, 2, 3}, 8);
  h.step();  // two requests
  EXPECT_TRUE(h.sched.find(1)->draft_token_ids.empty());
  EXPECT_TRUE(h.sched.find(2)->draft_token_ids.empty());
  h.run_to_completion();
  EXPECT_EQ(h.outputs[1], h.scripts[1]);
  EXPECT_EQ(h.outputs[2], h.scripts[2]);
}

TEST(SpeculativeScheduling, OutputsEqualPlainDecodingAcrossManyRequests) {
  for (const int32_t k : {0, 1, 3, 6}) {
    // A cache too small for all six: requests are preempted (their drafts forgotten) and
    // recomputed.
    spec_harness h(spec_config(k, 16), /*num_blocks=*/14);
    for (uint64_t id = 1; id <= 6; ++id) {
      std::vector<int32_t> prompt, script;
      for (int32_t i = 0; i < 6 + static_cast<int32_t>(id); ++i)
        prompt.push_back(static_cast<int32_t>(i % (2 + id % 3)));
      for (int32_t i = 0; i < 20; ++i)
        script.push_back(static_cast<int32_t>((i * id) % 5));
      h.add(id, prompt, script, 20);
    }
    h.run_to_completion();
    for (uint64_t id = 1; id <= 6; ++id)
      EXPECT_EQ(h.outputs[id], h.scripts[id]) << "k " << k << " request " << id;
    EXPECT_GT(h.sched.num_preemptions(), 0) << k;
    if (k > 0) EXPECT_GT(h.sched.spec_stats().num_accepted_tokens, 0) << k;
  }
}

}  // namespace
}  // namespace troupe::runtime
