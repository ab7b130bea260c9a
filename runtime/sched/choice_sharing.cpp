#include "runtime/sched/choice_sharing.hpp"

namespace troupe::runtime {
namespace {

bool siblings(const sched_request& a, const sched_request& b) {
  return a.spec.id != b.spec.id && a.spec.group_id == b.spec.group_id &&
         a.num_prompt_tokens == b.num_prompt_tokens;
}

}  // namespace

choice_start plan_choice_start(const sched_request& r,
                               const std::unordered_map<uint64_t, sched_request>& requests,
                               std::span<const uint64_t> running,
                               std::span<const slot_demand> admitting, int32_t block_size) {
  if (r.spec.group_id == 0 || block_size <= 0) return {};
  const int32_t num_shared_blocks = (r.num_prompt_tokens - 1) / block_size;
  if (num_shared_blocks == 0) return {};  // nothing to share: the prompt ends in its first block
  const int32_t num_shared_tokens = num_shared_blocks * block_size;
  bool sibling_computing = false;
  for (uint64_t id : running) {
    const auto& other = requests.at(id);
    if (!siblings(r, other)) continue;
    // Tokens count as computed once scheduled; propose runs between steps, so they are.
    if (other.num_computed_tokens >= num_shared_tokens) return {false, id, num_shared_blocks};
    sibling_computing = true;
  }
  for (const auto& demand : admitting) {
    auto it = requests.find(demand.request_id);
    if (it != requests.end() && siblings(r, it->second)) sibling_computing = true;
  }
  // Waiting costs at most the steps of the sibling's prompt and saves computing and holding the
  // shared blocks twice. Without a live sibling, r computes alone.
  if (sibling_computing) return {true, 0, 0};
  return {};
}

}  // namespace troupe::runtime
