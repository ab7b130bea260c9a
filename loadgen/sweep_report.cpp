#include "loadgen/sweep_report.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "loadgen/stats.hpp"
#include "loadgen/svg_plot.hpp"

namespace troupe::loadgen {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                      rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>;
constexpr const char* kMetricKeys[] = {"ttft", "tpot", "itl", "e2el"};
constexpr double kPercentiles[] = {50.0, 90.0, 99.0};

std::string fmt(double x, const char* format = "%.2f") {
  if (std::isinf(x)) return "inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

std::string rate_text(double rate) {
  return std::isinf(rate) ? "inf" : fmt(rate, "%.4g");
}

double percentile_ms(const point_result& p, const char* metric, double percentile) {
  const auto& xs = samples_of(p.samples, metric);
  return xs.empty() ? NAN : percentile_of(xs, percentile);
}

void key(json_writer& w, const std::string& k) {
  w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
}
void str(json_writer& w, const std::string& v) {
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}
void rate(json_writer& w, double r) {
  std::isinf(r) ? (void)str(w, "inf") : (void)w.Double(r);
}
void maybe(json_writer& w, const std::optional<double>& v) {
  v ? (void)w.Double(*v) : (void)w.Null();
}

void point_json(json_writer& w, const point_result& p) {
  w.StartObject();
  key(w, "request_rate"), rate(w, p.configured_rate);
  key(w, "achieved_request_rate"), w.Double(p.metrics.request_throughput);
  key(w, "achieved_send_rate"), w.Double(p.metrics.achieved_send_rate);
  key(w, "output_throughput"), w.Double(p.metrics.output_throughput);
  key(w, "completed"), w.Int64(p.metrics.completed);
  key(w, "failed"), w.Int64(p.metrics.failed);
  key(w, "duration"), w.Double(p.run.duration_s);
  for (const char* metric : kMetricKeys) {
    for (double pc : kPercentiles) {
      const double v = percentile_ms(p, metric, pc);
      key(w, std::string("p").append(percentile_word(pc)).append("_").append(metric).append("_ms"));
      std::isnan(v) ? (void)w.Null() : (void)w.Double(v);
    }
  }
  if (p.slo) key(w, "slo_met"), w.Bool(p.slo->met);
  key(w, "result_file"), str(w, p.result_file);
  w.EndObject();
}

void slo_json(json_writer& w, const sweep_report& r) {
  key(w, "slo");
  if (!r.slo || !r.search || !r.options) return (void)w.Null();
  w.StartObject();
  key(w, "limits_ms");
  w.StartObject();
  for (const auto& [metric, ms] : r.slo->limits_ms)
    key(w, metric), w.Double(ms);
  w.EndObject();
  key(w, "percentile"), w.Double(r.slo->percentile);
  key(w, "start_rate"), w.Double(r.options->start_rate);
  key(w, "tolerance"), w.Double(r.options->tolerance);
  key(w, "max_probes"), w.Int(r.options->max_probes);
  key(w, "best_rate"), maybe(w, r.search->best_rate);
  key(w, "lowest_failed_rate"), maybe(w, r.search->lowest_failed_rate);
  key(w, "stop_reason"), str(w, r.search->stop_reason);
  key(w, "probes");
  w.StartArray();
  for (const auto& p : r.points) {
    w.StartObject();
    key(w, "request_rate"), rate(w, p.configured_rate);
    key(w, "met"), w.Bool(p.slo && p.slo->met);
    key(w, "failed"), w.Int64(p.metrics.failed);
    for (const auto& c : p.slo ? p.slo->checks : std::vector<slo_check>{})
      key(w, c.metric + "_ms"), w.Double(c.value_ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

std::string html_escape(const std::string& s) {
  return xml_escape(s);
}

std::string cell(const std::string& s) {
  return "<td>" + html_escape(s) + "</td>";
}

std::string points_table(const sweep_report& r) {
  std::string out =
      "<table><tr><th>rate (req/s)</th><th>achieved (req/s)</th><th>send rate</th>"
      "<th>output tok/s</th><th>completed</th><th>failed</th>";
  for (const char* metric : kMetricKeys)
    out += std::string("<th>") + metric + " p50 / p90 / p99 (ms)</th>";
  if (r.slo) out += "<th>SLO</th>";
  out += "<th>result</th></tr>\n";
  for (const auto& p : r.points) {
    out += "<tr>" + cell(rate_text(p.configured_rate)) + cell(fmt(p.metrics.request_throughput)) +
           cell(fmt(p.metrics.achieved_send_rate)) + cell(fmt(p.metrics.output_throughput)) +
           cell(std::to_string(p.metrics.completed)) + cell(std::to_string(p.metrics.failed));
    for (const char* metric : kMetricKeys) {
      std::string v;
      for (double pc : kPercentiles)
        v += (v.empty() ? "" : " / ") + fmt(percentile_ms(p, metric, pc));
      out += cell(v);
    }
    if (r.slo) out += cell(p.slo && p.slo->met ? "met" : "missed");
    const std::string file = std::filesystem::path(p.result_file).filename().string();
    out += "<td><a href=\"" + html_escape(file) + "\">" + html_escape(file) + "</a></td></tr>\n";
  }
  return out + "</table>\n";
}

std::string slo_text(const sweep_report& r) {
  if (!r.slo || !r.search) return "";
  std::string limits;
  for (const auto& [metric, ms] : r.slo->limits_ms)
    limits += (limits.empty() ? "" : ", ") + metric + " <= " + fmt(ms, "%g") + " ms";
  const auto& s = *r.search;
  std::string answer = s.best_rate
                           ? "highest rate meeting the SLO: " + rate_text(*s.best_rate) + " req/s"
                           : std::string("no probed rate met the SLO");
  return "SLO (p" + percentile_word(r.slo->percentile) + "): " + limits + "; " + answer + " (" +
         s.stop_reason + ", " + std::to_string(s.probes.size()) + " probes)";
}

}  // namespace

std::string sweep_json(const sweep_report& r) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  key(w, "title"), str(w, r.title);
  key(w, "points");
  w.StartArray();
  for (const auto& p : r.points)
    point_json(w, p);
  w.EndArray();
  slo_json(w, r);
  w.EndObject();
  return buffer.GetString();
}

std::string sweep_html(const sweep_report& r, const std::vector<named_svg>& plots) {
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(r.title) +
      "</title>\n<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse;"
      "font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "th{background:#f3f3f3}.plots svg{margin:8px 8px 0 0}</style></head><body>\n<h1>" +
      html_escape(r.title) + "</h1>\n";
  if (r.slo) out += "<h2>SLO search</h2>\n<p>" + html_escape(slo_text(r)) + "</p>\n";
  out += std::string("<h2>") + (r.slo ? "Probes" : "Points") + "</h2>\n" + points_table(r);
  out += "<h2>Plots</h2>\n<div class=\"plots\">\n";
  for (const auto& plot : plots)
    out += plot.svg;
  return out + "</div>\n</body></html>\n";
}

std::string sweep_summary_text(const sweep_report& r) {
  std::string out = r.title + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-12s %-14s %-14s %-12s %-12s %-12s %s\n", "rate", "achieved",
                "output tok/s", "p99 ttft", "p99 tpot", "p99 itl", r.slo ? "SLO" : "");
  out += line;
  for (const auto& p : r.points) {
    std::snprintf(
        line, sizeof line, "%-12s %-14s %-14s %-12s %-12s %-12s %s\n",
        rate_text(p.configured_rate).c_str(), fmt(p.metrics.request_throughput).c_str(),
        fmt(p.metrics.output_throughput).c_str(), fmt(percentile_ms(p, "ttft", 99)).c_str(),
        fmt(percentile_ms(p, "tpot", 99)).c_str(), fmt(percentile_ms(p, "itl", 99)).c_str(),
        p.slo ? (p.slo->met ? "met" : "missed") : "");
    out += line;
  }
  if (r.slo) out += slo_text(r) + "\n";
  return out;
}

result<std::vector<std::string>> write_sweep_report(const sweep_report& report,
                                                    const std::string& dir,
                                                    const std::string& stem) {
  const std::filesystem::path base =
      dir.empty() ? std::filesystem::path(".") : std::filesystem::path(dir);
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  const auto plots = sweep_plots(report);
  std::vector<std::pair<std::string, std::string>> files = {
      {stem + ".html", sweep_html(report, plots)}, {stem + ".json", sweep_json(report)}};
  for (const auto& plot : plots)
    files.emplace_back(stem + "-" + plot.name + ".svg", plot.svg);
  std::vector<std::string> written;
  for (const auto& [name, content] : files) {
    const auto path = base / name;
    std::ofstream out(path, std::ios::trunc);
    out << content;
    if (!out) return error{"cannot write " + path.string()};
    written.push_back(path.string());
  }
  return written;
}

}  // namespace troupe::loadgen
