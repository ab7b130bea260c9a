// The sweep's plots (sweep_report.hpp): latency percentiles and throughput against the achieved
// request rate, and latency CDFs per point.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "loadgen/report.hpp"
#include "loadgen/stats.hpp"
#include "loadgen/svg_plot.hpp"
#include "loadgen/sweep_report.hpp"

namespace troupe::loadgen {
namespace {

struct metric_name {
  const char* key;
  const char* title;
};
constexpr metric_name kMetrics[] = {{"ttft", "Time to first token"},
                                    {"tpot", "Time per output token"},
                                    {"itl", "Inter-token latency"},
                                    {"e2el", "End-to-end latency"}};
constexpr double kPercentiles[] = {50.0, 90.0, 99.0};

std::vector<const point_result*> by_achieved_rate(const std::vector<point_result>& points) {
  std::vector<const point_result*> sorted;
  for (const auto& p : points)
    sorted.push_back(&p);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return a->metrics.request_throughput < b->metrics.request_throughput;
  });
  return sorted;
}

// Log scale when the positive values span at least `ratio` (e.g. rates 1, 2, 4, ..., 64).
bool wide(const std::vector<double>& values, double ratio) {
  double lo = INFINITY, hi = 0;
  for (double v : values) {
    if (!(v > 0) || !std::isfinite(v)) return false;
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  return !values.empty() && hi / lo >= ratio;
}

std::vector<double> achieved_rates(const std::vector<const point_result*>& sorted) {
  std::vector<double> xs;
  for (const auto* p : sorted)
    xs.push_back(p->metrics.request_throughput);
  return xs;
}

plot_spec latency_vs_rate(const metric_name& metric,
                          const std::vector<const point_result*>& sorted) {
  plot_spec plot;
  plot.title = std::string(metric.title) + " vs achieved request rate";
  plot.x_label = "achieved request rate (req/s)";
  plot.y_label = std::string(metric.key) + " (ms)";
  plot.log_x = wide(achieved_rates(sorted), 10);
  for (double p : kPercentiles) {
    plot_series s{std::string("p").append(percentile_word(p)), {}, true};
    for (const auto* point : sorted) {
      const auto& xs = samples_of(point->samples, metric.key);
      s.points.emplace_back(point->metrics.request_throughput,
                            xs.empty() ? NAN : percentile_of(xs, p));
    }
    plot.series.push_back(std::move(s));
  }
  return plot;
}

plot_spec throughput_vs_rate(const std::vector<const point_result*>& sorted) {
  plot_spec plot;
  plot.title = "Output token throughput vs achieved request rate";
  plot.x_label = "achieved request rate (req/s)";
  plot.y_label = "output tokens/s";
  plot.log_x = wide(achieved_rates(sorted), 10);
  plot_series s{"output tok/s", {}, true};
  for (const auto* point : sorted)
    s.points.emplace_back(point->metrics.request_throughput, point->metrics.output_throughput);
  plot.series.push_back(std::move(s));
  return plot;
}

std::string point_name(const point_result& p) {
  char achieved[64];
  std::snprintf(achieved, sizeof achieved, " (%.3g req/s)", p.metrics.request_throughput);
  return python_float(p.configured_rate) + " qps" + achieved;
}

plot_spec latency_cdf(const metric_name& metric, const std::vector<point_result>& points) {
  plot_spec plot;
  plot.title = std::string(metric.title) + ": CDF per point";
  plot.x_label = std::string(metric.key) + " (ms)";
  plot.y_label = "fraction of samples <= x";
  std::vector<double> all;
  for (const auto& p : points) {
    const auto& xs = samples_of(p.samples, metric.key);
    all.insert(all.end(), xs.begin(), xs.end());
  }
  plot.log_x = wide(all, 100);
  for (const auto& p : points)
    plot.series.push_back({point_name(p), empirical_cdf(samples_of(p.samples, metric.key)), false});
  return plot;
}

}  // namespace

std::vector<named_svg> sweep_plots(const sweep_report& report) {
  const auto sorted = by_achieved_rate(report.points);
  std::vector<named_svg> plots;
  for (const auto& metric : kMetrics)
    plots.push_back({metric.key, render_svg(latency_vs_rate(metric, sorted))});
  plots.push_back({"throughput", render_svg(throughput_vs_rate(sorted))});
  for (const auto& metric : kMetrics) {
    plots.push_back(
        {std::string("cdf-") + metric.key, render_svg(latency_cdf(metric, report.points))});
  }
  return plots;
}

}  // namespace troupe::loadgen
