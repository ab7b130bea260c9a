#pragma once
// Values exchanged between the scheduler and the KV allocator policy within one step:
//
//   proposal = scheduler.propose()            token counts, no blocks yet
//   grant    = kv_allocator.reserve(proposal) blocks granted in priority order, victims preempted
//   plan     = scheduler.finalize(proposal, grant)
//
// They carry ids and counts only, so they can travel as actor messages unchanged.
#include <cstdint>
#include <vector>

namespace troupe::runtime {

// The block table of `request_id` must cover `num_total_tokens` tokens after this step.
// A waiting request with num_shared_blocks > 0 (a choice of an n > 1 request) starts its table
// with the first num_shared_blocks blocks of running request `share_from`, already computed.
struct slot_demand {
  uint64_t request_id = 0;
  int32_t num_total_tokens = 0;
  uint64_t share_from = 0;
  int32_t num_shared_blocks = 0;
};

struct step_proposal {
  // Running requests that get tokens this step, in running order (a prefix of running).
  std::vector<slot_demand> running;
  // The running requests after them (no tokens this step, token budget spent), in order. With
  // `running` they form the whole running list, whose tail is preempted first.
  std::vector<uint64_t> running_rest;
  // Waiting requests to admit, in queue order, if no running request had to be preempted.
  std::vector<slot_demand> waiting;
};

// New blocks appended to a request's table (possibly none; for a shared start, the shared blocks
// first).
struct block_grant {
  uint64_t request_id = 0;
  std::vector<int32_t> new_block_ids;
};

struct step_grant {
  std::vector<block_grant> running;   // granted entries of proposal.running, in order
  std::vector<block_grant> admitted;  // granted prefix of proposal.waiting
  std::vector<uint64_t> preempted;    // running requests whose blocks were freed, tail first
};

}  // namespace troupe::runtime
