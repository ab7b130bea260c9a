#include "runtime/sched/kv_allocator.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace troupe::runtime {
namespace {

admission_candidate candidate(uint64_t id, int32_t num_tokens,
                              std::vector<block_hash> hashes = {}) {
  return {id, num_tokens, std::move(hashes), true};
}

step_proposal admitting(std::vector<admission_candidate> waiting, int32_t budget = 1000) {
  step_proposal p;
  p.waiting = std::move(waiting);
  p.budget = {budget, budget, true};
  return p;
}

std::vector<block_hash> chain(int32_t n, uint64_t first = 1) {
  std::vector<block_hash> hashes(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    hashes[static_cast<size_t>(i)].words[0] = first + static_cast<uint64_t>(i);
  return hashes;
}

// block_size 4 throughout.
TEST(KvAllocator, GrantsRunningThenWaitingInOrder) {
  kv_allocator alloc(4, 4);
  // 2 + 1 blocks fit, the third (2 more) does not.
  auto g = alloc.reserve(admitting({candidate(1, 8), candidate(2, 4), candidate(3, 8)}));
  ASSERT_EQ(g.admitted.size(), 2u);
  EXPECT_EQ(g.admitted[0].request_id, 1u);
  EXPECT_EQ(g.admitted[0].block_ids.size(), 2u);
  EXPECT_EQ(g.admitted[0].num_computed_tokens, 0);
  EXPECT_EQ(g.admitted[0].num_total_tokens, 8);
  EXPECT_EQ(g.admitted[1].request_id, 2u);
  EXPECT_TRUE(g.preempted.empty());
  EXPECT_EQ(alloc.cache().num_free_blocks(), 1);
}

TEST(KvAllocator, StopsAdmissionAtFirstMisfit) {
  kv_allocator alloc(4, 4);
  // 2 does not fit: 3 is not tried (FCFS).
  auto g = alloc.reserve(admitting({candidate(1, 12), candidate(2, 8), candidate(3, 4)}));
  ASSERT_EQ(g.admitted.size(), 1u);
  EXPECT_EQ(alloc.cache().num_free_blocks(), 1);
}

TEST(KvAllocator, ChunksTheLastAdmissionToTheBudgetLeft) {
  kv_allocator alloc(16, 4);
  auto g = alloc.reserve(admitting({candidate(1, 7), candidate(2, 20), candidate(3, 1)}, 10));
  ASSERT_EQ(g.admitted.size(), 2u);  // 7 + 3 tokens: the budget is spent before 3
  EXPECT_EQ(g.admitted[1].num_total_tokens, 3);
  EXPECT_EQ(g.admitted[1].block_ids.size(), 1u);
}

TEST(KvAllocator, PreemptsFromTheTailAndAdmitsNothing) {
  kv_allocator alloc(6, 4);
  ASSERT_EQ(
      alloc.reserve(admitting({candidate(1, 8), candidate(2, 8), candidate(3, 8)})).admitted.size(),
      3u);
  // 1 grows to 3 blocks: the tail (3) goes; then 2 needs 2 more, 1 is free: 2 itself goes.
  step_proposal p = admitting({candidate(4, 1)});
  p.running = {{1, 9, 2, {}}, {2, 13, 2, {}}};
  p.running_rest = {3};
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.running.size(), 1u);
  EXPECT_EQ(g.running[0].request_id, 1u);
  EXPECT_EQ(g.running[0].new_block_ids.size(), 1u);
  EXPECT_EQ(g.preempted, (std::vector<uint64_t>{3, 2}));
  EXPECT_TRUE(g.admitted.empty());
  EXPECT_EQ(alloc.cache().num_used_blocks(), 3);
  EXPECT_EQ(alloc.cache().block_table(3), nullptr);
}

// The priority policy's order: the victim (2) was granted a block earlier in the step. Its grant
// is taken back, and the block its chunk would have filled (hash 101) never joins the prefix
// cache: nothing would write it, so a later hit would read garbage.
TEST(KvAllocator, PreemptionOrderTakesBackAGrantOfTheSameStep) {
  kv_allocator alloc(4, 4);
  ASSERT_EQ(
      alloc.reserve(admitting({candidate(2, 6, chain(1, 100)), candidate(1, 4, chain(1, 200))}))
          .admitted.size(),
      2u);
  step_proposal p = admitting({candidate(3, 1)});
  p.running = {{2, 9, 1, chain(1, 101)}, {1, 5, 1, {}}};  // 2 fills its block 1 and starts a third
  p.preemption_order = {1, 2};
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.running.size(), 1u);
  EXPECT_EQ(g.running[0].request_id, 1u);
  EXPECT_EQ(g.preempted, (std::vector<uint64_t>{2}));
  EXPECT_TRUE(g.admitted.empty());
  EXPECT_EQ(alloc.cache().block_table(2), nullptr);
  EXPECT_EQ(alloc.cache().cached_prefix(chain(2, 100), 2).size(), 1u);  // block 0 only
  EXPECT_EQ(alloc.cache().num_used_blocks(), 2);
}

