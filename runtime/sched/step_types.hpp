#pragma once
// Values exchanged between the scheduler and the KV allocator policy within one step:
//
//   proposal = scheduler.propose()            running demands (budget charged), waiting
//                                             candidates (not yet charged), the budget left
//   grant    = kv_allocator.reserve(proposal) blocks granted to running requests in order,
//                                             victims preempted; then candidates admitted with
//                                             their cache hits, each charged only for the tokens
//                                             it computes
//   plan     = scheduler.finalize(proposal, grant)
//
// The allocator decides how many tokens an admitted request computes because only it knows the
// cache hits; the scheduler cannot charge the budget for them in advance without wasting it on
// tokens that are never computed. One round trip per step. Everything here is ids, counts and
// hashes, so it travels as actor messages unchanged.
#include <cstdint>
#include <vector>

#include "runtime/sched/block_hash.hpp"

namespace troupe::runtime {

// A running request's table must cover `num_total_tokens` tokens after this step. `block_hashes`
// are the hashes of its blocks first_block, first_block + 1, ... that are full after this step
// and not before (empty for a request outside the prefix cache).
struct slot_demand {
  uint64_t request_id = 0;
  int32_t num_total_tokens = 0;
  int32_t first_block = 0;
  std::vector<block_hash> block_hashes;
};

// A waiting request that may be admitted: `num_tokens` tokens to have in the cache (prompt, plus
// outputs of a preempted request), the hashes of all its full blocks (empty outside the prefix
// cache), whether it may take cache hits. `may_be_passed`: without chunked prefill, a candidate
// that does not fit the budget left is passed over so the ones behind it can start; once passed
// over too often it stops admission instead, so the running set drains until it fits (no
// starvation).
struct admission_candidate {
  uint64_t request_id = 0;
  int32_t num_tokens = 0;
  std::vector<block_hash> block_hashes;
  bool may_be_passed = true;
  // false: it takes no prefix-cache hits (its blocks are still registered as they fill): a
  // request with prompt logprobs computes its whole prompt, as vLLM's skip_reading_prefix_cache.
  bool read_cache = true;
};

// The scheduler's rules for admitting candidates, evaluated by the allocator.
struct admission_budget {
  int32_t num_tokens = 0;  // token budget left after the running requests
  int32_t max_num_batched_tokens = 0;
  bool enable_chunked_prefill = true;
};

struct step_proposal {
  // Running requests that get tokens this step, in running order (a prefix of running).
  std::vector<slot_demand> running;
  // The running requests after them (no tokens this step, token budget spent), in order. With
  // `running` they form the whole running list, whose tail is preempted first.
  std::vector<uint64_t> running_rest;
  // The whole running list in the order its requests may be preempted, the first to go at the
  // back. Empty: `running` then `running_rest`, the tail going first (FCFS). Under the priority
  // policy: by (priority, arrival), the lowest priority and latest arrival at the back, which may
  // be a request already granted blocks in this step (its grant is then taken back).
  std::vector<uint64_t> preemption_order;
  // Waiting requests to admit, in queue order, if no running request had to be preempted; at
  // most as many as max_num_seqs leaves room for.
  std::vector<admission_candidate> waiting;
  admission_budget budget;
};

// New blocks appended to a running request's table (possibly none).
struct block_grant {
  uint64_t request_id = 0;
  std::vector<int32_t> new_block_ids;
};

// An admitted candidate: its whole table, the tokens already in the cache (the first
// num_computed_tokens, full blocks found by hash), and the tokens covered after this step (it
// computes num_total_tokens - num_computed_tokens of them).
struct admission_grant {
  uint64_t request_id = 0;
  std::vector<int32_t> block_ids;
  int32_t num_computed_tokens = 0;
  int32_t num_total_tokens = 0;
};

struct step_grant {
  std::vector<block_grant> running;       // granted entries of proposal.running, in order
  std::vector<admission_grant> admitted;  // admitted candidates, in proposal order
  std::vector<uint64_t> preempted;        // running requests whose blocks were freed, tail first
};

}  // namespace troupe::runtime
