#include "tests/support/output.hpp"

namespace troupe::testing {

std::string line_starting_with(std::string_view out, std::string_view prefix) {
  size_t begin = 0;
  while (begin < out.size()) {
    size_t end = out.find('\n', begin);
    if (end == std::string_view::npos) end = out.size();
    std::string_view line = out.substr(begin, end - begin);
    if (line.substr(0, prefix.size()) == prefix) return std::string(line);
    begin = end + 1;
  }
  return {};
}

}  // namespace troupe::testing
