#include "loadgen/report.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace troupe::loadgen {
namespace {

std::string row(const std::string& name, const std::string& value) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-40s %-10s\n", name.c_str(), value.c_str());
  return buf;
}

std::string fixed2(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

// Python's "{s:{c}^{n}}": centred, the extra fill character on the right.
std::string centred(const std::string& title, char fill) {
  const size_t width = 50;
  if (title.size() >= width) return title + "\n";
  const size_t left = (width - title.size()) / 2;
  return std::string(left, fill) + title + std::string(width - title.size() - left, fill) + "\n";
}

struct metric_names {
  const char* key;
  const char* name;
  const char* header;
};
constexpr metric_names kMetrics[] = {
    {"ttft", "TTFT", "Time to First Token"},
    {"tpot", "TPOT", "Time per Output Token (excl. 1st token)"},
    {"itl", "ITL", "Inter-token Latency"},
    {"e2el", "E2EL", "End-to-end Latency"},
};

const summary& summary_for(const benchmark_metrics& m, const std::string& key) {
  if (key == "ttft") return m.ttft_ms;
  if (key == "tpot") return m.tpot_ms;
  if (key == "itl") return m.itl_ms;
  return m.e2el_ms;
}

bool selected(const run_description& run, const std::string& key) {
  for (const auto& k : run.percentile_metrics) {
    if (k == key) return true;
  }
  return false;
}

std::string metric_section(const metric_names& names, const summary& s) {
  const std::string n = names.name;
  std::string out = centred(names.header, '-');
  out += row("Mean " + n + " (ms):", fixed2(s.mean));
  out += row("Median " + n + " (ms):", fixed2(s.median));
  for (const auto& [p, v] : s.percentiles) {
    std::string name = "P";  // appended piecewise: GCC 12 flags `"P" + ...` (-Wrestrict)
    name.append(percentile_word(p)).append(" ").append(n).append(" (ms):");
    out += row(name, fixed2(v));
  }
  return out;
}

// "client-side bottleneck: ..." and, when there is one, what it means for the figures above.
std::string bottleneck_lines(const std::vector<std::string>& reasons) {
  std::string out = bottleneck_statement(reasons) + "\n";
  if (!reasons.empty()) {
    out +=
        "  (the load generator fell behind: the figures above measure it as well as the server)\n";
  }
  return out;
}

std::string troupe_section(const run_description& run, const benchmark_metrics& m) {
  std::string out = centred("troupe bench (beyond benchmark_serving)", '-');
  if (!std::isinf(run.request_rate))
    out += row("Achieved send rate (req/s):", fixed2(m.achieved_send_rate));
  const auto& late = m.send_lateness_ms.percentiles;
  out += row("P50 send lateness (ms):", fixed2(late[0].second));
  out += row("P99 send lateness (ms):", fixed2(late[1].second));
  out += row("Max send lateness (ms):", fixed2(late[2].second));
  if (m.num_connections > 0) out += row("Connections opened:", std::to_string(m.num_connections));
  if (m.client_cpu_s > 0) {
    out += row("Client CPU time (s):", fixed2(m.client_cpu_s));
    out += row("Client CPU per output token (us):", fixed2(m.client_cpu_us_per_token));
  }
  // Without --telemetry only the send lateness can tell, and it is said only when it does.
  if (!m.telemetry && !m.client_bottleneck.empty()) out += bottleneck_lines(m.client_bottleneck);
  return out;
}

std::string telemetry_row(const std::string& kind, const std::string& actors,
                          const std::string& messages, const std::string& peak,
                          const std::string& wait, const std::string& busy_s,
                          const std::string& busy) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-12s %6s %9s %10s %18s %9s %6s\n", kind.c_str(), actors.c_str(),
                messages.c_str(), peak.c_str(), wait.c_str(), busy_s.c_str(), busy.c_str());
  return buf;
}

