#include "runtime/sched/kv_cache_manager.hpp"

#include <algorithm>
#include <cassert>

namespace troupe::runtime {

kv_cache_manager::kv_cache_manager(int32_t num_blocks, int32_t block_size)
    : pool_(num_blocks), block_size_(block_size) {
  assert(block_size >= 1);
}

int32_t kv_cache_manager::num_blocks_needed(uint64_t request_id, int32_t num_total_tokens) const {
  const int32_t total = (num_total_tokens + block_size_ - 1) / block_size_;
  auto it = tables_.find(request_id);
  const int32_t held = it == tables_.end() ? 0 : static_cast<int32_t>(it->second.size());
  return total > held ? total - held : 0;
}

std::optional<std::vector<int32_t>> kv_cache_manager::allocate_slots(uint64_t request_id,
                                                                     int32_t num_total_tokens) {
  auto blocks = pool_.allocate(num_blocks_needed(request_id, num_total_tokens));
  if (!blocks) return std::nullopt;
  auto& table = tables_[request_id];
  table.insert(table.end(), blocks->begin(), blocks->end());
  return blocks;
}

std::optional<std::vector<int32_t>> kv_cache_manager::allocate_shared(uint64_t request_id,
                                                                      uint64_t donor_id,
                                                                      int32_t num_shared_blocks,
                                                                      int32_t num_total_tokens) {
  assert(num_shared_blocks >= 0 && request_id != donor_id);
  auto donor = tables_.find(donor_id);
  if (tables_.count(request_id) != 0 || donor == tables_.end()) return std::nullopt;
  if (static_cast<int32_t>(donor->second.size()) < num_shared_blocks) return std::nullopt;
  const int32_t num_total_blocks = (num_total_tokens + block_size_ - 1) / block_size_;
  auto fresh = pool_.allocate(std::max(0, num_total_blocks - num_shared_blocks));
  if (!fresh) return std::nullopt;
  std::vector<int32_t> table(donor->second.begin(), donor->second.begin() + num_shared_blocks);
  pool_.share(table);
  table.insert(table.end(), fresh->begin(), fresh->end());
  tables_.emplace(request_id, table);
  return table;
}

void kv_cache_manager::free(uint64_t request_id) {
  auto it = tables_.find(request_id);
  if (it == tables_.end()) return;
  pool_.free(it->second);
  tables_.erase(it);
}

const std::vector<int32_t>* kv_cache_manager::block_table(uint64_t request_id) const {
  auto it = tables_.find(request_id);
  return it == tables_.end() ? nullptr : &it->second;
}

}  // namespace troupe::runtime
