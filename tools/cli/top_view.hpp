#pragma once
// `troupe top`'s pure part: what it reads from a /v1/telemetry snapshot, the figures of one
// refresh (rates and means over the interval between two snapshots), and the text it shows.
// No I/O, no terminal: tests drive it with JSON strings.
//
//   parse_telemetry(json) -> telemetry_sample      one snapshot, actors summed per kind
//   make_view(cur, prev, sort) -> top_view         counter deltas / elapsed time
//   render_screen(view, ...) / render_plain(view)  the terminal frame, or key=value lines
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::cli::top {

// One actor kind's cumulative figures (the troupe_actor_* metrics, summed over ranks).
struct actor_kind_totals {
  double running = 0;     // troupe_actors_running
  double depth = 0;       // troupe_actor_mailbox_depth
  double depth_peak = 0;  // troupe_actor_mailbox_depth_peak
  double messages = 0;    // troupe_actor_messages_total
  double busy_seconds = 0;
  double handle_sum = 0, handle_count = 0;  // troupe_actor_handle_seconds
  double wait_sum = 0, wait_count = 0;      // troupe_actor_mailbox_wait_seconds
};

// What one /v1/telemetry snapshot says. A figure whose metric is absent is nullopt (the engine
// may not export it, e.g. with --disable-log-stats); the engine block's counts fill in for the
// request and KV figures then.
struct telemetry_sample {
  double timestamp = 0;  // unix seconds
  std::string model;
  std::optional<double> running, waiting;
  std::optional<double> kv_usage;  // fraction 0..1
  std::optional<double> prefix_queries, prefix_hits;
  std::optional<double> prompt_tokens, generation_tokens;
  // The actor system: actors alive, CAF scheduler threads.
  std::optional<double> running_actors, scheduler_threads;
  std::map<std::string, actor_kind_totals> kinds;
};

// Errors: not JSON, or not a telemetry object.
result<telemetry_sample> parse_telemetry(std::string_view json);

enum class sort_key { depth, busy };

struct actor_row {
  std::string kind;
  double running = 0, depth = 0, depth_peak = 0;
  std::optional<double> messages_per_s;  // nullopt on the first refresh
  std::optional<double> busy_percent;    // 100 = one actor of the kind busy all the time
  std::optional<double> mean_handle_s;   // over the interval; nullopt without messages
  std::optional<double> mean_wait_s;
};

struct top_view {
  std::string model;
  double timestamp = 0;
  std::optional<double> running, waiting, kv_percent, prefix_hit_percent;
  std::optional<double> prompt_tokens_per_s, generation_tokens_per_s;
  std::optional<double> running_actors, scheduler_threads;
  std::vector<actor_row> actors;  // sorted by the sort key, largest first, then by kind
};

// The view of `cur`, with rates over the interval since `prev` (nullptr: the first refresh).
top_view make_view(const telemetry_sample& cur, const telemetry_sample* prev, sort_key sort);

// The terminal frame: a title line (with `url` and the keys), the two engine lines, a blank line
// and the actor table; each line at most `width` characters.
std::vector<std::string> render_screen(const top_view& view, std::string_view url, sort_key sort,
                                       int width);

// Plain lines for a pipe: "engine running=2 waiting=0 kv=12.5% ... actors=9 threads=2" then one
// "actor kind=batcher actors=1 depth=0 ..." per kind; "-" for an unknown figure.
std::vector<std::string> render_plain(const top_view& view);

// The engine's figures on two lines: requests, KV and prefix cache; token rates and the actor
// system.
std::vector<std::string> engine_lines(const top_view& view);

}  // namespace troupe::cli::top
