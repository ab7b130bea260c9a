#include "actors/stop_strings.hpp"

#include <algorithm>
#include <utility>

namespace troupe::actors {
namespace {

size_t num_code_points(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// The byte offset where the last `n` code points of `text` begin (0 when it has fewer).
size_t last_code_points_start(std::string_view text, size_t n) {
  size_t at = text.size();
  while (n > 0 && at > 0) {
    --at;
    if ((text[at] & 0xC0) != 0x80) --n;
  }
  return n > 0 ? 0 : at;
}

}  // namespace

stop_string_filter::stop_string_filter(std::vector<std::string> stops, bool include_in_output)
    : include_in_output_(include_in_output) {
  for (auto& s : stops) {
    if (s.empty()) continue;
    if (!include_in_output_) held_characters_ = std::max(held_characters_, num_code_points(s) - 1);
    longest_stop_ = std::max(longest_stop_, s.size());
    stops_.push_back(std::move(s));
  }
}

stop_string_filter::step stop_string_filter::push(std::string_view text, bool check) {
  if (matched_) return {};
  const size_t old_size = text_.size();
  text_ += text;
  if (check && !text.empty()) {
    const std::string* best = nullptr;
    size_t best_at = 0;
    for (const auto& stop : stops_) {
      // A match ends in the new text: it starts after old_size - stop.size().
      const size_t from = old_size >= stop.size() ? old_size - stop.size() + 1 : 0;
      const size_t at = text_.find(stop, from);
      if (at == std::string::npos) continue;
      if (best == nullptr || at + stop.size() < best_at + best->size()) {
        best = &stop;
        best_at = at;
      }
    }
    if (best != nullptr) {
      matched_ = true;
      const size_t cut = include_in_output_ ? best_at + best->size() : best_at;
      step result{cut > num_emitted_ ? text_.substr(num_emitted_, cut - num_emitted_) : "", *best};
      text_.clear();
      return result;
    }
  }
  const size_t keep_from = std::max(num_emitted_, last_code_points_start(text_, held_characters_));
  step result{text_.substr(num_emitted_, keep_from - num_emitted_), std::nullopt};
  num_emitted_ = keep_from;
  // Keep fewer emitted bytes than the longest stop string: a match may begin there.
  const size_t drop = num_emitted_ - std::min(num_emitted_, std::max<size_t>(longest_stop_, 1) - 1);
  text_.erase(0, drop);
  num_emitted_ -= drop;
  return result;
}

std::string stop_string_filter::flush() {
  std::string rest = text_.substr(num_emitted_);
  text_.clear();
  num_emitted_ = 0;
  return rest;
}

}  // namespace troupe::actors
