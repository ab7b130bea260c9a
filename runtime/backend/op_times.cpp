// Per-op time totals and their report (contract: op_times.hpp).
#include "runtime/backend/op_times.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace troupe::backend {

std::string matmul_op_name(std::string_view op, weight_format format, std::span<const int64_t> rows,
                           int64_t cols) {
  std::string name(op);
  name += ' ';
  name += weight_format_name(format);
  for (int64_t r : rows) {
    name += ' ';
    name += std::to_string(r);
    name += 'x';
    name += std::to_string(cols);
  }
  return name;
}

void op_time_totals::add(const std::string& op, double seconds) {
  auto& t = totals_[op];
  t.op = op;
  ++t.calls;
  t.seconds += seconds;
}

std::vector<op_time> op_time_totals::totals() const {
  std::vector<op_time> out;
  for (const auto& entry : totals_)
    out.push_back(entry.second);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.seconds > b.seconds; });
  return out;
}

void op_time_totals::report_if_due(std::string_view who) {
  if (!enabled() || steps_ < report_every_) return;
  const auto rows = totals();
  double total = 0.0;
  for (const auto& r : rows)
    total += r.seconds;
  spdlog::info("{}: op times over the last {} steps ({:.3f} ms of op time a step)", who, steps_,
               1e3 * total / static_cast<double>(std::max<int64_t>(1, steps_)));
  for (const auto& r : rows) {
    spdlog::info("  {:<40} {:>8} calls {:>10.3f} ms {:>5.1f}% {:>9.2f} us/call", r.op, r.calls,
                 1e3 * r.seconds, total > 0 ? 100.0 * r.seconds / total : 0.0,
                 1e6 * r.seconds / static_cast<double>(std::max<int64_t>(1, r.calls)));
  }
  totals_.clear();
  steps_ = 0;
}

}  // namespace troupe::backend
