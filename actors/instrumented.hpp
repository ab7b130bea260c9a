#pragma once
// The instrumented<> mixin and actor_kind_metrics live in actor_telemetry/ (shared with the load
// generator's actors in loadgen/); the server's actors use them under their old names.
#include "actor_telemetry/instrumented.hpp"

namespace troupe::actors {

using actor_telemetry::actor_kind_metrics;
using actor_telemetry::instrumented;

}  // namespace troupe::actors
