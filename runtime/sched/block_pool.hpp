#pragma once
// A fixed set of KV-cache blocks, ids 0..num_blocks-1, with the prefix cache's hash -> block map
// (the role of vLLM V1's BlockPool).
//
// Blocks are reference-counted: `allocate` gives a block its first holder, `touch` adds one (a
// prefix-cache hit, or another choice of the same prompt), `free` drops one, and a block is free
// again when its last holder lets go. A block is counted once however many hold it.
//
// Free blocks wait in a queue, front = next to hand out:
//
//   front [ 7 | 3* | 12* | 0 | 9* ] back        * = cached: content kept, still findable by hash
//
//   allocate  takes from the front; a cached block is evicted then (lazily), not when freed
//   free      appends at the back: freed blocks are reused last, so their content lives longest
//   touch     a free cached block found by hash leaves the queue from wherever it is (O(1))
//
// A request frees its table tail first, so the end of a prefix chain is evicted before its start.
// Cached blocks hold a full block whose content matches their hash; at most one block per hash.
//
// Thread: not thread-safe; one owner (the KV allocator actor, or a test).
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "runtime/sched/block_hash.hpp"

namespace troupe::runtime {

class block_pool {
 public:
  // requires: num_blocks >= 0.
  explicit block_pool(int32_t num_blocks);

  // Takes `n` blocks from the front of the free queue (evicting their cached content), or none
  // at all (std::nullopt) when fewer than `n` are free. guarantees: distinct ids, each now held
  // once and not cached.
  std::optional<std::vector<int32_t>> allocate(int32_t n);
  // Adds a holder to each block; a free block (cached) leaves the free queue.
  // requires: every id is allocated or cached.
  void touch(std::span<const int32_t> ids);
  // Drops a holder from each block, last id first; blocks left without one join the back of the
  // free queue (keeping their cached content, unless `discard_cached`: then they are no longer
  // found by hash). requires: every id is allocated (a double free is a bug and asserts).
  void free(std::span<const int32_t> ids, bool discard_cached = false);

  // -- prefix cache --
  // The block cached under `hash`, if any (allocated or free).
  std::optional<int32_t> find_cached(const block_hash& hash) const;
  // Registers allocated block `id` (now holding a full block) under `hash`. False, changing
  // nothing, when the hash has a block already or the block is cached under another hash.
  bool cache(int32_t id, const block_hash& hash);
  // Forgets every cached hash. False, changing nothing, while any block is allocated.
  bool reset_cache();

  int32_t num_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t num_free() const { return num_free_; }
  int32_t num_used() const { return num_blocks() - num_free(); }
  int32_t num_cached() const { return static_cast<int32_t>(cached_.size()); }
  bool is_allocated(int32_t id) const;
  bool is_cached(int32_t id) const;
  // The hash block `id` is cached under, if any.
  const std::optional<block_hash>& cached_hash(int32_t id) const {
    return block_hashes_[static_cast<size_t>(id)];
  }
  // Holders of block `id` (0 when free). requires: 0 <= id < num_blocks().
  int32_t ref_count(int32_t id) const { return ref_counts_[static_cast<size_t>(id)]; }
  // The free queue, front first (for tests and invariant checks; O(num_free)).
  std::vector<int32_t> free_queue() const;

 private:
  // The free queue is a doubly linked list over block ids; index num_blocks() is its sentinel.
  void push_back(int32_t id);
  void unlink(int32_t id);
  void evict(int32_t id);

  std::vector<int32_t> ref_counts_;  // holders per block: 0 when free
  std::vector<int32_t> next_;        // size num_blocks + 1
  std::vector<int32_t> prev_;
  int32_t num_free_ = 0;
  std::unordered_map<block_hash, int32_t, block_hash_hasher> cached_;  // hash -> block
  std::vector<std::optional<block_hash>> block_hashes_;                // block -> its hash
};

}  // namespace troupe::runtime
