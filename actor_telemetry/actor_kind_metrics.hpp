#pragma once
// The metric handles of one actor kind, CAF-free so that code outside an actor (an io thread
// standing in for one, an exporter) can fill or read the same families as instrumented<>.
//
// Per actor kind (label `kind`, plus `rank` for executors), in the shared registry:
//   troupe_actor_messages_total            messages handled
//   troupe_actor_mailbox_depth             messages waiting now (all actors of the kind)
//   troupe_actor_mailbox_depth_peak        the most that ever waited
//   troupe_actor_handle_seconds            handling time per message (histogram)
//   troupe_actor_mailbox_wait_seconds      enqueue to handling start (histogram)
//   troupe_actor_busy_seconds_total        time spent handling (its rate is the busy fraction)
//   troupe_actors_running                  actors of the kind alive
//
// Thread: create() locks the registry; the handles are lock-free from any thread.
#include <string>

#include "runtime/telemetry/metrics.hpp"

namespace troupe::actor_telemetry {

// The metric handles of one actor kind; valid while the registry lives.
struct actor_kind_metrics {
  telemetry::counter* messages = nullptr;
  telemetry::gauge* depth = nullptr;
  telemetry::gauge* depth_peak = nullptr;
  telemetry::histogram* handle_seconds = nullptr;
  telemetry::histogram* wait_seconds = nullptr;
  telemetry::counter* busy_seconds = nullptr;
  telemetry::gauge* running = nullptr;

  // Registers (or finds) the kind's metrics; `extra` labels follow `kind` (e.g. rank).
  static actor_kind_metrics create(telemetry::registry& registry, const std::string& kind,
                                   telemetry::labels extra = {});
};

}  // namespace troupe::actor_telemetry
