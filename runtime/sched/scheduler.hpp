#pragma once
// Continuous batching with vLLM v1 semantics. One step:
//
//   proposal = propose();                  running first (in order), then waiting (in queue
//                                          order), within max_num_batched_tokens and max_num_seqs
//   grant    = allocator.reserve(proposal)  (kv_allocator, possibly in another actor)
//   plan     = finalize(proposal, grant);  preempted -> front of waiting, admitted -> running
//   results  = execute(plan.delta);        (the executor: sequence_states, then the runner)
//   outputs  = update(plan, results);      append sampled tokens, finish requests
//
// Between propose and finalize no request may be added or aborted (the batcher queues those).
// Finished requests leave the scheduler in update, aborted ones in abort; the caller then
// releases their blocks with the allocator.
//
// Async scheduling (vLLM's --async-scheduling): the caller may propose and finalize step N+1
// before update(N), at most one step ahead (update(N) comes before propose(N+2)). A sequence that
// samples in step N then has a placeholder output (sched_request::num_output_placeholders): step
// N+1 schedules its next token as placeholder_token, which the executor fills in; a request
// whose token in flight is its last for certain (max_tokens, max_model_len) is not scheduled
// again. update(N) fills the placeholder in; a request it finishes while step N+1 holds a token
// for it leaves at once and update(N+1) drops that token, as it drops those of requests aborted
// while their step ran. The executor runs the steps in order, so blocks released meanwhile are
// written by the step in flight before any later step that is granted them reads them.
//
// Pipeline parallelism (scheduler_config::pipeline_stages P > 1): the caller may have up to P
// steps in flight, and a request whose sampled token is in flight is not scheduled until update()
// brings it (vLLM's PP: the stages before the last never see a sampled token, so there is nothing
// to fill a placeholder with). Its prompt chunks that sample nothing continue in the next steps;
// a request preempted while its token is in flight waits for it before it is admitted again. So
// consecutive steps carry different requests, and the stages run them at once. A step takes at
// most ceil(R / P) requests, R the running and waiting ones (up to max_num_seqs): requests that
// all become ready together (a burst admitted at once) split into P groups that take turns,
// instead of one batch the stages pass along while the others wait (troupe's; vLLM's scheduler
// has no such cap).
//
// The executor holds state for exactly the running requests (runtime/sequence_states.hpp). A
// request that stops running (finished, aborted, preempted) is *released*: the next plan's
// delta.released carries it, or, when no step follows, take_released() hands it to the caller.
//
// The waiting queue's order and the preemption victims follow the policy (vLLM's
// --scheduling-policy): FCFS queues by arrival, puts a preempted request back at the front and
// preempts the running list's tail; priority queues by (request priority, arrival), lower first,
// a preempted request going back to its place in that order, and preempts the running request
// with the highest (priority, arrival), whether or not it was granted tokens earlier in the step.
// Running requests are scheduled in running order under both.
//
// Thread: not thread-safe; one owner (the batcher actor, or a test).
#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/sched/kv_allocator.hpp"
#include "runtime/sched/request.hpp"
#include "runtime/sched/speculative.hpp"
#include "runtime/sched/step_types.hpp"
#include "runtime/step_delta.hpp"

namespace troupe::runtime {

enum class scheduling_policy : uint8_t { fcfs, priority };

struct scheduler_config {
  int32_t max_num_seqs = 256;             // running requests at most
  int32_t max_num_batched_tokens = 2048;  // tokens per step at most
  bool enable_chunked_prefill = true;
  int32_t max_model_len = 2048;  // prompt + output tokens at most
  // The KV cache's block size and hash function, for the block hashes of requests that take part
  // in prefix caching (request_spec::cache_prefix).
  int32_t block_size = 16;
  block_hash_algo hash_algo = block_hash_algo::sha256;
  scheduling_policy policy = scheduling_policy::fcfs;
  // Speculative decoding by prompt lookup: after each sampled token a decoding request proposes
  // drafts (propose_ngram_drafts over its tokens; no more than its max_tokens leaves room for
  // after the token that follows them), which its next step computes after its last token and
  // the executor verifies; update() keeps the accepted ones. Not with async scheduling. With a
  // per-batch-size schedule, the step's number of requests sets how many drafts follow it.
  speculative_config speculative;
  // Pipeline parallelism's stages (above): above 1, no placeholders (a request waits for its
  // sampled token) and about 1/P of the requests a step.
  int32_t pipeline_stages = 1;
};

// Without chunked prefill, a waiting request passed over this many times (requests behind it
// admitted because it did not fit the budget left) stops admission until it fits.
inline constexpr int32_t max_times_passed_over = 16;

struct step_plan {
  step_delta delta;                 // what the executor gets; no seqs when nothing fits
  std::vector<uint64_t> preempted;  // requests sent back to waiting in this step
  // Decode tokens: each the one token of a sequence past its first output (the rest: prefill).
  int32_t num_decode_tokens = 0;
  int32_t num_scheduled_tokens() const { return static_cast<int32_t>(delta.token_ids.size()); }
  bool empty() const { return delta.seqs.empty(); }
};

// New tokens of one request after a step; `finish` is set on its last output.
struct request_output {
  uint64_t request_id = 0;
  std::vector<int32_t> new_token_ids;
  finish_reason finish = finish_reason::none;
  int32_t num_prompt_tokens = 0;
  int32_t num_output_tokens = 0;  // total so far
  int32_t num_cached_tokens = 0;  // found in the prefix cache at first admission
  // Finished by one of spec.request_stop_token_ids: that token (vLLM's stop_reason); else -1.
  int32_t stop_token_id = -1;
  // With spec.return_logprobs: one entry per new token (its logprobs); else empty.
  std::vector<sampled_token> sampled;
  // With prompt logprobs: the prompt positions the step scored (sampled_token::prompt_position),
  // in order; an output may carry only these (no token, not finished).
  std::vector<sampled_token> prompt_logprobs;
};

class scheduler {
 public:
  explicit scheduler(scheduler_config config) : config_(config) {}

