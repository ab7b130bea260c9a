#pragma once
// A fixed set of KV-cache blocks, ids 0..num_blocks-1, handed out and taken back whole.
//
// Free blocks wait in a FIFO queue: allocation takes from the front, freeing appends at the back.
// That is the order vLLM v1's free block queue keeps, so a prefix cache can later leave freed
// blocks' contents in place and evict the least recently freed first.
//
// Thread: not thread-safe; one owner (the KV allocator actor, or a test).
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace troupe::runtime {

class block_pool {
 public:
  // requires: num_blocks >= 0.
  explicit block_pool(int32_t num_blocks);

  // Takes `n` free blocks, or none at all (std::nullopt) when fewer than `n` are free.
  // guarantees: the returned ids are distinct and were free.
  std::optional<std::vector<int32_t>> allocate(int32_t n);
  // Returns blocks to the pool. requires: every id is currently allocated (a double free is a
  // bug and asserts).
  void free(std::span<const int32_t> ids);

  int32_t num_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t num_free() const { return static_cast<int32_t>(free_queue_.size()); }
  int32_t num_used() const { return num_blocks() - num_free(); }
  bool is_allocated(int32_t id) const;

 private:
  std::deque<int32_t> free_queue_;
  // Holders per block: 0 or 1 today; a shared cached prefix block will have several.
  std::vector<int32_t> ref_counts_;
};

}  // namespace troupe::runtime
