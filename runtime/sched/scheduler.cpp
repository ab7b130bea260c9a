#include "runtime/sched/scheduler.hpp"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

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
  auto& r = requests_.emplace(id, sched_request{std::move(spec)}).first->second;
  r.arrival = next_arrival_++;
  const auto num_full_blocks = static_cast<size_t>(num_prompt / config_.block_size);
  if (r.block_hashes.size() > num_full_blocks) r.block_hashes.resize(num_full_blocks);
  hash_full_blocks(r);
  enqueue_waiting(r, false);
  return ok_status();
}

bool scheduler::abort(uint64_t request_id) {
  if (requests_.count(request_id) == 0) return false;
  remove(request_id);
  return true;
}

// Running, or waiting: a request preempted while its last step was in flight finishes there.
void scheduler::remove(uint64_t request_id) {
  auto found = requests_.find(request_id);
  if (found->second.waiting_after_preemption) --num_waiting_preempted_;
  requests_.erase(found);
  remove_running(request_id);
  auto it = std::find(waiting_.begin(), waiting_.end(), request_id);
  if (it != waiting_.end()) waiting_.erase(it);
}

step_proposal scheduler::propose() const {
  step_proposal proposal;
  int32_t budget = config_.max_num_batched_tokens;
  const int32_t max_requests = max_requests_per_step();
  int32_t num_requests = 0;
  for (uint64_t id : running_) {
    const auto& r = requests_.at(id);
    // A request whose last token is in flight has nothing left to compute; under pipeline
    // parallelism, none whose sampled token is in flight has anything yet.
    if (budget <= 0 || last_token_in_flight(r) || num_requests >= max_requests ||
        (pipelined() && r.num_output_placeholders > 0)) {
      proposal.running_rest.push_back(id);
      continue;
    }
    ++num_requests;
    const auto num_drafts = static_cast<int32_t>(r.draft_token_ids.size());
    const int32_t n =
        std::min(r.num_tokens_with_placeholders() + num_drafts - r.num_computed_tokens, budget);
    proposal.running.push_back(running_demand(r, r.num_computed_tokens + n));
    budget -= n;
  }
  proposal.budget = {budget, config_.max_num_batched_tokens, config_.enable_chunked_prefill};
  // Each admitted candidate computes at least one token; how many more depends on its cache hits,
  // which the allocator finds.
  const int32_t max_candidates =
      std::min({config_.max_num_seqs - num_running(), budget, max_requests - num_requests});
  for (uint64_t id : waiting_) {
    if (static_cast<int32_t>(proposal.waiting.size()) >= max_candidates) break;
    const auto& r = requests_.at(id);
    // Preempted while its token was in flight (pipeline parallelism; with async scheduling the
    // step before returns before the next proposal): admitted once the token is back.
    if (r.num_output_placeholders > 0) continue;
    proposal.waiting.push_back({id, r.num_tokens(), r.block_hashes,
                                r.num_times_passed_over < max_times_passed_over,
                                r.spec.sampling.num_prompt_logprobs < 0});
  }
  if (config_.policy == scheduling_policy::priority)
    proposal.preemption_order = preemption_order(proposal);
  return proposal;
}

int32_t scheduler::max_requests_per_step() const {
  const int32_t stages = config_.pipeline_stages;
  if (stages <= 1) return config_.max_num_seqs;
  const auto total = static_cast<int32_t>(std::min<size_t>(
      static_cast<size_t>(config_.max_num_seqs), running_.size() + waiting_.size()));
  return std::max(1, (total + stages - 1) / stages);
}

// The running list by (priority, arrival), the first to preempt (the greatest) at the back.
std::vector<uint64_t> scheduler::preemption_order(const step_proposal& proposal) const {
  std::vector<uint64_t> order;
  order.reserve(running_.size());
  for (const auto& d : proposal.running)
    order.push_back(d.request_id);
  order.insert(order.end(), proposal.running_rest.begin(), proposal.running_rest.end());
  std::sort(order.begin(), order.end(), [this](uint64_t a, uint64_t b) {
    const auto& ra = requests_.at(a);
    const auto& rb = requests_.at(b);
    return std::pair(ra.spec.priority, ra.arrival) < std::pair(rb.spec.priority, rb.arrival);
  });
  return order;
}

