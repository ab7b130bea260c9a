#pragma once
// The pure parts of `troupe bench sweep`: the request-rate list, latency samples and their
// CDFs, the SLO check, and the search for the highest rate that meets an SLO. No clocks, no
// I/O: the search drives a probe function the caller supplies (a full benchmark run in
// `troupe bench`, a formula in tests).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "loadgen/metrics.hpp"

namespace troupe::loadgen {

// --request-rates: comma-separated items, each a rate, "inf", or a range:
//   "1,2,4,8,inf"   the rates as given
//   "1:16:x2"       geometric: 1, 2, 4, 8, 16 (start:stop:xFACTOR, FACTOR > 1)
//   "1:8:1"         arithmetic: 1, 2, ..., 8   (start:stop:STEP, STEP > 0)
// A range includes stop when it lands on it (within 1e-9 relative). Rates must be positive;
// "inf" may only be a single item. At most 1000 rates. The order is kept (not sorted).
result<std::vector<double>> parse_request_rates(std::string_view text);

// Latencies of the successful requests of one run, in ms (TPOT only where output_len > 1, as
// benchmark_serving's percentiles).
struct latency_samples {
  std::vector<double> ttft_ms, tpot_ms, itl_ms, e2el_ms;
};

// requires: output_lens[i] is the output length of records[i] (calculate_metrics' output_lens).
latency_samples collect_samples(const std::vector<request_record>& records,
                                const std::vector<int32_t>& output_lens);

// The samples of one metric: "ttft", "tpot", "itl" or "e2el". requires: a known name.
const std::vector<double>& samples_of(const latency_samples& s, const std::string& metric);

// The empirical CDF as (value, fraction <= value) points, at most `max_points` of them (evenly
// spaced in rank, always including the largest value). Empty input: no points.
std::vector<std::pair<double, double>> empirical_cdf(std::vector<double> values,
                                                     size_t max_points = 256);

// --slo ttft:500,tpot:50 [--slo-percentile 99]: every listed metric's percentile must be at
// most its limit (ms).
struct slo_spec {
  std::vector<std::pair<std::string, double>> limits_ms;  // of ttft, tpot, itl, e2el
  double percentile = 99.0;
};

// "ttft:500,tpot:50" -> limits (metric names as above, limits >= 0). Errors name the item.
result<std::vector<std::pair<std::string, double>>> parse_slo_limits(std::string_view text);

struct slo_check {
  std::string metric;
  double limit_ms = 0;
  double value_ms = 0;  // the percentile measured
  bool met = false;
};

struct slo_verdict {
  bool met = false;  // every check met, at least one request completed and none failed
  std::vector<slo_check> checks;
  int64_t num_failed = 0;
};

slo_verdict check_slo(const slo_spec& slo, const latency_samples& samples, int64_t num_completed,
                      int64_t num_failed);

// The search: probe the start rate; while it meets the SLO double the rate, else halve it,
// until the highest passing rate `lo` and lowest failing rate `hi` bracket the answer; then
// bisect (arithmetic midpoint) until hi / lo - 1 <= tolerance. Every probe counts against
// max_probes; the search stops there and answers the best rate met so far.
struct search_options {
  double start_rate = 1.0;  // > 0, finite
  double tolerance = 0.05;  // relative width of the final bracket, > 0
  int32_t max_probes = 12;  // >= 1
};

struct probe_record {
  double rate = 0;
  bool met = false;
};

struct search_outcome {
  std::optional<double> best_rate;  // highest rate probed that met the SLO; none if none did
  std::optional<double> lowest_failed_rate;
  std::vector<probe_record> probes;  // in probe order
  std::string stop_reason;           // "converged", "max probes reached", "no rate met the SLO"
};

status validate(const search_options& options);

// `probe(rate)` runs one probe and says whether it met the SLO; its error ends the search with
// that error. requires: validate(options) is ok.
result<search_outcome> search_max_rate(const search_options& options,
                                       const std::function<result<bool>(double)>& probe);

}  // namespace troupe::loadgen
