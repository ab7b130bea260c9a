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

block_hash key(uint64_t n) {
  block_hash h;
  h.words[0] = n;
  return h;
}

TEST(BlockPool, FreedCachedBlocksStayFindableUntilHandedOutAgain) {
  block_pool pool(4);
  auto a = pool.allocate(4);  // 0 1 2 3
  ASSERT_TRUE(a);
  ASSERT_TRUE(pool.cache(0, key(10)));
  ASSERT_TRUE(pool.cache(1, key(11)));
  pool.free(*a);  // tail first: queue 3 2 1 0
  EXPECT_EQ(pool.free_queue(), (std::vector<int32_t>{3, 2, 1, 0}));
  EXPECT_EQ(pool.num_cached(), 2);
  EXPECT_EQ(pool.find_cached(key(11)), 1);  // lazily evicted: still there while free
  auto b = pool.allocate(3);                // 3 2 1: block 1's content goes now
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (std::vector<int32_t>{3, 2, 1}));
  EXPECT_FALSE(pool.find_cached(key(11)));
  EXPECT_FALSE(pool.is_cached(1));
  EXPECT_EQ(pool.find_cached(key(10)), 0);
  EXPECT_EQ(pool.num_cached(), 1);
}

// A failed step's blocks: freed with discard_cached, they leave the cache as they become free;
// a block another holder keeps stays cached.
TEST(BlockPool, DiscardingFreeDropsTheHashesOfBlocksThatBecomeFree) {
  block_pool pool(3);
  auto a = pool.allocate(2);  // 0 1
  ASSERT_TRUE(a);
  ASSERT_TRUE(pool.cache(0, key(20)));
  ASSERT_TRUE(pool.cache(1, key(21)));
  const std::vector<int32_t> shared = {0};
  pool.touch(shared);  // a second holder of block 0
  pool.free(*a, /*discard_cached=*/true);
  EXPECT_EQ(pool.find_cached(key(20)), 0);  // still held: still cached
  EXPECT_FALSE(pool.find_cached(key(21)));
  EXPECT_FALSE(pool.is_cached(1));
  EXPECT_EQ(pool.num_free(), 2);
  pool.free(shared, /*discard_cached=*/true);
  EXPECT_FALSE(pool.find_cached(key(20)));
  EXPECT_EQ(pool.num_cached(), 0);
  EXPECT_EQ(pool.num_free(), 3);
}

TEST(BlockPool, TouchTakesACachedBlockOutOfTheMiddleOfTheQueue) {
  block_pool pool(4);
  auto a = pool.allocate(4);
  ASSERT_TRUE(a);
  ASSERT_TRUE(pool.cache(2, key(7)));
  pool.free(*a);  // 3 2 1 0
  pool.touch(std::vector<int32_t>{2});
  EXPECT_EQ(pool.ref_count(2), 1);
  EXPECT_EQ(pool.free_queue(), (std::vector<int32_t>{3, 1, 0}));
  EXPECT_EQ(pool.num_free(), 3);
  pool.touch(std::vector<int32_t>{2});  // a second holder
  pool.free(std::vector<int32_t>{2});
  EXPECT_EQ(pool.num_free(), 3);
  pool.free(std::vector<int32_t>{2});  // back of the queue, still cached
  EXPECT_EQ(pool.free_queue(), (std::vector<int32_t>{3, 1, 0, 2}));
  EXPECT_EQ(pool.find_cached(key(7)), 2);
}

TEST(BlockPool, OneBlockPerHashAndOneHashPerBlock) {
  block_pool pool(3);
  ASSERT_TRUE(pool.allocate(3));
  EXPECT_TRUE(pool.cache(0, key(1)));
  EXPECT_FALSE(pool.cache(1, key(1)));  // the hash has a block
  EXPECT_FALSE(pool.cache(0, key(2)));  // the block has a hash
  EXPECT_FALSE(pool.is_cached(1));
  EXPECT_EQ(pool.find_cached(key(1)), 0);
  EXPECT_FALSE(pool.find_cached(key(2)));
}

TEST(BlockPool, ResetForgetsTheCacheOnlyWhenNoBlockIsHeld) {
  block_pool pool(2);
  auto a = pool.allocate(2);
  ASSERT_TRUE(a);
  ASSERT_TRUE(pool.cache(0, key(1)));
  EXPECT_FALSE(pool.reset_cache());
  EXPECT_EQ(pool.num_cached(), 1);
  pool.free(*a);
  EXPECT_TRUE(pool.reset_cache());
  EXPECT_EQ(pool.num_cached(), 0);
  EXPECT_FALSE(pool.find_cached(key(1)));
  EXPECT_EQ(pool.num_free(), 2);
}

TEST(KvCacheManager, AdmitsOnCachedBlocksAndCountsFreeHitsAgainstTheFreeBlocks) {
  kv_cache_manager kv(4, 2);
  const std::vector<block_hash> hashes{key(1), key(2), key(3)};
  ASSERT_TRUE(kv.admit(1, {}, 6));  // 3 blocks
  kv.cache_full_blocks(1, hashes, 0, 6);
  const auto first = *kv.block_table(1);
  kv.free(1);
  EXPECT_EQ(kv.num_cached_blocks(), 3);
  const auto hits = kv.cached_prefix(hashes, 2);  // at most 2
  ASSERT_EQ(hits, (std::vector<int32_t>{first[0], first[1]}));
  // 2 free hits + 3 fresh blocks > 4 free: refused, nothing changed.
  EXPECT_FALSE(kv.admit(2, hits, 10));
  EXPECT_EQ(kv.num_free_blocks(), 4);
  auto table = kv.admit(2, hits, 8);  // 2 hits + 2 fresh
  ASSERT_TRUE(table);
  EXPECT_EQ((*table)[0], first[0]);
  EXPECT_EQ((*table)[1], first[1]);
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_FALSE(kv.cached_prefix(hashes, 3).size() == 3);  // block 3's content was evicted
}

TEST(KvCacheManager, RegistersOnlyFullBlocksOnce) {
  kv_cache_manager kv(4, 4);
  const std::vector<block_hash> hashes{key(1), key(2)};
  ASSERT_TRUE(kv.admit(1, {}, 6));
  kv.cache_full_blocks(1, hashes, 0, 6);  // only block 0 is full
  EXPECT_EQ(kv.num_cached_blocks(), 1);
  ASSERT_TRUE(kv.allocate_slots(1, 8));
  kv.cache_full_blocks(1, std::vector<block_hash>{key(2)}, 1, 8);
  EXPECT_EQ(kv.num_cached_blocks(), 2);
  EXPECT_EQ(kv.cached_prefix(hashes, 9).size(), 2u);
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
