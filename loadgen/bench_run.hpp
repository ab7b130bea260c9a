#pragma once
// Runs one benchmark: a driver actor keeps the absolute arrival schedule and --max-concurrency
// (requests past the cap wait in the driver, and that wait is recorded as client queue time),
// the HTTP client streams each request on its own io threads, a collector actor gathers the
// per-request records. The caller blocks until every request has finished.
//
// With `telemetry` the driver, the collector, the HTTP client's io threads (and, with an
// interval, a monitor actor that reports every interval) are instrumented as the server's actors
// are (client_telemetry.hpp); without it nothing is measured and no monitor runs.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "loadgen/client_telemetry.hpp"
#include "loadgen/datasets.hpp"
#include "loadgen/http_stream_client.hpp"
#include "loadgen/metrics.hpp"
#include "loadgen/openai_stream.hpp"

namespace troupe::loadgen {

// --telemetry (client_telemetry.hpp).
struct telemetry_options {
  bool enabled = false;
  // With an interval > 0 and on_line: called every interval, on the monitor actor's thread, with
  // format_telemetry_line() of the interval just ended (e.g. to print it).
  double interval_s = 0;
  std::function<void(const std::string& line)> on_line;
};

struct bench_plan {
  std::vector<sample_request> requests;
  std::vector<double> schedule;  // absolute send offsets (s), one per request, non-decreasing
  std::optional<int32_t> max_concurrency;
  body_options body;
  http_endpoint endpoint;
  int32_t num_io_threads = 1;
  // Called on the driver's thread after each finished request (e.g. a progress bar); optional.
  std::function<void(int64_t num_done, int64_t num_total)> on_progress;
  telemetry_options telemetry;
};

struct bench_outcome {
  std::vector<request_record> records;  // in request order
  double duration_s = 0;                // schedule start to the last finished request
  // User + system CPU time of this whole process over the run (getrusage): the client's cost,
  // when the server runs in another process.
  double client_cpu_s = 0;
  int64_t num_connections = 0;  // TCP connections opened (kept-alive ones are reused)
  // With plan.telemetry: the client's actors over the whole run (duration_s).
  std::optional<client_telemetry> telemetry;
  // The client's clock: record times are seconds since this point.
  std::chrono::steady_clock::time_point epoch;
};

// requires: plan.schedule.size() == plan.requests.size(), validate(plan.body) is ok.
// Errors only when the endpoint cannot be resolved; failed requests are records.
result<bench_outcome> run_benchmark(const bench_plan& plan);

// Sends one request and waits for it (the initial test run and warm-ups); not timed.
result<stream_outcome> run_single(const http_endpoint& endpoint, const body_options& body,
                                  const sample_request& request);

}  // namespace troupe::loadgen
