#include "runtime/sched/block_pool.hpp"

#include <cassert>

namespace troupe::runtime {

block_pool::block_pool(int32_t num_blocks) {
  assert(num_blocks >= 0);
  ref_counts_.assign(static_cast<size_t>(num_blocks), 0);
  for (int32_t id = 0; id < num_blocks; ++id)
    free_queue_.push_back(id);
}

std::optional<std::vector<int32_t>> block_pool::allocate(int32_t n) {
  assert(n >= 0);
  if (n > num_free()) return std::nullopt;
  std::vector<int32_t> ids(free_queue_.begin(), free_queue_.begin() + n);
  free_queue_.erase(free_queue_.begin(), free_queue_.begin() + n);
  for (int32_t id : ids)
    ref_counts_[static_cast<size_t>(id)] = 1;
  return ids;
}

void block_pool::share(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    assert(is_allocated(id) && "only an allocated KV block can be shared");
    ++ref_counts_[static_cast<size_t>(id)];
  }
}

void block_pool::free(std::span<const int32_t> ids) {
  // Freed in reverse so a request's tail blocks (least likely to be shared as a prefix) come
  // out of the queue first once a prefix cache evicts from it, as vLLM does.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto& count = ref_counts_[static_cast<size_t>(*it)];
    assert(count > 0 && "KV block freed twice");
    if (--count == 0) free_queue_.push_back(*it);
  }
}

bool block_pool::is_allocated(int32_t id) const {
  return id >= 0 && id < num_blocks() && ref_counts_[static_cast<size_t>(id)] > 0;
}

}  // namespace troupe::runtime
