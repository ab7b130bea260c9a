#pragma once
// The latency-throughput report of a sweep (or an SLO search): SVG plots, one self-contained
// HTML page embedding them with a table of the points, and a JSON summary.
//
// The x axis of the rate plots is the ACHIEVED request rate (completed requests / duration,
// benchmark_serving's "Request throughput"), so an overloaded point sits where the server
// actually was, not where the client asked it to be.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/sweep.hpp"
#include "loadgen/sweep_run.hpp"

namespace troupe::loadgen {

struct sweep_report {
  std::string title;
  std::vector<point_result> points;  // sweep points, or the search's probes
  std::optional<slo_spec> slo;       // set for an SLO search
  std::optional<search_options> options;
  std::optional<search_outcome> search;
};

struct named_svg {
  std::string name;  // "ttft", "throughput", "cdf-ttft", ...
  std::string svg;
};

// TTFT / TPOT / ITL / E2EL p50, p90, p99 vs achieved rate; output tok/s vs achieved rate; one
// latency CDF per metric with a line per point.
std::vector<named_svg> sweep_plots(const sweep_report& report);

// The HTML page: setup, the SLO answer and probes (if any), a table of the points, the plots.
std::string sweep_html(const sweep_report& report, const std::vector<named_svg>& plots);

// {"title", "points": [...], "slo": {...} | null}; rates "inf" as a string (as the point JSONs).
std::string sweep_json(const sweep_report& report);

// Writes {stem}.html, {stem}.json and {stem}-{plot}.svg into `dir` (created if needed; empty =
// the current directory). Returns the paths written, HTML first.
result<std::vector<std::string>> write_sweep_report(const sweep_report& report,
                                                    const std::string& dir,
                                                    const std::string& stem);

// The console summary: one line per point, and the SLO answer.
std::string sweep_summary_text(const sweep_report& report);

}  // namespace troupe::loadgen
