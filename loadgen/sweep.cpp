#include "loadgen/sweep.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "loadgen/stats.hpp"

namespace troupe::loadgen {
namespace {

constexpr size_t kMaxRates = 1000;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (size_t pos = 0; pos <= text.size();) {
    const size_t end = std::min(text.find(separator, pos), text.size());
    parts.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return parts;
}

result<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return error{"expected a number, got '" + std::string(text) + "'"};
  }
  return value;
}

result<double> parse_positive(std::string_view text) {
  auto value = parse_number(text);
  if (value && *value <= 0) return error{"rates must be positive, got '" + std::string(text) + "'"};
  return value;
}

// "start:stop:xFACTOR" or "start:stop:STEP", appended to `rates`.
status parse_range(std::string_view item, std::vector<double>& rates) {
  const auto parts = split(item, ':');
  if (parts.size() != 3) return error{"a range is START:STOP:STEP or START:STOP:xFACTOR"};
  auto start = parse_positive(parts[0]);
  if (!start) return start.err();
  auto stop = parse_positive(parts[1]);
  if (!stop) return stop.err();
  if (*stop < *start) return error{"range '" + std::string(item) + "' ends below its start"};
  const bool geometric = !parts[2].empty() && (parts[2][0] == 'x' || parts[2][0] == '*');
  auto step = parse_number(geometric ? parts[2].substr(1) : parts[2]);
  if (!step) return step.err();
  if (geometric ? *step <= 1 : *step <= 0) {
    return error{"range '" + std::string(item) + "': the factor must be > 1, the step > 0"};
  }
  const double limit = *stop * (1 + 1e-9);
  for (double rate = *start; rate <= limit; rate = geometric ? rate * *step : rate + *step) {
    if (rates.size() >= kMaxRates) return error{"more than 1000 request rates"};
    rates.push_back(std::min(rate, *stop));
  }
  return ok_status();
}

}  // namespace

result<std::vector<double>> parse_request_rates(std::string_view text) {
  std::vector<double> rates;
  const auto items = split(text, ',');
  for (auto item : items) {
    status ok = ok_status();
    if (item == "inf") {
      if (rates.size() >= kMaxRates) return error{"more than 1000 request rates"};
      rates.push_back(std::numeric_limits<double>::infinity());
    } else if (item.find(':') != std::string_view::npos) {
      ok = parse_range(item, rates);
    } else if (auto rate = parse_positive(item); rate) {
      if (rates.size() >= kMaxRates) return error{"more than 1000 request rates"};
      rates.push_back(*rate);
    } else {
      ok = rate.err();
    }
    if (!ok) return error{"--request-rates '" + std::string(text) + "': " + ok.message()};
  }
  return rates;
}

latency_samples collect_samples(const std::vector<request_record>& records,
                                const std::vector<int32_t>& output_lens) {
  latency_samples s;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (!r.success) continue;
    s.ttft_ms.push_back(r.ttft * 1000);
    s.e2el_ms.push_back(r.latency * 1000);
    const int32_t n = i < output_lens.size() ? output_lens[i] : 0;
    if (n > 1) s.tpot_ms.push_back((r.latency - r.ttft) / (n - 1) * 1000);
    for (double gap : r.itl)
      s.itl_ms.push_back(gap * 1000);
  }
  return s;
}

const std::vector<double>& samples_of(const latency_samples& s, const std::string& metric) {
  if (metric == "ttft") return s.ttft_ms;
  if (metric == "tpot") return s.tpot_ms;
  if (metric == "itl") return s.itl_ms;
  return s.e2el_ms;
}

std::vector<std::pair<double, double>> empirical_cdf(std::vector<double> values,
                                                     size_t max_points) {
  std::vector<std::pair<double, double>> points;
  if (values.empty() || max_points == 0) return points;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const size_t count = std::min(n, std::max<size_t>(max_points, 2));
  for (size_t k = 0; k < count; ++k) {
    // Rank k of count spread evenly over 0 .. n-1, so the last point is the maximum.
    const size_t i = count == 1 ? n - 1 : k * (n - 1) / (count - 1);
    points.emplace_back(values[i], static_cast<double>(i + 1) / static_cast<double>(n));
  }
  return points;
}

result<std::vector<std::pair<std::string, double>>> parse_slo_limits(std::string_view text) {
  std::vector<std::pair<std::string, double>> limits;
  for (auto item : split(text, ',')) {
    const size_t colon = item.find(':');
    const std::string metric(item.substr(0, colon));
    if (colon == std::string_view::npos ||
        (metric != "ttft" && metric != "tpot" && metric != "itl" && metric != "e2el")) {
      return error{"--slo item '" + std::string(item) +
                   "': expected METRIC:MS with METRIC ttft, tpot, itl or e2el"};
    }
    auto ms = parse_number(item.substr(colon + 1));
    if (!ms || *ms < 0) return error{"--slo item '" + std::string(item) + "': bad limit in ms"};
    limits.emplace_back(metric, *ms);
  }
  return limits;
}

slo_verdict check_slo(const slo_spec& slo, const latency_samples& samples, int64_t num_completed,
                      int64_t num_failed) {
  slo_verdict v;
  v.num_failed = num_failed;
  v.met = num_completed > 0 && num_failed == 0;
  for (const auto& [metric, limit] : slo.limits_ms) {
    const auto& xs = samples_of(samples, metric);
    slo_check c{metric, limit, percentile_of(xs, slo.percentile), false};
    // No sample of a metric (e.g. TPOT of 1-token outputs) cannot show a violation.
    c.met = xs.empty() || c.value_ms <= limit;
    v.met = v.met && c.met;
    v.checks.push_back(std::move(c));
  }
  return v;
}

status validate(const search_options& o) {
  if (!(o.start_rate > 0) || !std::isfinite(o.start_rate)) {
    return error{"the SLO search needs a finite positive start rate (first of --request-rates)"};
  }
  if (!(o.tolerance > 0)) return error{"--slo-tolerance must be positive"};
  if (o.max_probes < 1) return error{"--slo-max-probes must be at least 1"};
  return ok_status();
}

result<search_outcome> search_max_rate(const search_options& o,
                                       const std::function<result<bool>(double)>& probe) {
  search_outcome out;
  std::optional<double> lo, hi;
  auto run = [&](double rate) -> status {
    auto met = probe(rate);
    if (!met) return met.err();
    out.probes.push_back({rate, *met});
    if (*met) {
      lo = std::max(lo.value_or(rate), rate);
    } else {
      hi = std::min(hi.value_or(rate), rate);
    }
    return ok_status();
  };
  auto probes_left = [&] { return static_cast<int32_t>(out.probes.size()) < o.max_probes; };
  if (auto ok = run(o.start_rate); !ok) return ok.err();
  // Bracket: double while passing, halve while failing.
  while (probes_left() && (!lo || !hi)) {
    if (auto ok = run(lo ? *lo * 2 : *hi / 2); !ok) return ok.err();
  }
  while (probes_left() && lo && hi && *hi / *lo - 1 > o.tolerance) {
    if (auto ok = run((*lo + *hi) / 2); !ok) return ok.err();
  }
  out.best_rate = lo;
  out.lowest_failed_rate = hi;
  if (!lo) {
    out.stop_reason = "no rate met the SLO";
  } else if (hi && *hi / *lo - 1 <= o.tolerance) {
    out.stop_reason = "converged";
  } else {
    out.stop_reason = "max probes reached";
  }
  return out;
}

}  // namespace troupe::loadgen
