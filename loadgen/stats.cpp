#include "loadgen/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace troupe::loadgen {

double mean_of(std::span<const double> xs) {
  if (xs.empty()) return 0.0;
  return std::accumulate(xs.begin(), xs.end(), 0.0) / static_cast<double>(xs.size());
}

double std_of(std::span<const double> xs) {
  if (xs.empty()) return 0.0;
  const double m = mean_of(xs);
  double sum = 0.0;
  for (double x : xs)
    sum += (x - m) * (x - m);
  return std::sqrt(sum / static_cast<double>(xs.size()));
}

double median_of(std::span<const double> xs) {
  return percentile_of(xs, 50.0);
}

double percentile_of(std::span<const double> xs, double p) {
  if (xs.empty()) return 0.0;
  std::vector<double> sorted(xs.begin(), xs.end());
  std::sort(sorted.begin(), sorted.end());
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

summary summarize(std::span<const double> xs, std::span<const double> ps, double scale) {
  summary s;
  s.mean = mean_of(xs) * scale;
  s.median = median_of(xs) * scale;
  s.std = std_of(xs) * scale;
  for (double p : ps)
    s.percentiles.emplace_back(p, percentile_of(xs, p) * scale);
  return s;
}

}  // namespace troupe::loadgen