  // Queues a request at the back of waiting. Errors (nothing queued): duplicate id, empty prompt,
  // prompt of max_model_len tokens or more, max_tokens < 1, and without chunked prefill a prompt
  // longer than max_num_batched_tokens. With spec.cache_prefix, hashes the prompt's full blocks
  // that spec.prompt_block_hashes lacks.
  status add_request(request_spec spec);
  // Removes a waiting or running request; false for unknown ids. The caller frees its blocks.
  bool abort(uint64_t request_id);

  step_proposal propose() const;
  // A plan with sequences also carries every release since the last plan (delta.released).
  step_plan finalize(const step_proposal& proposal, const step_grant& grant);
  step_plan schedule(kv_allocator& allocator);  // propose, reserve, finalize in one go
  // requires: `sampled` holds the tokens of every sampling sequence of `plan`, in order: one, or
  // for a chunk with drafts its accepted drafts' tokens and the one after them
  // (model_runner::execute). A sequence's rejected drafts leave its computed tokens.
  std::vector<request_output> update(const step_plan& plan, std::span<const sampled_token> sampled);
  // The requests released since the last plan (or the last call), for the executor to forget
  // when no step is going to carry them.
  std::vector<uint64_t> take_released() { return std::exchange(released_, {}); }

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  // Waiting requests that were never preempted: what --max-waiting-requests bounds.
  int32_t num_waiting_new() const { return num_waiting() - num_waiting_preempted_; }
  int64_t num_preemptions() const { return num_preemptions_; }
  // Speculative decoding so far (all zero without it).
  const spec_decode_stats& spec_stats() const { return spec_stats_; }
  const scheduler_config& config() const { return config_; }
  const sched_request* find(uint64_t request_id) const;
  const std::vector<uint64_t>& running() const { return running_; }
  const std::deque<uint64_t>& waiting() const { return waiting_; }

 private:
  sched_request& get(uint64_t request_id);
  void preempt(uint64_t request_id);
  // Puts a request into waiting at its policy's place: FCFS at the back (new) or the front
  // (preempted), priority by (priority, arrival).
  void enqueue_waiting(const sched_request& r, bool preempted);
  std::vector<uint64_t> preemption_order(const step_proposal& proposal) const;
  void admit(const admission_grant& grant, step_plan& plan);
  void count_passed_over(const step_proposal& proposal, const step_grant& grant);
  slot_demand running_demand(const sched_request& r, int32_t num_total_tokens) const;
  void schedule_seq(sched_request& r, std::span<const int32_t> new_block_ids,
                    int32_t num_total_tokens, step_plan& plan);
  void hash_full_blocks(sched_request& r) const;
  bool last_token_in_flight(const sched_request& r) const;
  bool pipelined() const { return config_.pipeline_stages > 1; }
  // Requests one step may carry: max_num_seqs, or under pipeline parallelism about 1/P of them.
  int32_t max_requests_per_step() const;
  // Sets r's drafts for its next step (none without speculative decoding), after a step of
  // `batch_size` requests.
  void propose_drafts(sched_request& r, int32_t batch_size) const;
  void count_drafts(int32_t num_drafts, int32_t num_accepted);
  finish_reason check_stop(const sched_request& r, int32_t& stop_token_id) const;
  // Forgets a request, running or waiting.
  void remove(uint64_t request_id);
  // A running request leaves running and is released; others are left alone.
  void remove_running(uint64_t request_id);

  scheduler_config config_;
  std::unordered_map<uint64_t, sched_request> requests_;
  std::vector<uint64_t> running_;
  std::deque<uint64_t> waiting_;
  std::vector<uint64_t> released_;  // stopped running since the last plan
  int64_t num_preemptions_ = 0;
  spec_decode_stats spec_stats_;
  int32_t num_waiting_preempted_ = 0;
  uint64_t next_arrival_ = 0;
};

}  // namespace troupe::runtime
