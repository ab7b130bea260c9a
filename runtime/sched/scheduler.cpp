#include "runtime/sched/scheduler.hpp"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

#include "runtime/sched/choice_sharing.hpp"

namespace troupe::runtime {

status scheduler::add_request(request_spec spec) {
  const auto num_prompt = static_cast<int32_t>(spec.prompt_token_ids.size());
  if (requests_.count(spec.id) != 0)
    return error{"duplicate request id " + std::to_string(spec.id)};
  if (num_prompt == 0) return error{"The decoder prompt cannot be empty"};
  if (spec.max_tokens < 1) return error{"max_tokens must be at least 1"};
  if (num_prompt >= config_.max_model_len) {
    return error{"prompt of " + std::to_string(num_prompt) + " tokens leaves no room for output" +
                 " within max_model_len " + std::to_string(config_.max_model_len)};
  }
  if (!config_.enable_chunked_prefill && num_prompt > config_.max_num_batched_tokens) {
    return error{"prompt of " + std::to_string(num_prompt) +
                 " tokens exceeds max_num_batched_tokens " +
                 std::to_string(config_.max_num_batched_tokens) + " without chunked prefill"};
  }
  const uint64_t id = spec.id;
  requests_.emplace(id, sched_request{std::move(spec)});
  waiting_.push_back(id);
  return ok_status();
}

bool scheduler::abort(uint64_t request_id) {
  if (requests_.erase(request_id) == 0) return false;
  remove_running(request_id);
  auto it = std::find(waiting_.begin(), waiting_.end(), request_id);
  if (it != waiting_.end()) waiting_.erase(it);
  return true;
}

step_proposal scheduler::propose() const {
  step_proposal proposal;
  int32_t budget = config_.max_num_batched_tokens;
  for (uint64_t id : running_) {
    const auto& r = requests_.at(id);
    if (budget <= 0) {
      proposal.running_rest.push_back(id);
      continue;
    }
    const int32_t n = std::min(r.num_tokens() - r.num_computed_tokens, budget);
    proposal.running.push_back({id, r.num_computed_tokens + n});
    budget -= n;
  }
  int32_t num_free_seqs = config_.max_num_seqs - num_running();
  for (uint64_t id : waiting_) {
    if (budget <= 0 || num_free_seqs <= 0) break;
    const auto& r = requests_.at(id);
    // A waiting request has nothing computed, except the blocks a choice shares with a sibling.
    const choice_start start =
        plan_choice_start(r, requests_, running_, proposal.waiting, config_.block_size);
    if (start.wait) break;
    const int32_t num_shared_tokens = start.num_shared_blocks * config_.block_size;
    const int32_t n = r.num_tokens() - num_shared_tokens;
    // Without chunked prefill a prompt waits for a step with room for all of it; only a preempted
    // request grown past the whole budget is cut anyway (it could never fit).
    const bool fits_some_step = n <= config_.max_num_batched_tokens;
    if (!config_.enable_chunked_prefill && n > budget && fits_some_step) break;
    const int32_t scheduled = std::min(n, budget);
    proposal.waiting.push_back(
        {id, num_shared_tokens + scheduled, start.donor, start.num_shared_blocks});
    budget -= scheduled;
    --num_free_seqs;
  }
  return proposal;
}

step_plan scheduler::finalize(const step_proposal& proposal, const step_grant& grant) {
  step_plan plan;
  assert(grant.running.size() <= proposal.running.size());
  assert(grant.admitted.size() <= proposal.waiting.size());
  for (size_t i = 0; i < grant.running.size(); ++i) {
    assert(grant.running[i].request_id == proposal.running[i].request_id);
    schedule_seq(get(grant.running[i].request_id), grant.running[i],
                 proposal.running[i].num_total_tokens, plan.batch);
  }
  for (size_t i = 0; i < grant.admitted.size(); ++i) {
    const uint64_t id = grant.admitted[i].request_id;
    assert(!waiting_.empty() && waiting_.front() == id && id == proposal.waiting[i].request_id);
    waiting_.pop_front();
    running_.push_back(id);
    auto& r = get(id);
    // The grant starts with the shared blocks, computed by a sibling.
    r.num_computed_tokens = proposal.waiting[i].num_shared_blocks * config_.block_size;
    schedule_seq(r, grant.admitted[i], proposal.waiting[i].num_total_tokens, plan.batch);
  }
  for (uint64_t id : grant.preempted)
    preempt(id);
  plan.preempted = grant.preempted;
  return plan;
}

step_plan scheduler::schedule(kv_allocator& allocator) {
  const step_proposal proposal = propose();
  return finalize(proposal, allocator.reserve(proposal));
}

std::vector<request_output> scheduler::update(const step_plan& plan,
                                              std::span<const sampled_token> sampled) {
  std::vector<request_output> outputs;
  size_t next = 0;
  for (const auto& seq : plan.batch.seqs) {
    if (!seq.sample) continue;
    assert(next < sampled.size() && sampled[next].seq_id == seq.seq_id);
    if (next >= sampled.size()) break;
    auto& r = get(seq.seq_id);
    const sampled_token& token = sampled[next++];
    r.token_ids.push_back(token.token_id);
    if (r.history) r.history->push_back(token.token_id);
    request_output out{r.spec.id,
                       {token.token_id},
                       finish_reason::none,
                       r.num_prompt_tokens,
                       r.num_output_tokens()};
    const finish_reason finish = check_stop(r, out.stop_token_id);
    out.finish = finish;
    if (r.spec.return_logprobs) out.sampled.push_back(token);
    outputs.push_back(std::move(out));
    if (finish != finish_reason::none) {
      const uint64_t id = r.spec.id;  // a copy: erase destroys r
      remove_running(id);
      requests_.erase(id);
    }
  }
  return outputs;
}

const sched_request* scheduler::find(uint64_t request_id) const {
  auto it = requests_.find(request_id);
  return it == requests_.end() ? nullptr : &it->second;
}

sched_request& scheduler::get(uint64_t request_id) {
  auto it = requests_.find(request_id);
  assert(it != requests_.end());
  return it->second;
}

// Preemption by recompute: the KV is gone, the tokens stay; the request starts over from
// position 0 when it is admitted again, ahead of everyone else waiting.
void scheduler::preempt(uint64_t request_id) {
  auto& r = get(request_id);
  r.num_computed_tokens = 0;
  r.block_table.clear();
  ++r.num_preemptions;
  ++num_preemptions_;
  remove_running(request_id);
  waiting_.push_front(request_id);
}

void scheduler::schedule_seq(sched_request& r, const block_grant& grant, int32_t num_total_tokens,
                             step_batch& batch) {
  r.block_table.insert(r.block_table.end(), grant.new_block_ids.begin(), grant.new_block_ids.end());
  seq_step seq;
  seq.seq_id = r.spec.id;
  seq.start_pos = r.num_computed_tokens;
  seq.num_tokens = num_total_tokens - r.num_computed_tokens;
  seq.block_table = r.block_table;
  seq.sample = num_total_tokens == r.num_tokens();
  seq.sampling = r.spec.sampling;
  seq.output_index = r.num_output_tokens();
  if (seq.sample) seq.token_history = r.history;
  batch.token_ids.insert(batch.token_ids.end(), r.token_ids.begin() + seq.start_pos,
                         r.token_ids.begin() + num_total_tokens);
  batch.seqs.push_back(std::move(seq));
  // As in vLLM v1, tokens count as computed once scheduled: the next step builds on them.
  r.num_computed_tokens = num_total_tokens;
}

// vLLM's check_stop, except that a stop token wins over the length limit on the same token.
finish_reason scheduler::check_stop(const sched_request& r, int32_t& stop_token_id) const {
  const bool length =
      r.num_output_tokens() >= r.spec.max_tokens || r.num_tokens() >= config_.max_model_len;
  if (r.num_output_tokens() < r.spec.sampling.min_tokens)
    return length ? finish_reason::length : finish_reason::none;
  const int32_t last = r.token_ids.back();
  const auto& eos = r.spec.stop_token_ids;
  if (!r.spec.ignore_eos && std::find(eos.begin(), eos.end(), last) != eos.end()) {
    return finish_reason::stop;
  }
  const auto& stops = r.spec.request_stop_token_ids;
  if (std::find(stops.begin(), stops.end(), last) != stops.end()) {
    stop_token_id = last;
    return finish_reason::stop;
  }
  return length ? finish_reason::length : finish_reason::none;
}

void scheduler::remove_running(uint64_t request_id) {
  auto it = std::find(running_.begin(), running_.end(), request_id);
  if (it != running_.end()) running_.erase(it);
}

}  // namespace troupe::runtime
