#include "runtime/tokenizer/hf_added_tokens.hpp"

#include <algorithm>

#include "runtime/tokenizer/hf_text.hpp"

namespace troupe::runtime {
namespace {

bool is_word_char(uint32_t cpt) {
  return cpt == '_' || hf_text::is_alphanumeric(cpt);
}

// Start of the last codepoint of `text` (non-empty).
size_t last_codepoint_start(std::string_view text) {
  size_t pos = text.size() - 1;
  while (pos > 0 && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80)
    --pos;
  return pos;
}

bool ends_with_word(std::string_view text) {
  if (text.empty()) return false;
  return is_word_char(hf_text::next_codepoint(text, last_codepoint_start(text)).first);
}

bool starts_with_word(std::string_view text) {
  return !text.empty() && is_word_char(hf_text::next_codepoint(text, 0).first);
}

// Where the run of whitespace ending `text` starts.
size_t trailing_space_start(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    const size_t start = last_codepoint_start(text.substr(0, end));
    if (!hf_text::is_whitespace(hf_text::next_codepoint(text, start).first)) break;
    end = start;
  }
  return end;
}

// Length of the run of whitespace starting `text`.
size_t leading_space_length(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const auto [cpt, length] = hf_text::next_codepoint(text, pos);
    if (!hf_text::is_whitespace(cpt)) break;
    pos += length;
  }
  return pos;
}

}  // namespace

void hf_added_matcher::add(std::string_view pattern, const hf_added_token& token) {
  if (pattern.empty()) return;
  int node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<uint8_t>(c);
    auto it = children_[node].find(byte);
    if (it == children_[node].end()) {
      children_.emplace_back();
      terminal_.push_back(-1);
      const int child = static_cast<int>(children_.size()) - 1;
      children_[node][byte] = child;
      node = child;
    } else {
      node = it->second;
    }
  }
  first_byte_[static_cast<uint8_t>(pattern[0])] = true;
  if (terminal_[node] < 0) {  // the first token with a given text wins
    terminal_[node] = static_cast<int>(tokens_.size());
    tokens_.push_back(token);
  }
}

std::pair<size_t, int> hf_added_matcher::longest_at(std::string_view text, size_t pos) const {
  std::pair<size_t, int> best{0, -1};
  int node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto it = children_[node].find(static_cast<uint8_t>(text[i]));
    if (it == children_[node].end()) break;
    node = it->second;
    if (terminal_[node] >= 0) best = {i + 1 - pos, terminal_[node]};
  }
  return best;
}

std::vector<hf_split> hf_added_matcher::split(std::string_view text) const {
  std::vector<hf_split> splits;
  size_t done = 0;  // start_offset in the library
  for (size_t pos = 0; pos < text.size();) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [length, index] = longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const hf_added_token& token = tokens_[index];
    size_t start = pos;
    size_t stop = pos + length;
    pos = stop;  // the next search starts after this match, used or not
    if (token.single_word) {
      const bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
      const bool stop_space = stop == text.size() || !starts_with_word(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), done);
    if (token.rstrip) stop += leading_space_length(text.substr(stop));
    if (done < start) splits.push_back({-1, done, start});
    splits.push_back({token.id, start, stop});
    done = stop;
    pos = std::max(pos, stop);
  }
  if (done < text.size()) splits.push_back({-1, done, text.size()});
  return splits;
}

}  // namespace troupe::runtime
