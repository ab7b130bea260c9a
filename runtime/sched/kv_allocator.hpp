#pragma once
// The KV allocator's policy (the KV allocator actor is a shell around it): grants a step's block
// demands in priority order, preempting running requests from the tail when blocks run out.
//
//   for each scheduled running request r, in order:
//     while r's demand can't be met: free the LAST running request (maybe r itself: stop)
//   only if nobody was preempted: admit waiting requests in order until one doesn't fit (FCFS);
//     a demand with shared blocks starts from its donor's (running, so not preempted: nobody was)
//
// The grants are block ids only; the tables stay inside.
// Thread: not thread-safe; one owner.
#include <cstdint>
#include <span>

#include "runtime/sched/kv_cache_manager.hpp"
#include "runtime/sched/step_types.hpp"

namespace troupe::runtime {

class kv_allocator {
 public:
  kv_allocator(int32_t num_blocks, int32_t block_size) : cache_(num_blocks, block_size) {}

  step_grant reserve(const step_proposal& proposal);
  // Frees the blocks of finished or aborted requests. Unknown ids are ignored.
  void release(std::span<const uint64_t> request_ids);

  const kv_cache_manager& cache() const { return cache_; }

 private:
  // Meets `demand`, preempting from the back of `victims`; false when `demand`'s own request was
  // the one preempted.
  bool grant_running(const slot_demand& demand, std::vector<uint64_t>& victims, step_grant& grant);

  kv_cache_manager cache_;
};

}  // namespace troupe::runtime
