#pragma once
// Reading a command's captured stdout in tests. Inside a test binary the library's default logger
// also writes to stdout, from actor threads, so log lines may come before or after a command's
// own output line.
#include <string>
#include <string_view>

namespace troupe::testing {

// The first line of `out` that starts with `prefix` (e.g. "{\"token_ids\""), or "" when none.
std::string line_starting_with(std::string_view out, std::string_view prefix);

}  // namespace troupe::testing
