#pragma once
// benchmark_serving's console report and JSON result, from the computed metrics.
//
// The report keeps benchmark_serving's exact titles and "{:<40} {:<10}" rows so scripts that
// parse its output parse ours; troupe's extra figures (send lateness, achieved rate) come in one
// more section with the same layout before the closing line, and with --telemetry a table of the
// client's own actors ending in the "client-side bottleneck: ..." verdict (client_telemetry.hpp).
// The JSON has every key benchmark_serving writes (vllm bench serve, 2025), same meanings, plus
// "troupe_*" extras: "troupe_client_bottleneck" always, "troupe_telemetry" with --telemetry.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/metrics.hpp"

namespace troupe::loadgen {

struct run_description {
  std::string backend = "vllm";
  std::string label;  // empty: the backend names the file
  std::string model_id;
  std::string tokenizer_id;
  int64_t num_prompts = 0;
  double request_rate = 0;  // +inf allowed
  double burstiness = 1.0;
  std::optional<int32_t> max_concurrency;
  std::string ramp_up_strategy;
  std::optional<double> ramp_up_start_rps, ramp_up_end_rps;
  std::vector<std::string> percentile_metrics;  // of ttft, tpot, itl, e2el
  std::vector<double> metric_percentiles;
  bool has_goodput = false;
  std::vector<std::pair<std::string, std::string>> metadata;
  double duration_s = 0;
};

// Python's repr of a float: "4.0", "0.5", "inf" (used in file names and the report).
std::string python_float(double x);

// "P99", "P99.9": benchmark_serving's percentile word.
std::string percentile_word(double p);

// The console report, "============ Serving Benchmark Result ============" to the "=" line.
std::string format_report(const run_description& run, const benchmark_metrics& m);

// The JSON result document. `date` is "YYYYmmdd-HHMMSS". With `detailed`, the per-request
// arrays benchmark_serving drops without --save-detailed are kept.
std::string result_json(const run_description& run, const benchmark_metrics& m,
                        const std::vector<request_record>& records, const std::string& date,
                        bool detailed);

// `{label|backend}-{rate}qps[-concurrency{N}]-{model basename}-{date}.json` (the ramp-up form
// when ramping), before --result-filename / --result-dir are applied.
std::string result_file_name(const run_description& run, const std::string& date);

}  // namespace troupe::loadgen
