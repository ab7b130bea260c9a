// The text of `troupe top` (declared in top_view.hpp): the terminal frame and the plain lines.
#include <fmt/format.h>

#include "tools/cli/top_view.hpp"

namespace troupe::cli::top {
namespace {

std::string or_dash(const std::optional<double>& v, const char* format) {
  return v ? fmt::format(fmt::runtime(format), *v) : "-";
}

// 0.000012 -> "12.0us", 0.0031 -> "3.10ms", 1.5 -> "1.50s".
std::string duration(const std::optional<double>& seconds) {
  if (!seconds) return "-";
  const double s = *seconds;
  if (s < 1e-3) return fmt::format("{:.1f}us", s * 1e6);
  if (s < 1.0) return fmt::format("{:.2f}ms", s * 1e3);
  return fmt::format("{:.2f}s", s);
}

std::string count(double v) {
  return fmt::format("{:.0f}", v);
}

std::string fit(std::string line, int width) {
  if (width > 0 && line.size() > static_cast<size_t>(width)) line.resize(width);
  return line;
}

const char* sort_name(sort_key sort) {
  return sort == sort_key::depth ? "depth" : "busy";
}

}  // namespace

std::vector<std::string> engine_lines(const top_view& v) {
  return {fmt::format("requests running {}  waiting {}   KV {}   prefix hit {}",
                      or_dash(v.running, "{:.0f}"), or_dash(v.waiting, "{:.0f}"),
                      or_dash(v.kv_percent, "{:.1f}%"), or_dash(v.prefix_hit_percent, "{:.1f}%")),
          fmt::format("tokens/s prompt {}  generation {}   actors {} on {} threads",
                      or_dash(v.prompt_tokens_per_s, "{:.1f}"),
                      or_dash(v.generation_tokens_per_s, "{:.1f}"),
                      or_dash(v.running_actors, "{:.0f}"), or_dash(v.scheduler_threads, "{:.0f}"))};
}

std::vector<std::string> render_screen(const top_view& v, std::string_view url, sort_key sort,
                                       int width) {
  std::vector<std::string> lines;
  lines.push_back(fit(fmt::format("troupe top  {}  {}  by {}  (d depth, b busy, q quit)", url,
                                  v.model.empty() ? "-" : v.model, sort_name(sort)),
                      width));
  for (auto& line : engine_lines(v))
    lines.push_back(fit(std::move(line), width));
  lines.emplace_back();
  constexpr const char* row_format = "{:<16} {:>6} {:>7} {:>7} {:>9} {:>7} {:>10} {:>10}";
  lines.push_back(fit(fmt::format(fmt::runtime(row_format), "KIND", "ACTORS", "DEPTH", "PEAK",
                                  "MSG/S", "BUSY%", "HANDLE", "WAIT"),
                      width));
  for (const actor_row& r : v.actors) {
    lines.push_back(
        fit(fmt::format(fmt::runtime(row_format), r.kind.empty() ? "-" : r.kind, count(r.running),
                        count(r.depth), count(r.depth_peak), or_dash(r.messages_per_s, "{:.1f}"),
                        or_dash(r.busy_percent, "{:.1f}"), duration(r.mean_handle_s),
                        duration(r.mean_wait_s)),
            width));
  }
  if (v.actors.empty()) lines.push_back(fit("(no actor metrics yet)", width));
  return lines;
}

std::vector<std::string> render_plain(const top_view& v) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format(
      "engine running={} waiting={} kv={} prefix_hit={} prompt_tok_s={} generation_tok_s={} "
      "actors={} threads={}",
      or_dash(v.running, "{:.0f}"), or_dash(v.waiting, "{:.0f}"), or_dash(v.kv_percent, "{:.1f}%"),
      or_dash(v.prefix_hit_percent, "{:.1f}%"), or_dash(v.prompt_tokens_per_s, "{:.1f}"),
      or_dash(v.generation_tokens_per_s, "{:.1f}"), or_dash(v.running_actors, "{:.0f}"),
      or_dash(v.scheduler_threads, "{:.0f}")));
  for (const actor_row& r : v.actors) {
    lines.push_back(fmt::format(
        "actor kind={} actors={} depth={} peak={} msg_s={} busy={} handle={} wait={}",
        r.kind.empty() ? "-" : r.kind, count(r.running), count(r.depth), count(r.depth_peak),
        or_dash(r.messages_per_s, "{:.1f}"), or_dash(r.busy_percent, "{:.1f}%"),
        duration(r.mean_handle_s), duration(r.mean_wait_s)));
  }
  return lines;
}

}  // namespace troupe::cli::top
