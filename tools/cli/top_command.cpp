// `troupe top`: polls a server's /v1/telemetry and shows the engine line and the actor table,
// refreshed every --interval seconds (docs/telemetry.md). On a terminal: a full-screen view with
// keys d (sort by mailbox depth), b (sort by busy time) and q (quit); otherwise plain key=value
// lines per refresh, e.g. for a log or a test (--iterations N stops after N refreshes).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "tools/cli/http_get.hpp"
#include "tools/cli/subcommands.hpp"
#include "tools/cli/top_terminal.hpp"
#include "tools/cli/top_view.hpp"

namespace troupe::cli {
namespace {

using steady = std::chrono::steady_clock;

// One refresh's outcome: a new sample, or why there is none.
// A server started with --api-key guards /v1/telemetry: the key comes from OPENAI_API_KEY, as
// `troupe bench` (and vLLM's benchmark) take it.
result<top::telemetry_sample> fetch(const http_url& url, std::chrono::milliseconds timeout) {
  const char* api_key = std::getenv("OPENAI_API_KEY");
  auto reply = http_get(url, "/v1/telemetry", timeout, api_key != nullptr ? api_key : "");
  if (!reply) return reply.err();
  if (reply->status == 401) {
    return error{
        "GET /v1/telemetry answered 401: the server needs its --api-key key in "
        "OPENAI_API_KEY"};
  }
  if (reply->status != 200) {
    return error{"GET /v1/telemetry answered " + std::to_string(reply->status)};
  }
  return top::parse_telemetry(reply->body);
}

class top_loop {
 public:
  top_loop(const top_options& options, http_url url)
      : options_(options),
        url_(std::move(url)),
        sort_(options.sort == "busy" ? top::sort_key::busy : top::sort_key::depth),
        interval_(std::chrono::milliseconds(static_cast<int64_t>(options.interval * 1000))) {}

  // Returns the exit code: 0 when some refresh succeeded, 1 when none did.
  int run() {
    for (int32_t n = 0; options_.iterations == 0 || n < options_.iterations; ++n) {
      const steady::time_point next = steady::now() + interval_;
      refresh();
      show();
      if (options_.iterations != 0 && n + 1 == options_.iterations) break;
      if (!wait_until(next)) break;
    }
    return num_ok_ > 0 ? 0 : 1;
  }

 private:
  void refresh() {
    auto sample = fetch(url_, std::max(interval_, std::chrono::milliseconds(2000)));
    if (!sample) {
      error_ = sample.message();
      return;
    }
    error_.reset();
    ++num_ok_;
    previous_ = std::move(current_);
    current_ = std::move(*sample);
  }

  void show() {
    if (!terminal_.active()) return show_plain();
    std::vector<std::string> lines;
    if (current_) {
      top::top_view view = top::make_view(*current_, previous_ ? &*previous_ : nullptr, sort_);
      lines = top::render_screen(view, options_.url, sort_, terminal_.width());
    } else {
      lines.push_back("troupe top  " + options_.url + "  (q quit)");
    }
    if (error_) lines.push_back("error: " + *error_);
    terminal_.draw(lines);
  }

  void show_plain() {
    if (error_) {
      std::fprintf(stderr, "troupe top: %s\n", error_->c_str());
      return;
    }
    top::top_view view = top::make_view(*current_, previous_ ? &*previous_ : nullptr, sort_);
    for (const auto& line : top::render_plain(view))
      std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  // Sleeps until `deadline`, handling keys on a terminal; false when the user quit.
  bool wait_until(steady::time_point deadline) {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0) return true;
      if (!terminal_.active()) {
        std::this_thread::sleep_for(left);
        return true;
      }
      const std::optional<char> key = terminal_.read_key(left);
      if (!key) continue;
      if (*key == 'q' || *key == 'Q') return false;
      if (*key == 'd' || *key == 'b') {
        sort_ = *key == 'd' ? top::sort_key::depth : top::sort_key::busy;
        show();
      }
    }
  }

  const top_options& options_;
  http_url url_;
  top::sort_key sort_;
  std::chrono::milliseconds interval_;
  top::raw_terminal terminal_;
  std::optional<top::telemetry_sample> current_, previous_;
  std::optional<std::string> error_;
  int64_t num_ok_ = 0;
};

}  // namespace

int run_top(const command_line& cl) {
  auto url = parse_http_url(cl.top.url);
  if (!url) {
    std::fprintf(stderr, "troupe top: %s\n", url.message().c_str());
    return 2;
  }
  return top_loop(cl.top, std::move(*url)).run();
}

}  // namespace troupe::cli
