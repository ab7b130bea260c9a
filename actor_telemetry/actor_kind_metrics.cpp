#include "actor_telemetry/actor_kind_metrics.hpp"

namespace troupe::actor_telemetry {
namespace {

// Handling and waiting times from 10 us to 60 s.
const std::vector<double> seconds_buckets = {1e-5,   2.5e-5, 5e-5, 1e-4,  2.5e-4, 5e-4, 1e-3,
                                             2.5e-3, 5e-3,   0.01, 0.025, 0.05,   0.1,  0.25,
                                             0.5,    1.0,    2.5,  5.0,   10.0,   30.0, 60.0};

}  // namespace

actor_kind_metrics actor_kind_metrics::create(telemetry::registry& registry,
                                              const std::string& kind, telemetry::labels extra) {
  telemetry::labels l{{"kind", kind}};
  l.insert(l.end(), extra.begin(), extra.end());
  actor_kind_metrics m;
  m.messages = &registry.add_counter("troupe_actor_messages_total",
                                     "Messages handled by actors of the kind.", l);
  m.depth = &registry.add_gauge("troupe_actor_mailbox_depth",
                                "Messages waiting in the mailboxes of actors of the kind.", l);
  m.depth_peak = &registry.add_gauge("troupe_actor_mailbox_depth_peak",
                                     "The most messages that waited at once.", l);
  m.handle_seconds = &registry.add_histogram("troupe_actor_handle_seconds",
                                             "Time to handle one message.", l, seconds_buckets);
  m.wait_seconds =
      &registry.add_histogram("troupe_actor_mailbox_wait_seconds",
                              "Time from enqueue to the start of handling.", l, seconds_buckets);
  m.busy_seconds =
      &registry.add_counter("troupe_actor_busy_seconds_total",
                            "Time spent handling messages (its rate is the busy fraction).", l);
  m.running = &registry.add_gauge("troupe_actors_running", "Actors of the kind alive.", l);
  return m;
}

}  // namespace troupe::actor_telemetry
