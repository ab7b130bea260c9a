// Reference-counted KV blocks: requests on a common prefix (a system prompt, the choices of an
// n > 1 request) hold its cached blocks together; each block is counted once and is free only
// after its last holder lets go.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/sched/block_pool.hpp"
#include "runtime/sched/kv_allocator.hpp"

namespace troupe::runtime {
namespace {

TEST(BlockPoolSharing, ABlockIsFreeOnlyAfterItsLastHolder) {
  block_pool pool(3);
  auto a = pool.allocate(2);
  ASSERT_TRUE(a);
  pool.touch(*a);
  pool.touch(std::vector<int32_t>{a->front()});
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

std::vector<block_hash> prompt_hashes() {
  std::vector<block_hash> hashes(2);
  hashes[0].words[0] = 1;
  hashes[1].words[0] = 2;
  return hashes;
}

TEST(KvAllocatorSharing, PreemptingTheFirstHolderLeavesTheSharedBlocksWithTheOthers) {
  kv_allocator alloc(6, 4);
  step_proposal p;
  p.budget = {100, 100, true};
  // An 11-token prompt: 3 blocks, 2 full ones cached at admission and hit by the others.
  for (uint64_t id = 1; id <= 4; ++id)
    p.waiting.push_back({id, 11, prompt_hashes(), true});
  auto g = alloc.reserve(p);
  ASSERT_EQ(g.admitted.size(), 4u);
  const auto& first = g.admitted[0].block_ids;
  for (size_t i = 1; i < 4; ++i) {
    const auto& grant = g.admitted[i];
    EXPECT_EQ(grant.num_computed_tokens, 8);
    ASSERT_EQ(grant.block_ids.size(), 3u);
    EXPECT_EQ(grant.block_ids[0], first[0]);
    EXPECT_EQ(grant.block_ids[1], first[1]);
  }
  EXPECT_EQ(alloc.cache().num_used_blocks(), 6);  // 4 separate requests would need 12
  step_proposal grow;
  grow.running = {{2, 13, 2, {}}};
  grow.running_rest = {3, 4, 1};
  auto g2 = alloc.reserve(grow);
  EXPECT_EQ(g2.preempted, (std::vector<uint64_t>{1}));
  EXPECT_EQ(alloc.cache().num_used_blocks(), 6);
  alloc.release(std::vector<uint64_t>{2, 3, 4});
  EXPECT_EQ(alloc.cache().num_free_blocks(), 6);
  EXPECT_EQ(alloc.cache().num_cached_blocks(), 2);
}

}  // namespace
}  // namespace troupe::runtime
