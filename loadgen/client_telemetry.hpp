#pragma once
// `troupe bench --telemetry`: the load generator's own actors, measured as the server's are
// (actor_telemetry's instrumented<>), so a slow client is never mistaken for a slow server.
//
//   registry (troupe_actor_* by kind) --sample()--> telemetry_sample (cumulative, at t)
//   figures_between(earlier, later)   --> client_telemetry (per kind over the interval)
//   client_bottlenecks(figures, client_delays) --> reasons; empty = the client kept up
//
// Kinds: "driver", "collector", "monitor" (the periodic line's ticker) are CAF actors;
// "http_client" is the HTTP client's io threads: its messages are the requests the driver hands
// them, its mailbox the io queue (wait: from the send decision, where a request's timestamps
// start, to an io thread starting it), and its busy figure is the threads' CPU time.
//
// Everything here is CAF-free and, but for sample(), pure.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/telemetry/metrics.hpp"

namespace troupe::loadgen {

// One kind as spawned: how many actors (threads) of it, and whether its busy figure is CPU time.
struct kind_spec {
  std::string kind;
  int64_t num_actors = 1;
  bool cpu_timed = false;        // busy = CPU time of its threads, not handling time
  bool delays_requests = false;  // its mailbox waits delay a request's send or start
};

// The cumulative counters of one kind at one moment.
struct kind_counters {
  kind_spec spec;
  double messages = 0;
  double mailbox_depth_peak = 0;
  telemetry::histogram_snapshot wait;  // seconds
  double busy_s = 0;                   // handling time, or CPU time when spec.cpu_timed
};

struct telemetry_sample {
  double at_s = 0;  // seconds since the run's epoch
  std::vector<kind_counters> kinds;
};

// One kind over an interval.
struct actor_kind_figures {
  std::string kind;
  int64_t num_actors = 0;
  int64_t messages = 0;
  int64_t mailbox_depth_peak = 0;  // since the run started (a peak has no interval)
  double mean_wait_ms = 0;
  double p99_wait_ms = 0;  // interpolated in the histogram's buckets
  double busy_s = 0;
  double busy_fraction = 0;  // busy_s / (interval x num_actors)
  bool cpu_timed = false;
  bool delays_requests = false;
};

struct client_telemetry {
  double duration_s = 0;  // the interval the figures cover
  std::vector<actor_kind_figures> kinds;
};

// Reads the kinds' troupe_actor_* members from `registry`; `cpu_s` is the busy figure of the
// cpu_timed kind (there is one: http_client). Thread: any (the registry locks).
telemetry_sample sample(const telemetry::registry& registry, const std::vector<kind_spec>& kinds,
                        double at_s, double cpu_s);

// The messages a kind has handled by the sample; 0 if it is not sampled.
int64_t messages_of(const telemetry_sample& s, const std::string& kind);

// requires: `later` sampled the same kinds after `earlier` (or `earlier` is empty: from 0).
client_telemetry figures_between(const telemetry_sample& earlier, const telemetry_sample& later);

// The q-quantile (q in [0, 1]) of a bucketed histogram, as Prometheus's histogram_quantile:
// linear within the bucket holding rank q x count (from 0 for the first); the highest finite
// bound when it falls in +Inf; 0 without observations.
double histogram_quantile(const telemetry::histogram_snapshot& h, double q);

// What the rule weighs the client's delays against, from the run's records (metrics.cpp).
struct client_delays {
  std::optional<double> send_lateness_p99_ms;  // release time - scheduled time
  double mean_send_gap_ms = 0;                 // of the schedule; 0 at rate inf
  std::optional<double> median_ttft_ms;        // of the successful requests
};

// The rule that calls the client the bottleneck. Each test weighs a delay of the client against
// the time scale it distorts:
//   1. any kind busy more than `busy_fraction` of the run: saturated, its messages queue
//      without bound (the collector's backlog also stretches the run's duration);
//   2. send lateness p99 above max(`lateness_floor_ms`, the mean send gap): the configured
//      arrival process was not what the server was offered;
//   3. the mailbox wait p99 of a kind whose waits delay requests (kind_spec::delays_requests:
//      the driver's sends and freed concurrency slots, the http_client's request starts, which
//      TTFT and E2EL include) above max(`wait_floor_ms`, `wait_share_of_ttft` x median TTFT).
// Tests 2 and 3 need their figures (absent: not judged). Jitter well inside a send gap or a
// TTFT is no bottleneck; the floors keep sub-millisecond noise out.
struct bottleneck_limits {
  double busy_fraction = 0.8;
  double lateness_floor_ms = 10.0;
  double wait_floor_ms = 1.0;
  double wait_share_of_ttft = 0.1;
};

// One reason per test failed, e.g. "driver busy 93% (limit 80%)"; empty = the client kept up.
std::vector<std::string> client_bottlenecks(const std::vector<actor_kind_figures>& kinds,
                                            const client_delays& delays,
                                            const bottleneck_limits& limits = {});

// "client-side bottleneck: REASON; REASON" or "client-side bottleneck: none".
std::string bottleneck_statement(const std::vector<std::string>& reasons);

// The periodic line (stderr during a run): the interval's figures per kind and its verdict
// (test 1 only: latencies are known at the end).
//   troupe bench telemetry [10.0 s, 812/1000 done]: driver busy 2.1% wait p99 0.03 ms; ...;
//   client-side bottleneck: none
std::string format_telemetry_line(const client_telemetry& interval, double at_s, int64_t num_done,
                                  int64_t num_total);

}  // namespace troupe::loadgen
