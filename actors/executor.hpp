#pragma once
// The executor actor: owns the model runner and runs one step at a time on its own thread
// (spawned detached, so a long forward never blocks the CAF workers).
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/instrumented.hpp"
#include "actors/messages.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::actors {

// requires: runner != nullptr. A runner that throws answers the step with an error. Spawned
// instrumented with `actor` (kind "executor", labelled with its rank).
executor_actor spawn_executor(caf::actor_system& system,
                              std::unique_ptr<runtime::model_runner> runner,
                              actor_kind_metrics actor);

}  // namespace troupe::actors
