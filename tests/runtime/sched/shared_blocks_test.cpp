// Reference-counted KV blocks: the choices of an n > 1 request hold their prompt's blocks
// together (block_pool::share, kv_cache_manager::allocate_shared, kv_allocator's shared demands).
#include <gtest/gtest.h>

#include <vector>

#include "runtime/sched/block_pool.hpp"
#include "runtime/sched/kv_allocator.hpp"
#include "runtime/sched/kv_cache_manager.hpp"

namespace troupe::runtime {
namespace {

TEST(BlockPoolSharing, ABlockIsFreeOnlyAfterItsLastHolder) {
  block_pool pool(3);
  auto a = pool.allocate(2);
  ASSERT_TRUE(a);
  pool.share(*a);
  pool.share(std::vector<int32_t>{a->front()});
  EXPECT_EQ(pool.ref_count(a->front()), 3);
  EXPECT_EQ(pool.ref_count(a->back()), 2);
  EXPECT_EQ(pool.num_used(), 2);  // counted once however many hold them
  pool.free(*a);
  EXPECT_EQ(pool.num_free(), 1);
  pool.free(*a);
  EXPECT_EQ(pool.num_free(), 2);  // a->back() had two holders, now none
  EXPECT_TRUE(pool.is_allocated(a->front()));
  pool.free(std::vector<int32_t>{a->front()});
  EXPECT_EQ(pool.num_free(), 3);
  EXPECT_EQ(pool.ref_count(a->front()), 0);
}

TEST(KvCacheManagerSharing, ASharedStartHoldsTheDonorsFirstBlocks) {
  kv_cache_manager kv(8, 4);
  auto donor = kv.allocate_slots(1, 10);  // 3 blocks
  ASSERT_TRUE(donor);
  auto child = kv.allocate_shared(2, 1, 2, 10);  // shares 2, needs 1 of its own
  ASSERT_TRUE(child);
  ASSERT_EQ(child->size(), 3u);
  EXPECT_EQ((*child)[0], (*donor)[0]);
  EXPECT_EQ((*child)[1], (*donor)[1]);
  EXPECT_NE((*child)[2], (*donor)[2]);
  EXPECT_EQ(*kv.block_table(2), *child);
  EXPECT_EQ(kv.num_used_blocks(), 4);
  // The child grows on its own.
  auto more = kv.allocate_slots(2, 13);
  ASSERT_TRUE(more);
  EXPECT_EQ(more->size(), 1u);
  EXPECT_EQ(kv.num_used_blocks(), 5);
  kv.free(1);  // the shared blocks stay with the child
  EXPECT_EQ(kv.num_used_blocks(), 4);
  kv.free(2);
  EXPECT_EQ(kv.num_free_blocks(), 8);
}

TEST(KvCacheManagerSharing, ImpossibleSharesChangeNothing) {
  kv_cache_manager kv(4, 4);
  ASSERT_TRUE(kv.allocate_slots(1, 8));           // 2 blocks
  EXPECT_FALSE(kv.allocate_shared(2, 1, 3, 12));  // the donor has only 2
  EXPECT_FALSE(kv.allocate_shared(2, 9, 1, 4));   // no such donor
  EXPECT_FALSE(kv.allocate_shared(2, 1, 1, 16));  // 3 fresh blocks needed, 2 free
  EXPECT_EQ(kv.block_table(2), nullptr);
  EXPECT_EQ(kv.num_free_blocks(), 2);
  ASSERT_TRUE(kv.allocate_slots(3, 1));
  EXPECT_FALSE(kv.allocate_shared(3, 1, 1, 4));  // 3 already has a table
  EXPECT_EQ(kv.num_free_blocks(), 1);
}

TEST(KvAllocatorSharing, AdmitsChoicesOnTheirDonorsBlocks) {
  kv_allocator alloc(6, 4);
  step_proposal first;
  first.waiting = {{1, 11}};  // a prompt of 11 tokens: 3 blocks, 2 full ones shareable
  ASSERT_EQ(alloc.reserve(first).admitted.size(), 1u);
  step_proposal p;
  p.running = {{1, 12}};
  p.waiting = {{2, 11, 1, 2}, {3, 11, 1, 2}, {4, 11, 1, 2}};  // the tails need a block each
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 3u);
  const auto& donor = *alloc.cache().block_table(1);
  for (const auto& grant : g.admitted) {
    ASSERT_EQ(grant.new_block_ids.size(), 3u);
    EXPECT_EQ(grant.new_block_ids[0], donor[0]);
    EXPECT_EQ(grant.new_block_ids[1], donor[1]);
  }
  EXPECT_EQ(alloc.cache().num_used_blocks(), 6);  // 4 separate requests would need 12
  // Preempting the donor leaves its shared blocks with the choices.
  step_proposal grow;
  grow.running = {{2, 13}};
  grow.running_rest = {3, 4, 1};
  auto g2 = alloc.reserve(grow);
  EXPECT_EQ(g2.preempted, (std::vector<uint64_t>{1}));
  EXPECT_EQ(alloc.cache().num_used_blocks(), 6);
  const std::vector<uint64_t> all{2, 3, 4};
  alloc.release(all);
  EXPECT_EQ(alloc.cache().num_free_blocks(), 6);
}

}  // namespace
}  // namespace troupe::runtime
