#pragma once
// The batcher actor: owns the runtime::scheduler and runs the step loop, one step in flight
// (two with async scheduling, below):
//
//   plan = schedule()        propose -> kv allocator (reserve_blocks) -> finalize
//   results = execute(plan)  every executor (execute_step: the plan's step_delta), one per
//                            rank; token_rank's tokens are the step's (rank 0, or the last
//                            pipeline stage's first), an error at any rank fails the step's
//                            requests (500)
//   update(plan, results)    append tokens, finish requests, release their blocks
//   emit(outputs)            token_delta to each request actor
//
// Submissions and aborts arriving while a step is in flight wait until it is over, so the
// scheduler never changes under a plan.
//
// Pipeline parallelism (max_steps_in_flight = the stages): as soon as a step is sent the next is
// scheduled from the requests whose sampled token is not in flight (the scheduler's
// pipeline_stages) and sent behind it, up to one a stage, so stage 0 runs step N + 1
// while stage 1 runs step N; steps are applied in order as they return. Submissions and aborts
// wait only for the allocator's round trip, and a failed step fails the steps behind it, as
// below.
//
// Async scheduling (--async-scheduling, vLLM's): as soon as step N is sent, step N+1 is
// scheduled and sent behind it, its decode tokens placeholders for what step N samples
// (runtime/sched/scheduler.hpp); step N's answer is applied once N+1 has been sent, and then
// N+2 is scheduled. So the executors find the next step in their mailbox when one ends, and the
// scheduling, the allocator's round trip and the token deltas of a step overlap the next step's
// execution. Submissions and aborts wait only for the allocator's round trip. A failed step also
// fails the step behind it (which may feed its placeholders or read its blocks), and nothing
// new is scheduled until that one has returned. Idle (no step scheduled) when there is nothing to
// do; going idle, it tells the executors which sequences to forget (release_sequences), which a
// step's delta carries otherwise. Every rank gets the same messages in the same order, so every
// rank's sequence_states stay the same (a delta one rank refuses, every rank refuses).
//
// Telemetry: every token_delta carries the request's request_times (queued, first scheduled);
// each step observes step_metrics (time per phase, tokens by kind, batch
// size) and, unless --disable-log-stats, vLLM's running/waiting gauges, preemptions and
// iteration tokens. A few clock reads per step; no formatting unless a log level asks for it.
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/engine_counters.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/instrumented.hpp"
#include "actors/messages.hpp"
#include "runtime/sched/scheduler.hpp"

namespace troupe::actors {

struct batcher_options {
  runtime::scheduler_config scheduler;
  int32_t max_waiting_requests = 1024;  // beyond it, submissions fail with 503
  bool debug_log = false;               // one log line per step
  bool log_requests = false;            // --enable-log-requests: "queued" and "scheduled" lines
  bool async_scheduling = false;        // --async-scheduling: the next step sent before a step ends
  // The executor whose tokens are the step's: 0, or with pipeline parallelism the last stage's
  // first tensor-parallel rank (the stages before it sample nothing).
  size_t token_rank = 0;
  // Pipeline parallelism: steps sent before the oldest returns, one a stage (with
  // scheduler.pipeline_stages, so that they carry different requests); 1 otherwise.
  size_t max_steps_in_flight = 1;
};

struct batcher_metrics {
  actor_kind_metrics actor;          // the batcher's own (kind "batcher")
  step_metrics steps;                // always observed
  std::optional<vllm_metrics> vllm;  // empty with --disable-log-stats
};

// requires: executors not empty, executors[r] is rank r's, token_rank < executors.size().
batcher_actor spawn_batcher(caf::actor_system& system, batcher_options options,
                            kv_allocator_actor allocator, std::vector<executor_actor> executors,
                            std::shared_ptr<engine_counters> counters, batcher_metrics metrics);

}  // namespace troupe::actors
