#include "runtime/sched/kv_cache_manager.hpp"

#include <algorithm>
#include <cassert>

namespace troupe::runtime {

kv_cache_manager::kv_cache_manager(int32_t num_blocks, int32_t block_size)
    : pool_(num_blocks), block_size_(block_size) {
  assert(block_size >= 1);
}

std::vector<int32_t> kv_cache_manager::cached_prefix(std::span<const block_hash> hashes,
                                                     int32_t max_blocks) const {
  std::vector<int32_t> blocks;
  const auto limit = std::min(hashes.size(), static_cast<size_t>(std::max(max_blocks, 0)));
  for (size_t i = 0; i < limit; ++i) {
    const auto id = pool_.find_cached(hashes[i]);
    if (!id) break;
    blocks.push_back(*id);
  }
  return blocks;
}

std::optional<std::vector<int32_t>> kv_cache_manager::admit(uint64_t request_id,
                                                            std::span<const int32_t> hit_blocks,
                                                            int32_t num_total_tokens) {
  if (tables_.count(request_id) != 0) return std::nullopt;
  const auto num_hits = static_cast<int32_t>(hit_blocks.size());
  const int32_t num_fresh =
      std::max(0, (num_total_tokens + block_size_ - 1) / block_size_ - num_hits);
  const auto num_free_hits = static_cast<int32_t>(std::count_if(
      hit_blocks.begin(), hit_blocks.end(), [&](int32_t id) { return pool_.ref_count(id) == 0; }));
  if (num_fresh + num_free_hits > pool_.num_free()) return std::nullopt;
  // Hits first: allocating fresh blocks must not evict them.
  pool_.touch(hit_blocks);
  auto fresh = pool_.allocate(num_fresh);
  assert(fresh);
  table t{{hit_blocks.begin(), hit_blocks.end()}, num_hits};
  t.blocks.insert(t.blocks.end(), fresh->begin(), fresh->end());
  auto blocks = t.blocks;
  tables_.emplace(request_id, std::move(t));
  return blocks;
}

std::optional<std::vector<int32_t>> kv_cache_manager::allocate_slots(uint64_t request_id,
                                                                     int32_t num_total_tokens) {
  auto blocks = pool_.allocate(num_blocks_needed(request_id, num_total_tokens));
  if (!blocks) return std::nullopt;
  auto& t = tables_[request_id];
  t.blocks.insert(t.blocks.end(), blocks->begin(), blocks->end());
  return blocks;
}

void kv_cache_manager::cache_full_blocks(uint64_t request_id, std::span<const block_hash> hashes,
                                         int32_t first_block, int32_t num_total_tokens) {
  auto it = tables_.find(request_id);
  if (it == tables_.end()) return;
  table& t = it->second;
  const int32_t num_full =
      std::min(num_total_tokens / block_size_, static_cast<int32_t>(t.blocks.size()));
  const int32_t end = std::min(num_full, first_block + static_cast<int32_t>(hashes.size()));
  for (int32_t i = std::max(t.num_registered, first_block); i < end; ++i)
    pool_.cache(t.blocks[static_cast<size_t>(i)], hashes[static_cast<size_t>(i - first_block)]);
  // Blocks without a hash yet (filled by a token still in flight) can come later.
  t.num_registered = std::max(t.num_registered, end);
}

void kv_cache_manager::free(uint64_t request_id, bool discard_cached) {
  auto it = tables_.find(request_id);
  if (it == tables_.end()) return;
  pool_.free(it->second.blocks, discard_cached);
  tables_.erase(it);
}

int32_t kv_cache_manager::num_blocks_needed(uint64_t request_id, int32_t num_total_tokens) const {
  const int32_t total = (num_total_tokens + block_size_ - 1) / block_size_;
  auto it = tables_.find(request_id);
  const int32_t held = it == tables_.end() ? 0 : static_cast<int32_t>(it->second.blocks.size());
  return total > held ? total - held : 0;
}

const std::vector<int32_t>* kv_cache_manager::block_table(uint64_t request_id) const {
  auto it = tables_.find(request_id);
  return it == tables_.end() ? nullptr : &it->second.blocks;
}

}  // namespace troupe::runtime
