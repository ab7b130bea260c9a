#include "loadgen/arrival_process.hpp"

#include <cmath>
#include <limits>
#include <random>

namespace troupe::loadgen {

status validate(const arrival_config& config) {
  if (!(config.burstiness > 0)) return error{"--burstiness must be positive"};
  const bool ramp = !config.ramp_up_strategy.empty();
  if (ramp) {
    if (config.ramp_up_strategy != "linear" && config.ramp_up_strategy != "exponential") {
      return error{"--ramp-up-strategy must be linear or exponential, not '" +
                   config.ramp_up_strategy + "'"};
    }
    if (!config.ramp_up_start_rps || !config.ramp_up_end_rps) {
      return error{"--ramp-up-strategy needs --ramp-up-start-rps and --ramp-up-end-rps"};
    }
    if (!(*config.ramp_up_start_rps > 0) || !(*config.ramp_up_end_rps > 0)) {
      return error{"ramp-up rates must be positive"};
    }
    return ok_status();
  }
  if (!(config.request_rate > 0)) return error{"--request-rate must be positive (or inf)"};
  return ok_status();
}

double current_rate(const arrival_config& config, int64_t index, int64_t num_requests) {
  if (config.ramp_up_strategy.empty()) return config.request_rate;
  const double start = *config.ramp_up_start_rps;
  const double end = *config.ramp_up_end_rps;
  const double progress =
      static_cast<double>(index) / static_cast<double>(std::max<int64_t>(num_requests - 1, 1));
  if (config.ramp_up_strategy == "linear") return start + (end - start) * progress;
  return start * std::pow(end / start, progress);
}

std::vector<double> sample_gaps(const arrival_config& config, int64_t num_requests) {
  // One fixed engine per schedule: std::gamma_distribution over mt19937_64 is deterministic for
  // a given seed within one standard library, which is what reproducibility needs here.
  std::mt19937_64 engine(config.seed);
  std::vector<double> gaps;
  gaps.reserve(static_cast<size_t>(std::max<int64_t>(num_requests, 0)));
  for (int64_t i = 0; i < num_requests; ++i) {
    const double rate = current_rate(config, i, num_requests);
    if (std::isinf(rate)) {
      gaps.push_back(0.0);
    } else if (std::isinf(config.burstiness)) {
      gaps.push_back(1.0 / rate);
    } else {
      std::gamma_distribution<double> gamma(config.burstiness, 1.0 / (rate * config.burstiness));
      gaps.push_back(gamma(engine));
    }
  }
  return gaps;
}

std::vector<double> arrival_schedule(const arrival_config& config, int64_t num_requests) {
  std::vector<double> times = sample_gaps(config, num_requests);
  for (size_t i = 1; i < times.size(); ++i)
    times[i] += times[i - 1];
  if (config.ramp_up_strategy.empty() && !times.empty() && times.back() > 0) {
    const double factor = static_cast<double>(num_requests) / config.request_rate / times.back();
    for (double& t : times)
      t *= factor;
  }
  return times;
}

}  // namespace troupe::loadgen
