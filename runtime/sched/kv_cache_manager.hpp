#pragma once
// Per-request block tables over a block_pool (the role of vLLM v1's KVCacheManager).
//
// Blocks layout of one request (block_size 4, 10 tokens covered):
//
//   positions:  0 1 2 3 | 4 5 6 7 | 8 9 . .
//   table:      [  17   ,    3    ,   42   ]    token p lives in slot p % 4 of table[p / 4]
//
// allocate_slots grows the table so that it covers `num_total_tokens`; the grant it returns is
// only the newly added block ids (the caller appends them to its own copy of the table).
// allocate_shared starts a new table with another request's first blocks (n > 1: the choices of
// one prompt hold its full prompt blocks together, each block counted once in the pool) and grows
// it like allocate_slots. Shared blocks are never written again: the holders only append.
// Prefix caching later plugs in here: matching full blocks by chained hash before allocating.
//
// Thread: not thread-safe; one owner.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "runtime/sched/block_pool.hpp"

namespace troupe::runtime {

class kv_cache_manager {
 public:
  // requires: num_blocks >= 0, block_size >= 1.
  kv_cache_manager(int32_t num_blocks, int32_t block_size);

  // Blocks needed to cover `num_total_tokens` tokens of `request_id` beyond those it holds.
  int32_t num_blocks_needed(uint64_t request_id, int32_t num_total_tokens) const;
  // Grows the request's table to cover `num_total_tokens` tokens and returns the new block ids
  // (possibly none); std::nullopt when the pool lacks blocks, leaving every state unchanged.
  std::optional<std::vector<int32_t>> allocate_slots(uint64_t request_id, int32_t num_total_tokens);
  // Starts `request_id`'s table with the first `num_shared_blocks` blocks of `donor_id`'s table
  // (each gains a holder), then grows it to cover `num_total_tokens`; returns the whole table.
  // std::nullopt, leaving every state unchanged, when `request_id` already has a table, the donor
  // holds fewer blocks, or the pool lacks blocks for the rest.
  // requires: num_shared_blocks >= 0, request_id != donor_id.
  std::optional<std::vector<int32_t>> allocate_shared(uint64_t request_id, uint64_t donor_id,
                                                      int32_t num_shared_blocks,
                                                      int32_t num_total_tokens);
  // Drops the request's hold on all its blocks (blocks nobody else holds return to the pool).
  // Unknown ids are ignored.
  void free(uint64_t request_id);

  const std::vector<int32_t>* block_table(uint64_t request_id) const;
  int32_t block_size() const { return block_size_; }
  int32_t num_blocks() const { return pool_.num_blocks(); }
  int32_t num_free_blocks() const { return pool_.num_free(); }
  int32_t num_used_blocks() const { return pool_.num_used(); }
  int32_t num_requests() const { return static_cast<int32_t>(tables_.size()); }

 private:
  block_pool pool_;
  int32_t block_size_;
  std::unordered_map<uint64_t, std::vector<int32_t>> tables_;
};

}  // namespace troupe::runtime
