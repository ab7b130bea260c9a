// Prefix caching through scheduler + kv_allocator: requests (and the choices of an n > 1 request)
// start on cached full blocks, are charged only for what they compute, find their own blocks
// again after preemption, and leave every block free at the end. The harness checks the content
// of every attended position (tests/runtime/sched/sim_harness.hpp).
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "tests/runtime/sched/sim_harness.hpp"

namespace troupe::runtime {
namespace {

using testing::sim_harness;
using testing::sim_options;

std::vector<int32_t> tokens(int32_t from, int32_t n) {
  std::vector<int32_t> t;
  for (int32_t i = 0; i < n; ++i)
    t.push_back(from + i);
  return t;
}

TEST(PrefixSharing, ChoicesShareThePromptsFullBlocksFromTheFirstStep) {
  sim_harness h({});
  h.add_group(1, 4, 11, 3);  // 11 tokens: blocks [0..3][4..7] shared, [8..10] each its own
  auto first = h.step();
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[1].num_tokens, 11);
  const auto& donor = first[1].block_table;
  for (uint64_t id = 2; id <= 4; ++id) {
    const auto& seq = first[id];
    EXPECT_EQ(seq.start_pos, 8);
    EXPECT_EQ(seq.num_tokens, 3);  // the tail, last prompt token included
    EXPECT_TRUE(seq.sample);
    EXPECT_EQ(seq.block_table[0], donor[0]);
    EXPECT_EQ(seq.block_table[1], donor[1]);
    EXPECT_NE(seq.block_table[2], donor[2]);
  }
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 6);  // 4 separate requests: 12
  h.run_to_completion();
  EXPECT_EQ(h.outputs, (std::map<uint64_t, int32_t>{{1, 3}, {2, 3}, {3, 3}, {4, 3}}));
  EXPECT_EQ(h.cached_tokens, (std::map<uint64_t, int32_t>{{1, 0}, {2, 8}, {3, 8}, {4, 8}}));
}

TEST(PrefixSharing, ShortPromptsHaveNothingToShare) {
  sim_harness h({});
  h.add_group(1, 3, 4, 2);  // one block, and each request needs the last token's logits
  EXPECT_EQ(h.step().size(), 3u);
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 3);
  h.run_to_completion();
}

TEST(PrefixSharing, AChunkedPromptIsSharedAsItsBlocksFill) {
  sim_harness h({.budget = 6});
  h.add_group(1, 3, 13, 2);
  EXPECT_EQ(h.step().size(), 1u);  // 6 tokens: the budget is spent
  EXPECT_EQ(h.step().size(), 1u);  // 6 more
  auto third = h.step();           // the last token, and the others on 3 cached blocks
  ASSERT_EQ(third.size(), 3u);
  EXPECT_EQ(third[2].start_pos, 12);
  EXPECT_EQ(third[3].start_pos, 12);
  h.run_to_completion();
}

TEST(PrefixSharing, AFinishedRequestsBlocksServeTheNextOne) {
  sim_harness h({.budget = 6});
  h.add_group(1, 2, 13, 2);
  h.step();    // request 1: 6 tokens, block 0 cached
  h.abort(1);  // its blocks are free, block 0 still cached
  auto second = h.step();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[2].start_pos, 4);
  h.run_to_completion();
  EXPECT_EQ(h.cached_tokens[2], 4);
}

TEST(PrefixSharing, AbortedRequestReleasesOnlyItsOwnBlocks) {
  sim_harness h({});
  h.add_group(1, 3, 11, 6);
  h.step();  // all three: 3 blocks of request 1 (2 shared) + 1 own block each
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 5);
  h.abort(2);
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 4);
  h.abort(1);  // the shared blocks stay with request 3
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 3);
  h.run_to_completion();
  EXPECT_EQ(h.outputs, (std::map<uint64_t, int32_t>{{3, 6}}));
}

