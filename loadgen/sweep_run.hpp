#pragma once
// `troupe bench sweep`: one full benchmark run per request rate ("point"), each written as its
// normal benchmark_serving result JSON, and the SLO search whose probes are such points.
//
//   run_sweep:      rates r1, r2, ...  -> run_point(r1), run_point(r2), ...  (one after another)
//   run_slo_search: search_max_rate(probe = run_point(r) + check_slo)
//
// Thread: blocking; call from one thread. Each point owns its actor system (bench_run.hpp).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/arrival_process.hpp"
#include "loadgen/bench_run.hpp"
#include "loadgen/report.hpp"
#include "loadgen/sweep.hpp"

namespace troupe::loadgen {

// Everything a point needs but its rate.
struct point_setup {
  std::vector<sample_request> requests;  // every point sends these, in this order
  arrival_config arrivals;               // request_rate is replaced per point; no ramp-up
  std::optional<int32_t> max_concurrency;
  body_options body;
  http_endpoint endpoint;
  std::vector<double> metric_percentiles = {99.0};
  goodput_config goodput;
  token_counter count_tokens;  // may be empty (see calculate_metrics)
  run_description run;         // request_rate and duration_s are set per point
  std::string result_dir;      // where each point's JSON goes; empty = the current directory
  bool save_detailed = false;
  std::function<void(int64_t num_done, int64_t num_total)> on_progress;  // optional
  telemetry_options telemetry;  // --telemetry, for each point
};

struct point_result {
  double configured_rate = 0;
  run_description run;  // as written to the point's JSON
  benchmark_metrics metrics;
  latency_samples samples;
  std::optional<slo_verdict> slo;  // SLO search probes only
  std::string result_file;         // the point's JSON
};

// "YYYYmmdd-HHMMSS" in local time (benchmark_serving's file-name date).
std::string local_date_stamp();

// Runs one point and writes its JSON (benchmark_serving's name in result_dir). Errors when the
// endpoint cannot be resolved or the file cannot be written; failed requests are counted.
result<point_result> run_point(const point_setup& setup, double rate);

// Called after each point (e.g. to print its report).
using point_callback = std::function<void(const point_result&)>;

// requires: rates non-empty, each > 0 (inf allowed).
result<std::vector<point_result>> run_sweep(const point_setup& setup,
                                            const std::vector<double>& rates,
                                            const point_callback& on_point);

struct slo_search_result {
  search_outcome search;
  std::vector<point_result> probes;  // in probe order, each with its verdict
};

// requires: validate(options) is ok, slo.limits_ms non-empty.
result<slo_search_result> run_slo_search(const point_setup& setup, const slo_spec& slo,
                                         const search_options& options,
                                         const point_callback& on_point);

}  // namespace troupe::loadgen
