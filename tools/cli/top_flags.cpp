// `troupe top` flags (tools/cli/top_command.cpp; docs/telemetry.md).
#include <limits>

#include "tools/cli/flag_spec.hpp"

namespace troupe::cli::detail {

std::vector<flag_spec> top_flag_specs() {
  constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
  return {
      string_flag(
          "url", "URL", "the server (http://host:port)",
          [](command_line & c) -> auto& { return c.top.url; }),
      real_flag(
          "interval", "SECONDS", "time between refreshes, > 0",
          [](command_line & c) -> auto& { return c.top.interval; }, 0.0, 3600.0, true),
      int_flag(
          "iterations", "N", "refreshes before exiting; 0 = until q or Ctrl-C",
          [](command_line & c) -> auto& { return c.top.iterations; }, 0, int32_max),
      choice_flag("sort", "the actor table's order (keys d and b change it)",
                  [](command_line & c) -> auto& { return c.top.sort; }, {"depth", "busy"}),
  };
}

}  // namespace troupe::cli::detail
