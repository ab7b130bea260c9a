#pragma once
// When each benchmark request is sent: benchmark_serving's arrival process, as an absolute
// schedule computed up front so the sender never accumulates drift.
//
//   gap_i ~ gamma(shape = burstiness, scale = 1 / (rate_i * burstiness))   (mean 1 / rate_i)
//   send_i = gap_0 + ... + gap_i                                          (seconds from start)
//
// rate inf: every send_i is 0. Without ramp-up the schedule is rescaled so the last send lands
// at num_requests / rate exactly (benchmark_serving does the same to make throughput stable
// across seeds). With ramp-up, rate_i moves from start to end rps linearly or exponentially in
// the request index. Pure: no clocks, no threads; the same config gives the same schedule.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::loadgen {

struct arrival_config {
  double request_rate = 0;       // requests/s; +inf = all at once
  double burstiness = 1.0;       // gamma shape; 1 = Poisson; +inf = constant gaps
  std::string ramp_up_strategy;  // "", "linear" or "exponential"
  std::optional<double> ramp_up_start_rps;
  std::optional<double> ramp_up_end_rps;
  uint64_t seed = 0;
};

// Errors for burstiness <= 0, rate <= 0, an unknown ramp-up strategy, or a ramp-up without
// both positive start and end rates.
status validate(const arrival_config& config);

// The rate for request `index` of `num_requests` (ramp-up aware).
// requires: validate(config) is ok.
double current_rate(const arrival_config& config, int64_t index, int64_t num_requests);

// The gaps before each request, before any rescaling (exposed for goodness-of-fit tests).
// requires: validate(config) is ok.
std::vector<double> sample_gaps(const arrival_config& config, int64_t num_requests);

// Absolute send offsets in seconds from the benchmark start, non-decreasing.
// requires: validate(config) is ok.
std::vector<double> arrival_schedule(const arrival_config& config, int64_t num_requests);

}  // namespace troupe::loadgen
