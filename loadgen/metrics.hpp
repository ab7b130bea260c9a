#pragma once
// Per-request records and benchmark_serving's calculate_metrics, plus what troupe bench reports
// beyond it (send lateness, client queue time, achieved rate). Times are seconds on one
// monotonic clock, relative to the benchmark start.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/client_telemetry.hpp"
#include "loadgen/stats.hpp"

namespace troupe::loadgen {

// One streamed request as the client saw it (benchmark_serving's RequestFuncOutput).
struct request_record {
  bool success = false;
  int32_t prompt_len = 0;
  int32_t output_tokens = 0;  // from `usage`; 0 = unknown (re-tokenize generated_text)
  double ttft = 0;            // first chunk with non-empty choices - send
  std::vector<double> itl;    // gaps between successive content chunks
  double latency = 0;         // last chunk - send (E2EL)
  double scheduled_time = 0;  // when the arrival schedule said to send
  double arrival_time = 0;    // when the driver released it to the queue (= scheduled unless late)
  double start_time = 0;      // when it was actually sent
  double client_queue_time = 0;  // start_time - arrival_time (waiting for --max-concurrency)
  std::string generated_text;
  std::string error;
};

// --goodput SLOs in milliseconds; keys "ttft", "tpot", "e2el".
using goodput_config = std::map<std::string, double>;

struct benchmark_metrics {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t total_input = 0;
  int64_t total_output = 0;
  double request_throughput = 0;
  double request_goodput = 0;
  double output_throughput = 0;
  double total_token_throughput = 0;
  summary ttft_ms, tpot_ms, itl_ms, e2el_ms;
  double max_output_tokens_per_s = 0;
  int64_t max_concurrent_requests = 0;
  std::vector<int32_t> output_lens;  // per record; 0 for failed ones
  // Beyond benchmark_serving.
  summary send_lateness_ms;       // start_time - scheduled_time, when not held by concurrency
  summary client_queue_time_ms;   // successful requests
  double achieved_send_rate = 0;  // requests / (last send - first send)
  // Client CPU (bench_outcome::client_cpu_s, set by the caller; 0 = not measured) per output
  // token streamed, in microseconds.
  double client_cpu_s = 0;
  double client_cpu_us_per_token = 0;
  int64_t num_connections = 0;  // TCP connections the client opened (bench_outcome); 0 = unknown
  // --telemetry: the client's own actors over the run (bench_outcome, via set_client_telemetry).
  std::optional<client_telemetry> telemetry;
  // What client_bottlenecks() weighs the client's delays against, and its verdict (with the
  // telemetry, if any); empty = none found.
  client_delays delays;
  std::vector<std::string> client_bottleneck;
};

// Sets client_cpu_s and client_cpu_us_per_token (0 without output tokens).
void set_client_cpu(benchmark_metrics& m, double client_cpu_s);

// Sets telemetry and judges the client again with it (calculate_metrics judged the send
// lateness alone: client_bottlenecks() without actor figures).
void set_client_telemetry(benchmark_metrics& m, std::optional<client_telemetry> telemetry);

// Counts tokens of a generated text when the server sent no usage (add_special = false).
using token_counter = std::function<int32_t(const std::string&)>;

// requires: dur_s > 0. `count_tokens` may be empty: an unknown count is then 1 (as
// benchmark_serving does without a tokenizer).
benchmark_metrics calculate_metrics(const std::vector<request_record>& records, double dur_s,
                                    const std::vector<double>& percentiles,
                                    const goodput_config& goodput,
                                    const token_counter& count_tokens);

// Peak number of requests in flight over half-open [start, start + latency) intervals.
int64_t peak_concurrency(const std::vector<request_record>& records);

}  // namespace troupe::loadgen
