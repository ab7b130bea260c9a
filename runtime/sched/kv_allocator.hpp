#pragma once
// The KV allocator's policy (the KV allocator actor is a shell around it): grants a step's block
// demands in running order, preempting running requests (from the tail, or in the proposal's
// preemption_order) when blocks run out, then admits waiting candidates on their cached prefixes.
//
//   for each scheduled running request r, in order (skipping those preempted already):
//     while r's demand can't be met: free the next victim (maybe r itself: stop; maybe one
//       granted earlier in this step, under the priority policy: its grant is taken back)
//   register the granted requests' blocks that become full in this step under their hashes
//   only if nobody was preempted, for each candidate c in queue order, while budget is left:
//     hits = longest cached prefix of c's full blocks, leaving at least its last token to compute
//     n    = c.num_tokens - hits' tokens          (the budget is charged for these only)
//     without chunked prefill, n > budget left: pass c over (or stop, see may_be_passed)
//     admit c on its hits + fresh blocks for min(n, budget) tokens, or stop when blocks lack (FCFS)
//     register c's blocks that are full after this step
//
// Hits are ordinary shared blocks: the choices of an n > 1 request, requests with a common system
// prompt and a preempted request's own freed blocks are all found the same way.
//
// The grants are block ids only; the tables stay inside.
// Thread: not thread-safe; one owner.
#include <cstdint>
#include <span>

#include "runtime/sched/kv_cache_manager.hpp"
#include "runtime/sched/step_types.hpp"

namespace troupe::runtime {

// Prefix-cache lookups in tokens, as vLLM counts them (every admission: its tokens are queries,
// its cached tokens hits).
struct prefix_cache_stats {
  int64_t num_requests = 0;  // admissions counted
  int64_t num_queries = 0;
  int64_t num_hits = 0;
};

class kv_allocator {
 public:
  kv_allocator(int32_t num_blocks, int32_t block_size) : cache_(num_blocks, block_size) {}

  step_grant reserve(const step_proposal& proposal);
  // Frees the blocks of finished or aborted requests. Unknown ids are ignored.
  // `discard_cached`: the requests were in a step that failed, whose KV writes are incomplete;
  // the blocks registered for that step (at its grant) must not be found by hash again. Every
  // request of the failed step is released this way, and no other request can have hit those
  // blocks (the next grant comes after the release), so dropping the hashes of the blocks that
  // return to the pool drops them all (with whatever valid blocks only these requests held).
  void release(std::span<const uint64_t> request_ids, bool discard_cached = false);
  // Forgets every cached prefix; false (nothing changed) while any block is held.
  bool reset_prefix_cache() { return cache_.reset_cache(); }

  const kv_cache_manager& cache() const { return cache_; }
  const prefix_cache_stats& stats() const { return stats_; }

 private:
  // Meets `demand`, preempting from the back of `victims`; false when `demand`'s own request was
  // the one preempted.
  bool grant_running(const slot_demand& demand, std::vector<uint64_t>& victims, step_grant& grant);
  void admit_waiting(const step_proposal& proposal, step_grant& grant);

  kv_cache_manager cache_;
  prefix_cache_stats stats_;
};

}  // namespace troupe::runtime
