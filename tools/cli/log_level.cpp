#include <spdlog/spdlog.h>

#include <cstdio>

#include "tools/cli/subcommands.hpp"

namespace troupe::cli {

bool apply_log_level(const std::string& level) {
  // vLLM's names, plus spdlog's own ("warn", "err", "trace", "off").
  std::string name = level == "warning" ? "warn" : level == "error" ? "err" : level;
  auto parsed = spdlog::level::from_str(name);
  if (parsed == spdlog::level::off && name != "off") {
    std::fprintf(stderr, "troupe: unknown --log-level '%s'\n", level.c_str());
    return false;
  }
  spdlog::set_level(parsed);
  return true;
}

}  // namespace troupe::cli
