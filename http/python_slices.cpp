#include "http/python_slices.hpp"

#include <algorithm>

namespace troupe::http {

namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The byte offset of code point `index` (0 <= index <= py_len(text)).
size_t byte_offset(std::string_view text, int64_t index) {
  size_t at = 0;
  for (int64_t seen = 0; at < text.size(); ++at) {
    if (is_continuation(text[at])) continue;
    if (seen++ == index) return at;
  }
  return text.size();
}

int64_t clamp_index(int64_t index, int64_t length) {
  if (index < 0) index += length;
  return std::clamp<int64_t>(index, 0, length);
}

}  // namespace

int64_t py_len(std::string_view text) {
  return std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation(c); });
}

int64_t py_find(std::string_view text, std::string_view needle) {
  size_t at = text.find(needle);
  return at == std::string_view::npos ? -1 : py_len(text.substr(0, at));
}

std::string py_slice(std::string_view text, int64_t start, std::optional<int64_t> stop) {
  int64_t length = py_len(text);
  int64_t from = clamp_index(start, length);
  int64_t to = stop ? clamp_index(*stop, length) : length;
  if (to <= from) return {};
  size_t begin = byte_offset(text, from);
  return std::string(text.substr(begin, byte_offset(text, to) - begin));
}

std::string_view py_drop(std::string_view text, int64_t n) {
  return text.substr(byte_offset(text, n));
}

}  // namespace troupe::http
