#include "runtime/sched/block_pool.hpp"

#include <cassert>

namespace troupe::runtime {

block_pool::block_pool(int32_t num_blocks) {
  assert(num_blocks >= 0);
  const auto n = static_cast<size_t>(num_blocks);
  ref_counts_.assign(n, 0);
  block_hashes_.assign(n, std::nullopt);
  next_.assign(n + 1, num_blocks);
  prev_.assign(n + 1, num_blocks);
  for (int32_t id = 0; id < num_blocks; ++id)
    push_back(id);
}

std::optional<std::vector<int32_t>> block_pool::allocate(int32_t n) {
  assert(n >= 0);
  if (n > num_free()) return std::nullopt;
  std::vector<int32_t> ids;
  ids.reserve(static_cast<size_t>(n));
  const int32_t sentinel = num_blocks();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t id = next_[static_cast<size_t>(sentinel)];
    unlink(id);
    evict(id);
    ref_counts_[static_cast<size_t>(id)] = 1;
    ids.push_back(id);
  }
  return ids;
}

void block_pool::touch(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    auto& count = ref_counts_[static_cast<size_t>(id)];
    assert((count > 0 || is_cached(id)) && "only a held or cached KV block can be touched");
    if (count++ == 0) unlink(id);
  }
}

void block_pool::free(std::span<const int32_t> ids, bool discard_cached) {
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto& count = ref_counts_[static_cast<size_t>(*it)];
    assert(count > 0 && "KV block freed twice");
    if (--count > 0) continue;
    if (discard_cached) evict(*it);
    push_back(*it);
  }
}

std::optional<int32_t> block_pool::find_cached(const block_hash& hash) const {
  auto it = cached_.find(hash);
  if (it == cached_.end()) return std::nullopt;
  return it->second;
}

bool block_pool::cache(int32_t id, const block_hash& hash) {
  assert(is_allocated(id));
  auto& slot = block_hashes_[static_cast<size_t>(id)];
  if (slot) return false;
  if (!cached_.emplace(hash, id).second) return false;
  slot = hash;
  return true;
}

bool block_pool::reset_cache() {
  if (num_used() != 0) return false;
  cached_.clear();
  block_hashes_.assign(block_hashes_.size(), std::nullopt);
  return true;
}

bool block_pool::is_allocated(int32_t id) const {
  return id >= 0 && id < num_blocks() && ref_counts_[static_cast<size_t>(id)] > 0;
}

bool block_pool::is_cached(int32_t id) const {
  return id >= 0 && id < num_blocks() && block_hashes_[static_cast<size_t>(id)].has_value();
}

std::vector<int32_t> block_pool::free_queue() const {
  std::vector<int32_t> ids;
  const int32_t sentinel = num_blocks();
  for (int32_t id = next_[static_cast<size_t>(sentinel)]; id != sentinel;
       id = next_[static_cast<size_t>(id)])
    ids.push_back(id);
  return ids;
}

void block_pool::push_back(int32_t id) {
  const auto sentinel = static_cast<size_t>(num_blocks());
  const int32_t last = prev_[sentinel];
  next_[static_cast<size_t>(last)] = id;
  prev_[static_cast<size_t>(id)] = last;
  next_[static_cast<size_t>(id)] = static_cast<int32_t>(sentinel);
  prev_[sentinel] = id;
  ++num_free_;
}

void block_pool::unlink(int32_t id) {
  const int32_t before = prev_[static_cast<size_t>(id)];
  const int32_t after = next_[static_cast<size_t>(id)];
  next_[static_cast<size_t>(before)] = after;
  prev_[static_cast<size_t>(after)] = before;
  --num_free_;
}

void block_pool::evict(int32_t id) {
  auto& slot = block_hashes_[static_cast<size_t>(id)];
  if (!slot) return;
  cached_.erase(*slot);
  slot.reset();
}

}  // namespace troupe::runtime
