#include "runtime/sched/kv_allocator.hpp"

namespace troupe::runtime {

step_grant kv_allocator::reserve(const step_proposal& proposal) {
  step_grant grant;
  // Preemption candidates: the whole running list, tail at the back.
  std::vector<uint64_t> victims;
  victims.reserve(proposal.running.size() + proposal.running_rest.size());
  for (const auto& d : proposal.running)
    victims.push_back(d.request_id);
  victims.insert(victims.end(), proposal.running_rest.begin(), proposal.running_rest.end());

  for (size_t i = 0; i < proposal.running.size(); ++i) {
    // A request already preempted in favour of an earlier one is gone from the running list.
    if (i >= victims.size()) break;
    if (!grant_running(proposal.running[i], victims, grant)) break;
  }
  // vLLM v1 admits nothing in a step that had to preempt: memory is short.
  if (!grant.preempted.empty()) return grant;
  for (const auto& demand : proposal.waiting) {
    auto blocks = demand.num_shared_blocks > 0
                      ? cache_.allocate_shared(demand.request_id, demand.share_from,
                                               demand.num_shared_blocks, demand.num_total_tokens)
                      : cache_.allocate_slots(demand.request_id, demand.num_total_tokens);
    if (!blocks) break;
    grant.admitted.push_back({demand.request_id, std::move(*blocks)});
  }
  return grant;
}

bool kv_allocator::grant_running(const slot_demand& demand, std::vector<uint64_t>& victims,
                                 step_grant& grant) {
  for (;;) {
    auto blocks = cache_.allocate_slots(demand.request_id, demand.num_total_tokens);
    if (blocks) {
      grant.running.push_back({demand.request_id, std::move(*blocks)});
      return true;
    }
    const uint64_t victim = victims.back();
    victims.pop_back();
    cache_.free(victim);
    grant.preempted.push_back(victim);
    if (victim == demand.request_id) return false;
  }
}

void kv_allocator::release(std::span<const uint64_t> request_ids) {
  for (uint64_t id : request_ids)
    cache_.free(id);
}

}  // namespace troupe::runtime
