#pragma once
// Per-request block tables over a block_pool, with prefix caching (the role of vLLM V1's
// KVCacheManager).
//
// Blocks layout of one request (block_size 4, 10 tokens covered):
//
//   positions:  0 1 2 3 | 4 5 6 7 | 8 9 . .
//   table:      [  17   ,    3    ,   42   ]    token p lives in slot p % 4 of table[p / 4]
//   hashes:     [  h0   ,    h1   ]             full blocks only (block_hash.hpp)
//
// A waiting request is admitted with `admit`: its table starts with the cached blocks of its
// longest cached prefix (`cached_prefix`: each gains a holder, however many requests hold it) and
// grows with fresh blocks. A running request grows with `allocate_slots`. Every block that is
// full once a step has computed it is registered under its hash (`cache_full_blocks`), before
// the step runs: a request scheduled later in the same step may already start on it, because the
// model runner writes a layer's K/V for the whole batch before that layer's attention
// (runtime/model_runner.hpp). Cached blocks are never written again: holders only append.
//
// Thread: not thread-safe; one owner.
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "runtime/sched/block_hash.hpp"
#include "runtime/sched/block_pool.hpp"

namespace troupe::runtime {

class kv_cache_manager {
 public:
  // requires: num_blocks >= 0, block_size >= 1.
  kv_cache_manager(int32_t num_blocks, int32_t block_size);

  // The blocks cached under the leading hashes, stopping at the first miss or after max_blocks.
  std::vector<int32_t> cached_prefix(std::span<const block_hash> hashes, int32_t max_blocks) const;
  // Starts `request_id`'s table with `hit_blocks` (from cached_prefix, unchanged since), then
  // fresh blocks up to covering `num_total_tokens`; returns the whole table. std::nullopt,
  // leaving every state unchanged, when the request has a table or the free blocks (counting the
  // free hits, which leave the free queue) do not suffice.
  std::optional<std::vector<int32_t>> admit(uint64_t request_id,
                                            std::span<const int32_t> hit_blocks,
                                            int32_t num_total_tokens);
  // Grows the request's table to cover `num_total_tokens` tokens and returns the new block ids
  // (possibly none); std::nullopt when the pool lacks blocks, leaving every state unchanged.
  std::optional<std::vector<int32_t>> allocate_slots(uint64_t request_id, int32_t num_total_tokens);
  // Registers the request's blocks that are full at `num_total_tokens` and not registered yet;
  // `hashes` are those of blocks first_block, first_block + 1, ... (blocks it lacks stay
  // unregistered). A block whose hash another block holds stays unregistered too.
  void cache_full_blocks(uint64_t request_id, std::span<const block_hash> hashes,
                         int32_t first_block, int32_t num_total_tokens);
  // Drops the request's hold on all its blocks, tail first (blocks nobody else holds return to
  // the pool, keeping their cached content). Unknown ids are ignored.
  // `discard_cached`: the request's last step failed, so blocks registered for it may hold
  // garbage; blocks nobody else holds leave the prefix cache as they return to the pool.
  void free(uint64_t request_id, bool discard_cached = false);
  // Forgets every cached prefix; false (nothing changed) while any block is held.
  bool reset_cache() { return pool_.reset_cache(); }

  // Blocks needed to cover `num_total_tokens` tokens of `request_id` beyond those it holds.
  int32_t num_blocks_needed(uint64_t request_id, int32_t num_total_tokens) const;
  const std::vector<int32_t>* block_table(uint64_t request_id) const;
  int32_t block_size() const { return block_size_; }
  int32_t num_blocks() const { return pool_.num_blocks(); }
  int32_t num_free_blocks() const { return pool_.num_free(); }
  int32_t num_used_blocks() const { return pool_.num_used(); }
  int32_t num_cached_blocks() const { return pool_.num_cached(); }
  int32_t num_requests() const { return static_cast<int32_t>(tables_.size()); }
  const block_pool& pool() const { return pool_; }

 private:
  struct table {
    std::vector<int32_t> blocks;
    int32_t num_registered = 0;  // leading blocks already offered to the cache
  };

  block_pool pool_;
  int32_t block_size_;
  std::unordered_map<uint64_t, table> tables_;
};

}  // namespace troupe::runtime
