#include "runtime/sched/kv_allocator.hpp"

#include <algorithm>

namespace troupe::runtime {
namespace {

enum class verdict { admit, pass, stop };

// How a candidate with `num_new` tokens left to compute fares with `budget_left` tokens.
verdict judge(const admission_candidate& c, int32_t num_new, int32_t budget_left,
              const admission_budget& rules) {
  if (budget_left <= 0) return verdict::stop;
  // Without chunked prefill a prompt waits for a step with room for all of it; only a request
  // grown past the whole budget (a preempted one) is cut anyway, as it could never fit.
  const bool fits_some_step = num_new <= rules.max_num_batched_tokens;
  if (!rules.enable_chunked_prefill && num_new > budget_left && fits_some_step)
    return c.may_be_passed ? verdict::pass : verdict::stop;
  return verdict::admit;
}

}  // namespace

step_grant kv_allocator::reserve(const step_proposal& proposal) {
  step_grant grant;
  // Preemption candidates, the first to go at the back: the policy's order, or the running list.
  std::vector<uint64_t> victims = proposal.preemption_order;
  if (victims.empty()) {
    victims.reserve(proposal.running.size() + proposal.running_rest.size());
    for (const auto& d : proposal.running)
      victims.push_back(d.request_id);
    victims.insert(victims.end(), proposal.running_rest.begin(), proposal.running_rest.end());
  }
  auto preempted = [&](uint64_t id) {
    return std::find(grant.preempted.begin(), grant.preempted.end(), id) != grant.preempted.end();
  };
  for (const auto& demand : proposal.running) {
    // A request already preempted in favour of an earlier one is gone from the running list.
    if (preempted(demand.request_id)) continue;
    if (!grant_running(demand, victims, grant)) break;
  }
  // The blocks this step fills join the prefix cache once no granted request can lose its grant
  // any more (a block registered for a preempted request would be found but never written).
  size_t next = 0;
  for (const auto& granted : grant.running) {
    while (proposal.running[next].request_id != granted.request_id)
      ++next;
    const slot_demand& d = proposal.running[next];
    cache_.cache_full_blocks(d.request_id, d.block_hashes, d.first_block, d.num_total_tokens);
  }
  // vLLM v1 admits nothing in a step that had to preempt: memory is short.
  if (grant.preempted.empty()) admit_waiting(proposal, grant);
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
    // Under the priority policy the victim may have been granted blocks earlier in this step.
    std::erase_if(grant.running, [&](const block_grant& g) { return g.request_id == victim; });
    if (victim == demand.request_id) return false;
  }
}

void kv_allocator::admit_waiting(const step_proposal& proposal, step_grant& grant) {
  const int32_t block_size = cache_.block_size();
  int32_t budget_left = proposal.budget.num_tokens;
  for (const auto& c : proposal.waiting) {
    // The last token is always computed: its logits give the next token.
    const auto hits = c.read_cache
                          ? cache_.cached_prefix(c.block_hashes, (c.num_tokens - 1) / block_size)
                          : std::vector<int32_t>{};
    const auto num_cached = static_cast<int32_t>(hits.size()) * block_size;
    const int32_t num_new = c.num_tokens - num_cached;
    const verdict v = judge(c, num_new, budget_left, proposal.budget);
    if (v == verdict::stop) break;
    if (v == verdict::pass) continue;
    const int32_t num_total = num_cached + std::min(num_new, budget_left);
    auto blocks = cache_.admit(c.request_id, hits, num_total);
    if (!blocks) break;
    cache_.cache_full_blocks(c.request_id, c.block_hashes, 0, num_total);
    if (c.read_cache) {  // as vLLM, a request that skips the cache is no query of it
      stats_.num_requests += 1;
      stats_.num_queries += c.num_tokens;
      stats_.num_hits += num_cached;
    }
    budget_left -= num_total - num_cached;
    grant.admitted.push_back({c.request_id, std::move(*blocks), num_cached, num_total});
  }
}

void kv_allocator::release(std::span<const uint64_t> request_ids, bool discard_cached) {
  for (uint64_t id : request_ids)
    cache_.free(id, discard_cached);
}

}  // namespace troupe::runtime