step_plan scheduler::finalize(const step_proposal& proposal, const step_grant& grant) {
  step_plan plan;
  assert(grant.running.size() <= proposal.running.size());
  assert(grant.admitted.size() <= proposal.waiting.size());
  // The granted demands are a subsequence of the proposed ones: under the priority policy a
  // request preempted for a later one leaves a gap.
  size_t demand = 0;
  for (const auto& granted : grant.running) {
    while (demand < proposal.running.size() &&
           proposal.running[demand].request_id != granted.request_id)
      ++demand;
    assert(demand < proposal.running.size());
    if (demand == proposal.running.size()) break;
    schedule_seq(get(granted.request_id), granted.new_block_ids,
                 proposal.running[demand++].num_total_tokens, plan);
  }
  count_passed_over(proposal, grant);
  for (const auto& admitted : grant.admitted)
    admit(admitted, plan);
  for (uint64_t id : grant.preempted)
    preempt(id);
  plan.preempted = grant.preempted;
  if (!plan.empty()) plan.delta.released = take_released();  // else no step carries them
  return plan;
}

step_plan scheduler::schedule(kv_allocator& allocator) {
  const step_proposal proposal = propose();
  return finalize(proposal, allocator.reserve(proposal));
}

std::vector<request_output> scheduler::update(const step_plan& plan,
                                              std::span<const sampled_token> sampled) {
  std::vector<request_output> outputs;
  // The prompt logprobs follow the sampled tokens (model_runner::execute), a sequence's together.
  size_t num_sampled = 0;
  while (num_sampled < sampled.size() && sampled[num_sampled].prompt_position < 0)
    ++num_sampled;
  auto prompt_logprobs = sampled.subspan(num_sampled);
  sampled = sampled.first(num_sampled);
  auto take_prompt_logprobs = [&](uint64_t seq_id) {
    size_t n = 0;
    while (n < prompt_logprobs.size() && prompt_logprobs[n].seq_id == seq_id)
      ++n;
    std::vector<sampled_token> taken(prompt_logprobs.begin(), prompt_logprobs.begin() + n);
    prompt_logprobs = prompt_logprobs.subspan(n);
    return taken;
  };
  size_t next = 0;
  for (const auto& seq : plan.delta.seqs) {
    auto scored = take_prompt_logprobs(seq.seq_id);
    auto found = requests_.find(seq.seq_id);
    if (!seq.sample) {
      if (!scored.empty() && found != requests_.end()) {
        const auto& r = found->second;
        request_output out{r.spec.id,
                           {},
                           finish_reason::none,
                           r.num_prompt_tokens,
                           r.num_output_tokens(),
                           std::max(r.num_cached_tokens, 0)};
        out.prompt_logprobs = std::move(scored);
        outputs.push_back(std::move(out));
      }
      continue;
    }
    assert(next < sampled.size() && sampled[next].seq_id == seq.seq_id);
    if (next >= sampled.size()) break;
    // One token, or with drafts the accepted drafts' tokens and the one after them.
    size_t count = 1;
    while (next + count < sampled.size() && sampled[next + count].seq_id == seq.seq_id &&
           static_cast<int32_t>(count) <= seq.num_draft_tokens)
      ++count;
    const auto tokens = sampled.subspan(next, count);
    next += count;
    // Gone: aborted while the step ran, or finished by the step before (async scheduling had
    // already scheduled one more token for it, which is dropped).
    if (found == requests_.end()) continue;
    auto& r = found->second;
    assert(r.num_output_placeholders > 0);
    --r.num_output_placeholders;
    const auto num_accepted = static_cast<int32_t>(count) - 1;
    if (seq.num_draft_tokens > 0) {
      r.num_computed_tokens -= seq.num_draft_tokens - num_accepted;  // the rejected drafts
      count_drafts(seq.num_draft_tokens, num_accepted);
    }
    request_output out{r.spec.id,           {}, finish_reason::none,
                       r.num_prompt_tokens, 0,  std::max(r.num_cached_tokens, 0)};
    for (const auto& token : tokens) {
      r.token_ids.push_back(token.token_id);
      out.new_token_ids.push_back(token.token_id);
      if (r.spec.return_logprobs) out.sampled.push_back(token);
      out.finish = check_stop(r, out.stop_token_id);
      if (out.finish != finish_reason::none) break;  // the tokens after it are dropped
    }
    hash_full_blocks(r);
    out.num_output_tokens = r.num_output_tokens();
    out.prompt_logprobs = std::move(scored);
    const finish_reason finish = out.finish;
    outputs.push_back(std::move(out));
    if (finish != finish_reason::none) {
      remove(r.spec.id);
    } else {
      propose_drafts(r, static_cast<int32_t>(plan.delta.seqs.size()));
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

// Preemption by recompute: the KV is gone, the tokens stay; the request starts over when it is
// admitted again (on whatever of its blocks the cache still has): under FCFS ahead of everyone
// else waiting, under priority at its place.
void scheduler::preempt(uint64_t request_id) {
  auto& r = get(request_id);
  r.num_computed_tokens = 0;
  r.draft_token_ids.clear();
  ++r.num_preemptions;
  ++num_preemptions_;
  r.waiting_after_preemption = true;
  ++num_waiting_preempted_;
  remove_running(request_id);
  enqueue_waiting(r, true);
}

void scheduler::enqueue_waiting(const sched_request& r, bool preempted) {
  if (config_.policy == scheduling_policy::fcfs) {
    if (preempted) {
      waiting_.push_front(r.spec.id);
    } else {
      waiting_.push_back(r.spec.id);
    }
    return;
  }
  const auto key = std::pair(r.spec.priority, r.arrival);
  auto place = std::upper_bound(waiting_.begin(), waiting_.end(), key,
                                [this](const std::pair<int64_t, uint64_t>& k, uint64_t id) {
                                  const auto& w = requests_.at(id);
                                  return k < std::pair(w.spec.priority, w.arrival);
                                });
  waiting_.insert(place, r.spec.id);
}

void scheduler::admit(const admission_grant& grant, step_plan& plan) {
  const uint64_t id = grant.request_id;
  auto it = std::find(waiting_.begin(), waiting_.end(), id);
  assert(it != waiting_.end());
  waiting_.erase(it);
  running_.push_back(id);
  auto& r = get(id);
  if (r.waiting_after_preemption) --num_waiting_preempted_;
  r.waiting_after_preemption = false;
  r.num_times_passed_over = 0;
  r.num_computed_tokens = grant.num_computed_tokens;
  if (r.num_cached_tokens < 0) r.num_cached_tokens = grant.num_computed_tokens;
  // The executor starts it afresh: the tokens before its first chunk are in the cache, and the
  // penalties need them (the executor keeps the history from here on).
  seq_admission admission{id, r.spec.sampling, r.num_prompt_tokens, r.num_computed_tokens, {}};
  if (r.spec.sampling.needs_token_history()) {
    admission.cached_token_ids.assign(r.token_ids.begin(),
                                      r.token_ids.begin() + r.num_computed_tokens);
  }
  // Prompt logprobs: a chunk's last row scores the first token of the next chunk. Once the
  // request has outputs they were all reported (a readmission computes its prompt again).
  if (r.spec.sampling.num_prompt_logprobs >= 0 && r.num_output_tokens() == 0) {
    admission.prompt_token_ids.assign(r.token_ids.begin(),
                                      r.token_ids.begin() + r.num_prompt_tokens);
  }
  plan.delta.admitted.push_back(std::move(admission));
  schedule_seq(r, grant.block_ids, grant.num_total_tokens, plan);
}

// Candidates before the last admitted one that were not admitted were passed over.
void scheduler::count_passed_over(const step_proposal& proposal, const step_grant& grant) {
  if (grant.admitted.empty()) return;
  size_t next = 0;
  for (const auto& c : proposal.waiting) {
    if (next == grant.admitted.size()) break;
    if (c.request_id == grant.admitted[next].request_id) {
      ++next;
      continue;
    }
    ++get(c.request_id).num_times_passed_over;
  }
}

// The hashes of r's blocks that this step fills (the allocator registers them in the cache).
slot_demand scheduler::running_demand(const sched_request& r, int32_t num_total_tokens) const {
  slot_demand demand{r.spec.id, num_total_tokens, r.num_hashes_offered, {}};
  const auto first = static_cast<size_t>(demand.first_block);
  const auto end =
      std::min(r.block_hashes.size(), static_cast<size_t>(num_total_tokens / config_.block_size));
  if (first < end)
    demand.block_hashes.assign(r.block_hashes.begin() + static_cast<std::ptrdiff_t>(first),
                               r.block_hashes.begin() + static_cast<std::ptrdiff_t>(end));
  return demand;
}

void scheduler::schedule_seq(sched_request& r, std::span<const int32_t> new_block_ids,
                             int32_t num_total_tokens, step_plan& plan) {
  seq_chunk chunk;
  chunk.seq_id = r.spec.id;
  chunk.num_tokens = num_total_tokens - r.num_computed_tokens;
  const int32_t num_with_placeholders = r.num_tokens_with_placeholders();
  chunk.sample = num_total_tokens >= num_with_placeholders;
  chunk.num_draft_tokens = std::max(0, num_total_tokens - num_with_placeholders);
  chunk.new_block_ids.assign(new_block_ids.begin(), new_block_ids.end());
  if (pipelined()) chunk.start = r.num_computed_tokens;
  if (chunk.num_tokens - chunk.num_draft_tokens == 1 &&
      r.num_output_tokens() + r.num_output_placeholders > 0)
    plan.num_decode_tokens += chunk.num_tokens;
  // The known tokens, then (async scheduling) the one a step in flight samples, then the drafts
  // the budget leaves room for.
  auto& tokens = plan.delta.token_ids;
  const int32_t known_end = std::min(num_total_tokens, r.num_tokens());
  tokens.insert(tokens.end(), r.token_ids.begin() + r.num_computed_tokens,
                r.token_ids.begin() + known_end);
  tokens.insert(tokens.end(), std::min(num_total_tokens, num_with_placeholders) - known_end,
                placeholder_token);
  tokens.insert(tokens.end(), r.draft_token_ids.begin(),
                r.draft_token_ids.begin() + chunk.num_draft_tokens);
  r.draft_token_ids.clear();
  plan.delta.seqs.push_back(std::move(chunk));
  // As in vLLM v1, tokens count as computed once scheduled: the next step builds on them, and a
  // sampled token counts as a placeholder until update() learns it.
  r.num_computed_tokens = num_total_tokens;
  if (plan.delta.seqs.back().sample) ++r.num_output_placeholders;
  const int32_t num_full = num_total_tokens / config_.block_size;
  r.num_hashes_offered = r.spec.cache_prefix
                             ? std::min(static_cast<int32_t>(r.block_hashes.size()), num_full)
                             : num_full;
}

void scheduler::hash_full_blocks(sched_request& r) const {
  if (!r.spec.cache_prefix) return;
  extend_block_hashes(config_.hash_algo, config_.block_size, r.token_ids, r.spec.cache_salt,
                      r.block_hashes);
}

// The token in flight is its last whatever it is: max_tokens or max_model_len reached (as
// check_stop counts them). Only a stop token can end a request earlier, which nobody knows ahead.
bool scheduler::last_token_in_flight(const sched_request& r) const {
  if (r.num_output_placeholders == 0) return false;
  return r.num_output_tokens() + r.num_output_placeholders >= r.spec.max_tokens ||
         r.num_tokens_with_placeholders() >= config_.max_model_len;
}

void scheduler::propose_drafts(sched_request& r, int32_t batch_size) const {
  r.draft_token_ids.clear();
  const auto& spec = config_.speculative;
  // Drafts past max_tokens less the token after them could never be kept.
  const int32_t k = std::min(spec.drafts_for_batch_size(batch_size),
                             r.spec.max_tokens - r.num_output_tokens() - 1);
  if (!spec.enabled() || k <= 0) return;
  r.draft_token_ids = propose_ngram_drafts(r.token_ids, spec.prompt_lookup_min,
                                           spec.prompt_lookup_max, k, config_.max_model_len);
  // A grammar that starts after a token (a reasoning parser's end of thinking) holds the rows
  // after it; the executor applies it from the step after the one that sees the token, so the
  // drafts stop before it.
  const auto& sampling = r.spec.sampling;
  if (sampling.grammar.empty() || sampling.grammar_after_token < 0) return;
  const auto outputs =
      std::span<const int32_t>(r.token_ids).subspan(static_cast<size_t>(r.num_prompt_tokens));
  if (std::find(outputs.begin(), outputs.end(), sampling.grammar_after_token) != outputs.end())
    return;
  auto& drafts = r.draft_token_ids;
  drafts.erase(std::find(drafts.begin(), drafts.end(), sampling.grammar_after_token), drafts.end());
}

void scheduler::count_drafts(int32_t num_drafts, int32_t num_accepted) {
  auto& per_pos = spec_stats_.num_accepted_tokens_per_pos;
  if (per_pos.size() < static_cast<size_t>(config_.speculative.num_speculative_tokens))
    per_pos.resize(static_cast<size_t>(config_.speculative.num_speculative_tokens));
  ++spec_stats_.num_drafts;
  spec_stats_.num_draft_tokens += num_drafts;
  spec_stats_.num_accepted_tokens += num_accepted;
  for (int32_t i = 0; i < num_accepted && i < static_cast<int32_t>(per_pos.size()); ++i)
    ++per_pos[static_cast<size_t>(i)];
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
  if (it == running_.end()) return;
  running_.erase(it);
  released_.push_back(request_id);
}

}  // namespace troupe::runtime