TEST(PrefixSharing, APreemptedRequestFindsItsOwnBlocksAgain) {
  // 5 blocks: two 8-token prompts of 2 blocks each; growth preempts request 2, whose blocks are
  // freed tail first, so request 1 takes its tail and its first block stays cached.
  sim_harness h({.num_blocks = 5});
  h.add(1, tokens(1, 8), 8);
  h.add(2, tokens(100, 8), 8);
  h.run_to_completion();
  EXPECT_GE(h.sched.num_preemptions(), 1);
  EXPECT_GE(h.num_cache_starts, 1);
  EXPECT_EQ(h.outputs, (std::map<uint64_t, int32_t>{{1, 8}, {2, 8}}));
  EXPECT_EQ(h.cached_tokens[2], 0);  // reported from its first admission
}

TEST(PrefixSharing, OnlyEqualSaltsShare) {
  sim_harness h({});
  h.add(1, tokens(1, 9), 1, true, "a");
  h.run_to_completion();
  h.add(2, tokens(1, 9), 1, true, "b");
  h.add(3, tokens(1, 9), 1, true, "a");
  h.add(4, tokens(1, 9), 1, false);  // outside the cache
  auto s = h.step();
  EXPECT_EQ(s[2].start_pos, 0);
  EXPECT_EQ(s[3].start_pos, 8);
  EXPECT_EQ(s[4].start_pos, 0);
  h.run_to_completion();
}

TEST(PrefixSharing, CachedTokensCostNoBudget) {
  sim_harness h({.budget = 8});
  h.add(1, tokens(1, 16), 1);
  h.run_to_completion();
  for (uint64_t id = 2; id <= 5; ++id)
    h.add(id, tokens(1, 16), 1);
  auto s = h.step();  // 12 cached tokens each: 4 computed, two fit the budget of 8
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[2].num_tokens, 4);
  EXPECT_EQ(s[3].num_tokens, 4);
  h.run_to_completion();
  EXPECT_EQ(h.alloc.stats().num_hits, 4 * 12);
}

TEST(PrefixSharing, PreemptedRequestsDoNotCountAsNewWaiting) {
  sim_harness h({.num_blocks = 5});
  h.add(1, tokens(1, 8), 8);
  h.add(2, tokens(100, 8), 8);
  for (int i = 0; i < 20 && h.sched.num_preemptions() == 0; ++i)
    h.step();
  ASSERT_EQ(h.sched.num_preemptions(), 1);
  EXPECT_EQ(h.sched.num_waiting(), 1);
  EXPECT_EQ(h.sched.num_waiting_new(), 0);
  h.add(3, tokens(200, 2), 1);
  EXPECT_EQ(h.sched.num_waiting_new(), 1);
  h.run_to_completion();
  EXPECT_EQ(h.sched.num_waiting_new(), 0);
}

// Without chunked prefill, a prompt that does not fit the budget left lets the ones behind it
// start; after max_times_passed_over it holds admission until it fits, so it cannot starve.
TEST(PrefixSharing, WithoutChunkingAPassedOverPromptStillStarts) {
  sim_harness h({.num_blocks = 256, .budget = 10, .chunked = false});
  h.add(1, tokens(1, 4), 40);  // decodes: leaves 9 of 10 tokens per step
  h.step();
  h.add(2, tokens(100, 10), 1);  // never fits while anything else runs
  uint64_t next = 3;
  bool started = false;
  int32_t admitted_after_limit = 0;
  for (int s = 0; s < 400 && !started; ++s) {
    h.add(next++, tokens(300, 2), 5);  // a steady stream of short requests
    const bool holds_admission = h.sched.find(2)->num_times_passed_over >= max_times_passed_over;
    const auto seqs = h.step();
    started = seqs.count(2) != 0;
    if (!started && holds_admission) {
      for (const auto& [id, seq] : seqs)
        admitted_after_limit += id > 2 && seq.start_pos == 0 ? 1 : 0;
    }
  }
  EXPECT_TRUE(started);
  EXPECT_EQ(admitted_after_limit, 0);
  EXPECT_GE(h.outputs.size() + h.live.size(), 3u);
}

}  // namespace
}  // namespace troupe::runtime
