#pragma once
// A fixed set of KV-cache blocks, ids 0..num_blocks-1, handed out and taken back whole.
//
// Blocks are reference-counted: `allocate` gives a block its first holder, `share` adds one (the
// choices of an n > 1 request hold their prompt's blocks together), `free` drops one, and a block
// is free again when its last holder lets go. A block is counted once however many hold it.
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
  // Adds a holder to each block. requires: every id is currently allocated.
  void share(std::span<const int32_t> ids);
  // Drops a holder from each block; blocks left without one return to the pool. requires: every
  // id is currently allocated (a double free is a bug and asserts).
  void free(std::span<const int32_t> ids);

  int32_t num_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t num_free() const { return static_cast<int32_t>(free_queue_.size()); }
  int32_t num_used() const { return num_blocks() - num_free(); }
  bool is_allocated(int32_t id) const;
  // Holders of block `id` (0 when free). requires: 0 <= id < num_blocks().
  int32_t ref_count(int32_t id) const { return ref_counts_[static_cast<size_t>(id)]; }

 private:
  std::deque<int32_t> free_queue_;
  // Holders per block: 0 when free.
  std::vector<int32_t> ref_counts_;
};

}  // namespace troupe::runtime
