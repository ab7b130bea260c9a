#include "runtime/tokenizer/sentencepiece_split.hpp"

#include <algorithm>

namespace troupe::runtime {
namespace {

// Python's whitespace (str.isspace) in UTF-8: ASCII \t\n\v\f\r, \x1c-\x1f, space, and U+0085,
// U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. Returns the byte length
// of the whitespace character at `pos`, or 0.
size_t space_at(std::string_view s, size_t pos) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[pos + i]); };
  const size_t left = s.size() - pos;
  if ((b(0) >= 0x09 && b(0) <= 0x0d) || (b(0) >= 0x1c && b(0) <= 0x20)) return 1;
  if (left >= 2 && b(0) == 0xc2 && (b(1) == 0x85 || b(1) == 0xa0)) return 2;
  if (left < 3) return 0;
  if (b(0) == 0xe1 && b(1) == 0x9a && b(2) == 0x80) return 3;  // U+1680
  if (b(0) == 0xe2 && b(1) == 0x80 &&
      (b(2) <= 0x8a || b(2) == 0xa8 || b(2) == 0xa9 || b(2) == 0xaf)) {
    return b(2) >= 0x80 ? 3 : 0;
  }
  if (b(0) == 0xe2 && b(1) == 0x81 && b(2) == 0x9f) return 3;  // U+205F
  if (b(0) == 0xe3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000
  return 0;
}

// Start of the UTF-8 character that ends at `end` (exclusive).
size_t char_start_before(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80)
    --i;
  return i;
}

// Index into `added` of the longest content starting at `pos`, or -1.
int longest_at(std::string_view text, size_t pos, const std::vector<sp_added_token>& added) {
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string& c = added[i].content;
    if (c.size() > best_len && text.compare(pos, c.size(), c) == 0) {
      best = static_cast<int>(i);
      best_len = c.size();
    }
  }
  return best;
}

}  // namespace

std::string strip_left(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t n = space_at(text, i);
    if (n == 0) break;
    i += n;
  }
  return std::string(text.substr(i));
}

std::string strip_right(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    const size_t start = char_start_before(text, end);
    if (space_at(text, start) != end - start) break;
    end = start;
  }
  return std::string(text.substr(0, end));
}

std::vector<sp_chunk> split_added_tokens(std::string_view text,
                                         const std::vector<sp_added_token>& added) {
  std::vector<sp_chunk> parts;
  std::vector<int> token_of;  // index into `added` per part, -1 for text
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int found = added.empty() ? -1 : longest_at(text, pos, added);
    if (found < 0) {
      ++pos;
      continue;
    }
    if (pos > start) {
      parts.push_back({std::string(text.substr(start, pos - start)), false});
      token_of.push_back(-1);
    }
    parts.push_back({added[found].content, true});
    token_of.push_back(found);
    pos += added[found].content.size();
    start = pos;
  }
  if (start < text.size()) {
    parts.push_back({std::string(text.substr(start)), false});
    token_of.push_back(-1);
  }
  // The flags, applied left to right on the live list exactly as tokenize() does.
  for (size_t i = 0; i < parts.size(); ++i) {
    // A token merged into or emptied by an earlier single_word edit is no longer an added token.
    if (token_of[i] < 0 || parts[i].text != added[token_of[i]].content) continue;
    const sp_added_token& t = added[token_of[i]];
    // Python keeps the neighbours as they were before this token's edits.
    const std::string left = i > 0 ? parts[i - 1].text : "";
    const std::string right = i + 1 < parts.size() ? parts[i + 1].text : "";
    if (t.rstrip && !right.empty()) parts[i + 1].text = strip_left(right);
    if (t.lstrip && !left.empty()) parts[i - 1].text = strip_right(left);
    if (t.single_word && !left.empty() && left.back() != ' ') {
      parts[i - 1].text += parts[i].text;
      parts[i].text.clear();
    } else if (t.single_word && !right.empty() && right.front() != ' ') {
      parts[i].text += right;
      parts[i + 1].text.clear();
    }
  }
  std::vector<sp_chunk> out;
  for (auto& p : parts) {
    if (p.text.empty()) continue;
    const bool is_added = std::any_of(added.begin(), added.end(),
                                      [&](const sp_added_token& t) { return t.content == p.text; });
    out.push_back({std::move(p.text), is_added});
  }
  return out;
}

}  // namespace troupe::runtime
