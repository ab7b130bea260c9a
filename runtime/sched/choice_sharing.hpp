#pragma once
// How a waiting choice of an n > 1 request starts: on a sibling's computed prompt blocks, after
// waiting for a sibling to compute them, or alone.
//
// The choices of one request (request_spec::group_id) have the same prompt. Their first
// floor((prompt_len - 1) / block_size) blocks hold only prompt tokens and are never written again
// once computed, so every choice can hold the same ones (kv_cache_manager::allocate_shared); each
// computes its prompt tail itself, at least the last prompt token, whose logits it samples from.
//
//   prompt of 37 tokens, block_size 16:  [ 0..15 | 16..31 ]  shared (2 blocks)  [ 32..36 ] own
//
// Any running sibling whose computed tokens cover the shared blocks is a donor: the first choice,
// or a choice that itself started shared (so a preempted first choice re-shares from a sibling).
//
// Thread: a pure function over the scheduler's state.
#include <cstdint>
#include <span>
#include <unordered_map>

#include "runtime/sched/request.hpp"
#include "runtime/sched/step_types.hpp"

namespace troupe::runtime {

struct choice_start {
  bool wait = false;  // a sibling is computing the shared blocks: admit nothing before it
  uint64_t donor = 0;
  int32_t num_shared_blocks = 0;  // 0: compute everything alone
};

// `r` is waiting; `running` is the running list; `admitting` the waiting requests already
// proposed for admission in this step (they compute in this step: no donors yet).
// requires: block_size >= 0 (0 turns sharing off).
choice_start plan_choice_start(const sched_request& r,
                               const std::unordered_map<uint64_t, sched_request>& requests,
                               std::span<const uint64_t> running,
                               std::span<const slot_demand> admitting, int32_t block_size);

}  // namespace troupe::runtime
