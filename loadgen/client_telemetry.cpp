#include "loadgen/client_telemetry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace troupe::loadgen {
namespace {

std::string format(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

std::string percent(double fraction) {
  return format("%.0f%%", 100.0 * fraction);
}

const kind_counters* find_kind(const telemetry_sample& s, const std::string& kind) {
  for (const auto& k : s.kinds)
    if (k.spec.kind == kind) return &k;
  return nullptr;
}

// later - earlier, bucket by bucket (same bounds); `earlier` may be empty.
telemetry::histogram_snapshot minus(const telemetry::histogram_snapshot& later,
                                    const telemetry::histogram_snapshot& earlier) {
  telemetry::histogram_snapshot d = later;
  if (earlier.counts.size() != later.counts.size()) return d;
  for (size_t i = 0; i < d.counts.size(); ++i)
    d.counts[i] -= std::min(d.counts[i], earlier.counts[i]);
  d.sum -= earlier.sum;
  d.count -= std::min(d.count, earlier.count);
  return d;
}

}  // namespace

telemetry_sample sample(const telemetry::registry& registry, const std::vector<kind_spec>& kinds,
                        double at_s, double cpu_s) {
  telemetry_sample s;
  s.at_s = at_s;
  for (const auto& spec : kinds) {
    const telemetry::labels l = {{"kind", spec.kind}};
    kind_counters k;
    k.spec = spec;
    k.messages = registry.value("troupe_actor_messages_total", l).value_or(0);
    k.mailbox_depth_peak = registry.value("troupe_actor_mailbox_depth_peak", l).value_or(0);
    if (auto h = registry.histogram_value("troupe_actor_mailbox_wait_seconds", l)) k.wait = *h;
    k.busy_s =
        spec.cpu_timed ? cpu_s : registry.value("troupe_actor_busy_seconds_total", l).value_or(0);
    s.kinds.push_back(std::move(k));
  }
  return s;
}

int64_t messages_of(const telemetry_sample& s, const std::string& kind) {
  const kind_counters* k = find_kind(s, kind);
  return k ? static_cast<int64_t>(k->messages) : 0;
}

client_telemetry figures_between(const telemetry_sample& earlier, const telemetry_sample& later) {
  client_telemetry out;
  out.duration_s = later.at_s - earlier.at_s;
  const kind_counters zero;
  for (const auto& k : later.kinds) {
    const kind_counters* e = find_kind(earlier, k.spec.kind);
    if (!e) e = &zero;
    const auto wait = minus(k.wait, e->wait);
    actor_kind_figures f;
    f.kind = k.spec.kind;
    f.num_actors = k.spec.num_actors;
    f.cpu_timed = k.spec.cpu_timed;
    f.delays_requests = k.spec.delays_requests;
    f.messages = static_cast<int64_t>(k.messages - e->messages);
    f.mailbox_depth_peak = static_cast<int64_t>(k.mailbox_depth_peak);
    f.mean_wait_ms = wait.count > 0 ? 1e3 * wait.sum / static_cast<double>(wait.count) : 0.0;
    f.p99_wait_ms = 1e3 * histogram_quantile(wait, 0.99);
    f.busy_s = k.busy_s - e->busy_s;
    const double capacity =
        out.duration_s * static_cast<double>(std::max<int64_t>(f.num_actors, 1));
    f.busy_fraction = capacity > 0 ? f.busy_s / capacity : 0.0;
    out.kinds.push_back(std::move(f));
  }
  return out;
}

double histogram_quantile(const telemetry::histogram_snapshot& h, double q) {
  if (h.count == 0 || h.bounds.empty()) return 0.0;
  const double rank = q * static_cast<double>(h.count);
  double below = 0;  // observations in the buckets before i
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    const auto in_bucket = static_cast<double>(h.counts[i]);
    if (in_bucket > 0 && below + in_bucket >= rank) {
      const double lo = i == 0 ? 0.0 : h.bounds[i - 1];
      return lo + (h.bounds[i] - lo) * std::max(0.0, rank - below) / in_bucket;
    }
    below += in_bucket;
  }
  return h.bounds.back();  // the rank lies in +Inf
}

std::vector<std::string> client_bottlenecks(const std::vector<actor_kind_figures>& kinds,
                                            const client_delays& delays,
                                            const bottleneck_limits& limits) {
  std::vector<std::string> reasons;
  for (const auto& k : kinds) {
    if (k.busy_fraction > limits.busy_fraction) {
      reasons.push_back(k.kind + (k.cpu_timed ? " CPU " : " ") + "busy " +
                        percent(k.busy_fraction) + " (limit " + percent(limits.busy_fraction) +
                        ")");
    }
  }
  if (delays.send_lateness_p99_ms) {
    const double limit = std::max(limits.lateness_floor_ms, delays.mean_send_gap_ms);
    if (*delays.send_lateness_p99_ms > limit) {
      reasons.push_back("send lateness p99 " + format("%.2f", *delays.send_lateness_p99_ms) +
                        " ms (limit " + format("%.2f", limit) + " ms)");
    }
  }
  if (delays.median_ttft_ms) {
    const double limit =
        std::max(limits.wait_floor_ms, limits.wait_share_of_ttft * *delays.median_ttft_ms);
    for (const auto& k : kinds) {
      if (k.delays_requests && k.p99_wait_ms > limit) {
        reasons.push_back(k.kind + " mailbox wait p99 " + format("%.2f", k.p99_wait_ms) +
                          " ms (limit " + format("%.2f", limit) + " ms)");
      }
    }
  }
  return reasons;
}

std::string bottleneck_statement(const std::vector<std::string>& reasons) {
  std::string out = "client-side bottleneck: ";
  if (reasons.empty()) return out + "none";
  for (size_t i = 0; i < reasons.size(); ++i)
    out += (i > 0 ? "; " : "") + reasons[i];
  return out;
}

std::string format_telemetry_line(const client_telemetry& interval, double at_s, int64_t num_done,
                                  int64_t num_total) {
  std::string out = "troupe bench telemetry [" + format("%.1f", at_s) + " s, " +
                    std::to_string(num_done) + "/" + std::to_string(num_total) + " done]: ";
  for (const auto& k : interval.kinds) {
    out += k.kind + (k.cpu_timed ? " CPU " : " busy ") + format("%.1f%%", 100.0 * k.busy_fraction) +
           " wait p99 " + format("%.2f", k.p99_wait_ms) + " ms; ";
  }
  return out + bottleneck_statement(client_bottlenecks(interval.kinds, {}));
}

}  // namespace troupe::loadgen
