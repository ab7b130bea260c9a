#include "actors/stop_strings.hpp"

#include <algorithm>
#include <utility>

namespace troupe::actors {

stop_string_filter::stop_string_filter(std::vector<std::string> stops, bool include_in_output)
    : include_in_output_(include_in_output) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

stop_string_filter::step stop_string_filter::push(std::string_view text, bool check) {
  if (matched_) return {};
  pending_ += text;
  if (check) {
    // vLLM checks the stop strings in list order and stops at the first one present.
    for (const auto& stop : stops_) {
      const size_t at = pending_.find(stop);
      if (at == std::string::npos) continue;
      matched_ = true;
      step result{pending_.substr(0, include_in_output_ ? at + stop.size() : at), stop};
      pending_.clear();
      return result;
    }
  }
  const size_t keep = held_back_length();
  step result{pending_.substr(0, pending_.size() - keep), std::nullopt};
  pending_.erase(0, pending_.size() - keep);
  return result;
}

std::string stop_string_filter::flush() {
  return std::exchange(pending_, {});
}

// The longest suffix of the pending text that is a proper prefix of some stop string. A stop
// string that is valid UTF-8 starts on a character boundary, so the cut never splits a character.
size_t stop_string_filter::held_back_length() const {
  size_t longest = 0;
  for (const auto& stop : stops_) {
    const size_t max_len = std::min(stop.size() - 1, pending_.size());
    for (size_t len = max_len; len > longest; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) ==
          std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

}  // namespace troupe::actors
