#include "runtime/sched/block_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "runtime/sched/kv_cache_manager.hpp"

namespace troupe::runtime {
namespace {

TEST(BlockPool, AllocatesAllOrNothing) {
  block_pool pool(4);
  EXPECT_EQ(pool.num_free(), 4);
  auto a = pool.allocate(3);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 3u);
  EXPECT_EQ(pool.num_used(), 3);
  EXPECT_FALSE(pool.allocate(2));  // only one left: nothing is taken
  EXPECT_EQ(pool.num_free(), 1);
  auto b = pool.allocate(1);
  ASSERT_TRUE(b);
  std::set<int32_t> ids(a->begin(), a->end());
  ids.insert(b->front());
  EXPECT_EQ(ids, (std::set<int32_t>{0, 1, 2, 3}));
  pool.free(*a);
  EXPECT_EQ(pool.num_free(), 3);
  EXPECT_FALSE(pool.is_allocated(a->front()));
  EXPECT_TRUE(pool.is_allocated(b->front()));
}

TEST(BlockPool, ZeroBlocksIsAnEmptyGrant) {
  block_pool pool(0);
  auto none = pool.allocate(0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(pool.allocate(1));
}

TEST(BlockPool, FreedBlocksQueueBehindNeverUsedOnes) {
  block_pool pool(4);
  auto a = pool.allocate(2);  // 0, 1
  ASSERT_TRUE(a);
  pool.free(*a);  // queue: 2 3 1 0
  auto b = pool.allocate(4);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (std::vector<int32_t>{2, 3, 1, 0}));
}

TEST(KvCacheManager, GrowsTablesByWholeBlocks) {
  kv_cache_manager kv(8, 4);
  auto g = kv.allocate_slots(7, 5);  // 5 tokens -> 2 blocks
  ASSERT_TRUE(g);
  EXPECT_EQ(g->size(), 2u);
  EXPECT_EQ(kv.num_blocks_needed(7, 8), 0);
  auto g2 = kv.allocate_slots(7, 8);  // still 2 blocks
  ASSERT_TRUE(g2);
  EXPECT_TRUE(g2->empty());
  auto g3 = kv.allocate_slots(7, 9);
  ASSERT_TRUE(g3);
  EXPECT_EQ(g3->size(), 1u);
  ASSERT_NE(kv.block_table(7), nullptr);
  EXPECT_EQ(kv.block_table(7)->size(), 3u);
  EXPECT_EQ(kv.num_used_blocks(), 3);
}

TEST(KvCacheManager, FailedAllocationChangesNothing) {
  kv_cache_manager kv(3, 2);
  ASSERT_TRUE(kv.allocate_slots(1, 4));   // 2 blocks
  EXPECT_FALSE(kv.allocate_slots(1, 7));  // needs 2 more, 1 free
  EXPECT_EQ(kv.block_table(1)->size(), 2u);
  EXPECT_FALSE(kv.allocate_slots(2, 3));
  EXPECT_EQ(kv.block_table(2), nullptr);
  EXPECT_EQ(kv.num_free_blocks(), 1);
  kv.free(1);
  kv.free(1);  // unknown now: ignored
  EXPECT_EQ(kv.num_free_blocks(), 3);
  EXPECT_EQ(kv.num_requests(), 0);
}

}  // namespace
}  // namespace troupe::runtime