// One row per kind of the client's actors (client_telemetry.hpp), then the verdict.
std::string telemetry_section(const client_telemetry& t, const std::vector<std::string>& reasons) {
  std::string out = centred("troupe bench client telemetry", '-');
  out += telemetry_row("Actor kind", "Actors", "Messages", "Peak depth", "Wait mean/P99 (ms)",
                       "Busy (s)", "Busy");
  for (const auto& k : t.kinds) {
    char busy[32];
    std::snprintf(busy, sizeof busy, "%.1f%%", 100.0 * k.busy_fraction);
    out += telemetry_row(k.kind, std::to_string(k.num_actors), std::to_string(k.messages),
                         std::to_string(k.mailbox_depth_peak),
                         fixed2(k.mean_wait_ms) + " / " + fixed2(k.p99_wait_ms), fixed2(k.busy_s),
                         busy);
  }
  out += "(Busy: handling time per actor over the run; http_client: its io threads' CPU time)\n";
  return out + bottleneck_lines(reasons);
}

}  // namespace

std::string python_float(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (std::isnan(x)) return "nan";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, end);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string percentile_word(double p) {
  if (std::floor(p) == p) return std::to_string(static_cast<int64_t>(p));
  return python_float(p);
}

std::string format_report(const run_description& run, const benchmark_metrics& m) {
  std::string out = centred(" Serving Benchmark Result ", '=');
  out += row("Successful requests:", std::to_string(m.completed));
  out += row("Failed requests:", std::to_string(m.failed));
  if (run.max_concurrency) {
    out += row("Maximum request concurrency:", std::to_string(*run.max_concurrency));
  }
  if (!std::isinf(run.request_rate))
    out += row("Request rate configured (RPS):", fixed2(run.request_rate));
  out += row("Benchmark duration (s):", fixed2(run.duration_s));
  out += row("Total input tokens:", std::to_string(m.total_input));
  out += row("Total generated tokens:", std::to_string(m.total_output));
  out += row("Request throughput (req/s):", fixed2(m.request_throughput));
  if (run.has_goodput) out += row("Request goodput (req/s):", fixed2(m.request_goodput));
  out += row("Output token throughput (tok/s):", fixed2(m.output_throughput));
  out += row("Peak output token throughput (tok/s):", fixed2(m.max_output_tokens_per_s));
  out += row("Peak concurrent requests:", fixed2(static_cast<double>(m.max_concurrent_requests)));
  out += row("Total token throughput (tok/s):", fixed2(m.total_token_throughput));
  for (const auto& names : kMetrics) {
    if (selected(run, names.key)) out += metric_section(names, summary_for(m, names.key));
  }
  if (run.max_concurrency) {
    out += metric_section({"client_queue_time", "Client Queue Time", "Client-side Queueing"},
                          m.client_queue_time_ms);
  }
  out += troupe_section(run, m);
  if (m.telemetry) out += telemetry_section(*m.telemetry, m.client_bottleneck);
  out += std::string(50, '=') + "\n";
  return out;
}

std::string result_file_name(const run_description& run, const std::string& date) {
  const std::string label = run.label.empty() ? run.backend : run.label;
  const auto slash = run.model_id.find_last_of('/');
  const std::string base_model =
      slash == std::string::npos ? run.model_id : run.model_id.substr(slash + 1);
  const std::string conc =
      run.max_concurrency ? "-concurrency" + std::to_string(*run.max_concurrency) : "";
  if (!run.ramp_up_strategy.empty()) {
    return label + "-ramp-up-" + run.ramp_up_strategy + "-" +
           percentile_word(run.ramp_up_start_rps.value_or(0)) + "qps-" +
           percentile_word(run.ramp_up_end_rps.value_or(0)) + "qps" + conc + "-" + base_model +
           "-" + date + ".json";
  }
  return label + "-" + python_float(run.request_rate) + "qps" + conc + "-" + base_model + "-" +
         date + ".json";
}

}  // namespace troupe::loadgen
