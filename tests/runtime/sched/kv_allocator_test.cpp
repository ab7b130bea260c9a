#include "runtime/sched/kv_allocator.hpp"

#include <gtest/gtest.h>

namespace troupe::runtime {
namespace {

// block_size 4 throughout.
TEST(KvAllocator, GrantsRunningThenWaitingInOrder) {
  kv_allocator alloc(4, 4);
  step_proposal p;
  p.waiting = {{1, 8}, {2, 4}, {3, 8}};  // 2 + 1 blocks fit, the third (2 more) does not
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 2u);
  EXPECT_EQ(g.admitted[0].request_id, 1u);
  EXPECT_EQ(g.admitted[0].new_block_ids.size(), 2u);
  EXPECT_EQ(g.admitted[1].request_id, 2u);
  EXPECT_TRUE(g.preempted.empty());
  EXPECT_EQ(alloc.cache().num_free_blocks(), 1);
}

TEST(KvAllocator, StopsAdmissionAtFirstMisfit) {
  kv_allocator alloc(4, 4);
  step_proposal p;
  p.waiting = {{1, 12}, {2, 8}, {3, 4}};  // 2 does not fit: 3 is not tried (FCFS)
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 1u);
  EXPECT_EQ(alloc.cache().num_free_blocks(), 1);
}

TEST(KvAllocator, PreemptsFromTheTailAndAdmitsNothing) {
  kv_allocator alloc(6, 4);
  step_proposal first;
  first.waiting = {{1, 8}, {2, 8}, {3, 8}};
  ASSERT_EQ(alloc.reserve(first).admitted.size(), 3u);
  // 1 grows to 3 blocks: the tail (3) goes; then 2 needs 2 more, 1 is free: 2 itself goes.
  step_proposal p;
  p.running = {{1, 9}, {2, 13}};
  p.running_rest = {3};
  p.waiting = {{4, 1}};
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.running.size(), 1u);
  EXPECT_EQ(g.running[0].request_id, 1u);
  EXPECT_EQ(g.running[0].new_block_ids.size(), 1u);
  EXPECT_EQ(g.preempted, (std::vector<uint64_t>{3, 2}));
  EXPECT_TRUE(g.admitted.empty());
  EXPECT_EQ(alloc.cache().num_used_blocks(), 3);
  EXPECT_EQ(alloc.cache().block_table(3), nullptr);
}

TEST(KvAllocator, ReleaseReturnsEveryBlock) {
  kv_allocator alloc(5, 2);
  step_proposal p;
  p.waiting = {{1, 3}, {2, 5}};
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 2u);
  const std::vector<uint64_t> ids{1, 2, 99};
  alloc.release(ids);
  EXPECT_EQ(alloc.cache().num_free_blocks(), 5);
}

}  // namespace
}  // namespace troupe::runtime
