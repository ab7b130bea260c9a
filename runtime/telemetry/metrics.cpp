#include "runtime/telemetry/metrics.hpp"

#include <cassert>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace troupe::telemetry {
namespace {

[[maybe_unused]] bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool ok = std::isalpha(c) || c == '_' || c == ':' || (i > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

std::string_view type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} with `extra` (le="...") last; empty when there is nothing.
std::string label_text(const labels& l, std::string_view extra_name = {},
                       std::string_view extra_value = {}) {
  if (l.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (const auto& [name, value] : l) {
    if (out.size() > 1) out += ',';
    out += name + "=\"" + escape_label_value(value) + "\"";
  }
  if (!extra_name.empty()) {
    if (out.size() > 1) out += ',';
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  return out + "}";
}

// HELP text escaping: backslash and newline.
std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_string(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// JSON has no Inf/NaN: they are written as strings.
std::string json_number(double v) {
  if (!std::isfinite(v)) return json_string(format_value(v));
  return format_value(v);
}

template <class T>
void atomic_max(std::atomic<T>& a, T v) {
  T seen = a.load(std::memory_order_relaxed);
  while (seen < v && !a.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
  }
}

}  // namespace

void gauge::max(double v) {
  atomic_max(value_, v);
}

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i + 1 < bounds_.size(); ++i)
    assert(bounds_[i] < bounds_[i + 1] && "histogram bounds must increase");
  for (size_t i = 0; i <= bounds_.size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

histogram_snapshot histogram::snapshot() const {
  histogram_snapshot s;
  s.bounds = bounds_;
  s.counts.resize(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];  // the buckets' total, so _count always equals the +Inf bucket
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

registry::member& registry::add_member(std::string_view name, std::string_view help,
                                       metric_type type, labels l) {
  assert(valid_name(name) && "bad metric name");
  for ([[maybe_unused]] const auto& label_value : l) {
    assert(valid_name(label_value.first) && label_value.first.find(':') == std::string::npos &&
           "bad label name");
  }
  family* fam = nullptr;
  for (auto& f : families_) {
    if (f.name == name) fam = &f;
  }
  if (fam == nullptr) {
    families_.push_back({std::string(name), std::string(help), type, {}});
    fam = &families_.back();
  }
  assert(fam->type == type && fam->help == help && "one family, one type and help");
  for (auto& m : fam->members) {
    if (m.label_values == l) return m;
  }
  fam->members.push_back({std::move(l), nullptr, nullptr, nullptr, nullptr});
  return fam->members.back();
}

counter& registry::add_counter(std::string_view name, std::string_view help, labels l) {
  std::lock_guard lock{mutex_};
  auto& m = add_member(name, help, metric_type::counter, std::move(l));
  if (!m.c) m.c = std::make_unique<counter>();
  return *m.c;
}

gauge& registry::add_gauge(std::string_view name, std::string_view help, labels l) {
  std::lock_guard lock{mutex_};
  auto& m = add_member(name, help, metric_type::gauge, std::move(l));
  if (!m.g && !m.read) m.g = std::make_unique<gauge>();
  assert(m.g && "a gauge read by a function cannot also be set");
  return *m.g;
}

histogram& registry::add_histogram(std::string_view name, std::string_view help, labels l,
                                   std::vector<double> bounds) {
  std::lock_guard lock{mutex_};
  auto& m = add_member(name, help, metric_type::histogram, std::move(l));
  if (!m.h) m.h = std::make_unique<histogram>(std::move(bounds));
  return *m.h;
}

void registry::add_gauge_fn(std::string_view name, std::string_view help, labels l,
                            std::function<double()> read) {
  std::lock_guard lock{mutex_};
  auto& m = add_member(name, help, metric_type::gauge, std::move(l));
  assert(!m.g && "a set gauge cannot also be read by a function");
  m.read = std::move(read);
}

double registry::read_value(const member& m) {
  if (m.c) return m.c->value();
  if (m.g) return m.g->value();
  if (m.read) return m.read();
  return 0.0;
}

std::string registry::prometheus_text() const {
  std::lock_guard lock{mutex_};
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + std::string(type_name(f.type)) + "\n";
    for (const auto& m : f.members) {
      if (f.type != metric_type::histogram) {
        out += f.name + label_text(m.label_values) + " " + format_value(read_value(m)) + "\n";
        continue;
      }
      const auto s = m.h->snapshot();
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= s.bounds.size(); ++i) {
        cumulative += s.counts[i];
        const std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
        out += f.name + "_bucket" + label_text(m.label_values, "le", le) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += f.name + "_sum" + label_text(m.label_values) + " " + format_value(s.sum) + "\n";
      out += f.name + "_count" + label_text(m.label_values) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

std::string registry::json_snapshot() const {
  std::lock_guard lock{mutex_};
  std::string out = "{\"metrics\":[";
  bool first_family = true;
  for (const auto& f : families_) {
    if (!first_family) out += ',';
    first_family = false;
    out += "{\"name\":" + json_string(f.name) + ",\"type\":" + json_string(type_name(f.type)) +
           ",\"help\":" + json_string(f.help) + ",\"samples\":[";
    bool first_member = true;
    for (const auto& m : f.members) {
      if (!first_member) out += ',';
      first_member = false;
      out += "{\"labels\":{";
      for (size_t i = 0; i < m.label_values.size(); ++i) {
        if (i > 0) out += ',';
        out += json_string(m.label_values[i].first) + ":" + json_string(m.label_values[i].second);
      }
      out += "}";
      if (f.type != metric_type::histogram) {
        out += ",\"value\":" + json_number(read_value(m)) + "}";
        continue;
      }
      const auto s = m.h->snapshot();
      out += ",\"buckets\":[";
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= s.bounds.size(); ++i) {
        cumulative += s.counts[i];
        if (i > 0) out += ',';
        const double le = i < s.bounds.size() ? s.bounds[i] : INFINITY;
        out += '[';
        out += json_number(le);
        out += ',';
        out += std::to_string(cumulative);
        out += ']';
      }
      out += "],\"sum\":" + json_number(s.sum) + ",\"count\":" + std::to_string(s.count) + "}";
    }
    out += "]}";
  }
  return out + "]}";
}

const registry::member* registry::find(std::string_view name, const labels& l) const {
  for (const auto& f : families_) {
    if (f.name != name) continue;
    for (const auto& m : f.members) {
      if (m.label_values == l) return &m;
    }
  }
  return nullptr;
}

std::optional<double> registry::value(std::string_view name, const labels& l) const {
  std::lock_guard lock{mutex_};
  const member* m = find(name, l);
  if (m == nullptr || m->h) return std::nullopt;
  return read_value(*m);
}

std::optional<histogram_snapshot> registry::histogram_value(std::string_view name,
                                                            const labels& l) const {
  std::lock_guard lock{mutex_};
  const member* m = find(name, l);
  if (m == nullptr || !m->h) return std::nullopt;
  return m->h->snapshot();
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // The shortest of %.15g..%.17g that reads back to v.
  for (int precision = 15; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

}  // namespace troupe::telemetry
