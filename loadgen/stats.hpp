#pragma once
// Summary statistics with numpy's conventions, as benchmark_serving computes them:
// mean, median, population std (ddof 0), and percentiles with numpy's default "linear" method
// (rank p/100 * (n - 1), interpolated between neighbours). benchmark_serving passes `xs or 0`,
// so an empty sample summarises as 0; these functions do the same.
#include <span>
#include <vector>

namespace troupe::loadgen {

double mean_of(std::span<const double> xs);
double std_of(std::span<const double> xs);
double median_of(std::span<const double> xs);
// p in [0, 100].
double percentile_of(std::span<const double> xs, double p);

struct summary {
  double mean = 0, median = 0, std = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, value)
};

// Values scaled by `scale` (1000 for seconds -> ms) after the statistics are taken.
summary summarize(std::span<const double> xs, std::span<const double> ps, double scale);

}  // namespace troupe::loadgen