TEST(KvAllocator, ReleaseReturnsEveryBlock) {
  kv_allocator alloc(5, 2);
  ASSERT_EQ(alloc.reserve(admitting({candidate(1, 3), candidate(2, 5)})).admitted.size(), 2u);
  const std::vector<uint64_t> ids{1, 2, 99};
  alloc.release(ids);
  EXPECT_EQ(alloc.cache().num_free_blocks(), 5);
}

// A 16-token prompt computed once: later requests with it hit its first 3 blocks (the last token
// is always computed) and are charged only for the 4 tokens they compute.
TEST(KvAllocator, ChargesTheBudgetOnlyForTokensNotInTheCache) {
  kv_allocator alloc(16, 4);
  ASSERT_EQ(alloc.reserve(admitting({candidate(1, 16, chain(4))})).admitted.size(), 1u);
  alloc.release(std::vector<uint64_t>{1});
  auto g = alloc.reserve(admitting({candidate(2, 16, chain(4)), candidate(3, 16, chain(4))}, 8));
  ASSERT_EQ(g.admitted.size(), 2u);
  for (const auto& a : g.admitted) {
    EXPECT_EQ(a.num_computed_tokens, 12);
    EXPECT_EQ(a.num_total_tokens, 16);
    ASSERT_EQ(a.block_ids.size(), 4u);
  }
  EXPECT_EQ(g.admitted[0].block_ids[2], g.admitted[1].block_ids[2]);  // shared hits
  EXPECT_NE(g.admitted[0].block_ids[3], g.admitted[1].block_ids[3]);  // own last blocks
  EXPECT_EQ(alloc.stats().num_requests, 3);
  EXPECT_EQ(alloc.stats().num_queries, 48);
  EXPECT_EQ(alloc.stats().num_hits, 24);
}

// Blocks registered for a running request in this step are hits for a candidate of the same step.
TEST(KvAllocator, ARunningRequestsNewFullBlocksServeCandidatesOfTheSameStep) {
  kv_allocator alloc(16, 4);
  step_proposal first = admitting({candidate(1, 10, chain(2))}, 6);  // 10 tokens, chunked
  ASSERT_EQ(alloc.reserve(first).admitted.size(), 1u);
  EXPECT_EQ(alloc.cache().num_cached_blocks(), 1);
  step_proposal p = admitting({candidate(2, 10, chain(2))}, 6);
  p.running = {{1, 10, 1, chain(1, 2)}};  // block 1 fills now
  p.budget.num_tokens = 2;
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 1u);
  EXPECT_EQ(g.admitted[0].num_computed_tokens, 8);
  EXPECT_EQ(g.admitted[0].num_total_tokens, 10);
}

TEST(KvAllocator, WithoutChunkingPassesOverWhatDoesNotFitUnlessPassedTooOften) {
  kv_allocator alloc(16, 4);
  step_proposal p = admitting({candidate(1, 9), candidate(2, 3)}, 8);
  p.budget = {8, 10, false};  // 9 tokens fit a step of 10 but not the 8 left: 1 waits
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 1u);
  EXPECT_EQ(g.admitted[0].request_id, 2u);
  p.waiting = {candidate(3, 9), candidate(4, 3)};
  p.waiting[0].may_be_passed = false;
  EXPECT_TRUE(alloc.reserve(p).admitted.empty());
}

TEST(KvAllocator, ResetIsRefusedWhileBlocksAreHeld) {
  kv_allocator alloc(8, 4);
  ASSERT_EQ(alloc.reserve(admitting({candidate(1, 8, chain(2))})).admitted.size(), 1u);
  EXPECT_FALSE(alloc.reset_prefix_cache());
  EXPECT_EQ(alloc.cache().num_cached_blocks(), 2);
  alloc.release(std::vector<uint64_t>{1});
  EXPECT_TRUE(alloc.reset_prefix_cache());
  auto g = alloc.reserve(admitting({candidate(2, 8, chain(2))}));
  ASSERT_EQ(g.admitted.size(), 1u);
  EXPECT_EQ(g.admitted[0].num_computed_tokens, 0);
}

}  // namespace
}  // namespace troupe::runtime
