#pragma once
// The batcher actor: owns the runtime::scheduler and runs the step loop, one step in flight:
//
//   plan = schedule()        propose -> kv allocator (reserve_blocks) -> finalize
//   results = execute(plan)  executor (execute_step)
//   update(plan, results)    append tokens, finish requests, release their blocks
//   emit(outputs)            token_delta to each request actor
//
// Submissions and aborts arriving while a step is in flight wait until it is over, so the
// scheduler never changes under a plan. Idle (no step scheduled) when there is nothing to do.
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/engine_counters.hpp"
#include "actors/messages.hpp"
#include "runtime/sched/scheduler.hpp"

namespace troupe::actors {

struct batcher_options {
  runtime::scheduler_config scheduler;
  int32_t max_waiting_requests = 1024;  // beyond it, submissions fail with 503
  bool debug_log = false;               // one log line per step
};

batcher_actor spawn_batcher(caf::actor_system& system, batcher_options options,
                            kv_allocator_actor allocator, executor_actor executor,
                            std::shared_ptr<engine_counters> counters);

}  // namespace troupe::actors
