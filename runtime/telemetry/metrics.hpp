#pragma once
// The metrics registry: counters, gauges and histograms with labels, cheap enough for the step
// loop and every actor message, exported in the Prometheus text format and as a JSON snapshot.
//
//   registry r;
//   counter& c = r.add_counter("vllm:prompt_tokens_total", "Number of prefill tokens.",
//                              {{"model_name", "smol"}, {"engine", "0"}});
//   c.inc(128);                                     // hot path: one relaxed atomic add
//   histogram& h = r.add_histogram("vllm:e2e_request_latency_seconds", "...", labels,
//                                  {0.3, 0.5, 0.8, 1.0});
//   h.observe(0.42);                                // a bucket's atomic add, the sum's, the
//   count's r.write_prometheus(out);                        // # HELP / # TYPE, _bucket{le=...}
//   _sum _count
//
// Metrics are created once (at start-up, or when an actor starts) and observed many times: the
// handles stay valid for the registry's lifetime, and observing never locks or allocates.
// A family is the metrics of one name; every member has the same type and help (label names may
// differ between members, as Prometheus allows).
// Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*; label values are escaped on export.
//
// Thread: creation and export lock the registry's mutex; observation is lock-free from any thread.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace troupe::telemetry {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  // requires: v >= 0 (a counter only goes up).
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  // Raises the gauge to `v` if it is lower (a peak).
  void max(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A consistent-enough copy of a histogram: bucket i counts observations <= bounds[i] (not
// cumulative; the exporter accumulates), the last bucket those above every bound (+Inf).
struct histogram_snapshot {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // bounds.size() + 1
  double sum = 0.0;
  uint64_t count = 0;
};

class histogram {
 public:
  // requires: bounds strictly increasing.
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  histogram_snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

enum class metric_type : uint8_t { counter, gauge, histogram };

class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  // Adds a member to the family `name` (creating the family). A second add with the same name
  // and labels returns the existing metric. Asserts (a bug) on a bad name, or a family whose
  // type or help differ.
  counter& add_counter(std::string_view name, std::string_view help, labels l = {});
  gauge& add_gauge(std::string_view name, std::string_view help, labels l = {});
  histogram& add_histogram(std::string_view name, std::string_view help, labels l,
                           std::vector<double> bounds);
  // A gauge read at export time (e.g. a queue length another component owns). `read` is called
  // under the registry's lock from the exporting thread: it must be thread-safe and not block.
  void add_gauge_fn(std::string_view name, std::string_view help, labels l,
                    std::function<double()> read);

  // The Prometheus text exposition format 0.0.4, families in creation order.
  std::string prometheus_text() const;
  // {"metrics": [{"name", "type", "help", "samples": [{"labels": {...}, "value"} |
  //   {"labels", "buckets": [[le, cumulative count], ...], "sum", "count"}]}]}
  std::string json_snapshot() const;

  // The value of a counter or gauge member (tests, the periodic stats line); nullopt when absent.
  std::optional<double> value(std::string_view name, const labels& l = {}) const;
  std::optional<histogram_snapshot> histogram_value(std::string_view name,
                                                    const labels& l = {}) const;

 private:
  struct member {
    labels label_values;
    std::unique_ptr<counter> c;
    std::unique_ptr<gauge> g;
    std::unique_ptr<histogram> h;
    std::function<double()> read;
  };
  struct family {
    std::string name, help;
    metric_type type = metric_type::counter;
    std::deque<member> members;
  };
  member& add_member(std::string_view name, std::string_view help, metric_type type, labels l);
  const member* find(std::string_view name, const labels& l) const;
  static double read_value(const member& m);

  mutable std::mutex mutex_;
  std::deque<family> families_;
};

// Prometheus label-value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
// Prometheus float formatting: integers without a fraction, +Inf, shortest round-trip otherwise.
std::string format_value(double v);

}  // namespace troupe::telemetry
