#include <string>
#include <string_view>

#include "runtime/grammar/grammar.hpp"

namespace troupe::runtime::grammar {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The end of the quoted literal or class that starts at `i` (its closing character's index + 1,
// or the text's end), with backslash escapes skipped.
size_t skip_quoted(std::string_view text, size_t i, char close) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == close) {
      return i + 1;
    }
  }
  return text.size();
}

}  // namespace

std::string prefix_rule_names(std::string_view text, std::string_view prefix) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    size_t end = i + 1;
    if (c == '"' || c == '\'') {
      end = skip_quoted(text, i, c);
    } else if (c == '[') {
      end = skip_quoted(text, i, ']');
    } else if (c == '{') {
      end = text.find('}', i);
      end = end == std::string_view::npos ? text.size() : end + 1;
    } else if (c == '#') {
      end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
    } else if (is_name_char(c)) {
      while (end < text.size() && is_name_char(text[end]))
        ++end;
      out += prefix;
    }
    out += text.substr(i, end - i);
    i = end;
  }
  return out;
}

}  // namespace troupe::runtime::grammar
