#pragma once
// The executor actor: owns the model runner and the state of every sequence it runs
// (runtime::sequence_states), and runs one step at a time on its own thread (spawned detached, so
// a long forward never blocks the CAF workers). Each execute_step's delta updates the state and
// becomes the runner's step_batch; release_sequences forgets sequences between steps.
//
// Tensor parallelism: one executor per rank, each owning its rank's runner
// (runtime::tensor_parallel_runner); the batcher sends every rank the same messages in the same
// order, so their states stay equal, and each rank's runner joins the others through its
// communicator. A rank's runner is destroyed when its executor exits (closing the group).
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/instrumented.hpp"
#include "actors/messages.hpp"
#include "runtime/grammar/token_matcher.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/telemetry/metrics.hpp"

namespace troupe::actors {

// requires: runner != nullptr. A delta the state refuses or a runner that throws answers the step
// with an error. Spawned instrumented with `actor` (kind "executor", labelled with its rank).
// `num_sequences`, when given, is set to the number of sequences held after every message.
// `vocabulary` is what structured outputs' grammars are matched against (sequences with a grammar
// fail their step without one). `input_wait`, when given, counts the runner's
// input_wait_seconds (a pipeline stage after the first: its time waiting for the stage before).
executor_actor spawn_executor(
    caf::actor_system& system, std::unique_ptr<runtime::model_runner> runner,
    actor_kind_metrics actor, telemetry::gauge* num_sequences = nullptr,
    std::shared_ptr<const runtime::grammar::token_vocabulary> vocabulary = nullptr,
    telemetry::counter* input_wait = nullptr);

}  // namespace troupe::actors
