#include "http/python_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::http {
namespace {

// A JSON parser that fails where pydantic's (jiter) fails: the JSON grammar, plus NaN, Infinity
// and -Infinity; strings of valid UTF-8 without raw control characters, surrogate escapes only
// in pairs; integers of at most 4300 digits (Python's limit); nesting up to
// python_json_max_depth. Recursion is bounded by that depth.
class parser {
 public:
  explicit parser(std::string_view text) : s_(text) {}

  bool parse(python_value& out) {
    skip_space();
    if (!value(out, 0)) return false;
    skip_space();
    return i_ == s_.size();
  }

 private:
  static constexpr int max_integer_digits = 4300;

  bool value(python_value& v, int depth) {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{' || c == '[') {
      if (depth >= python_json_max_depth) return false;
      return c == '{' ? object(v, depth + 1) : array(v, depth + 1);
    }
    if (c == '"') {
      v.type = python_value::kind::string;
      return string(v.text);
    }
    if (c == '-' || is_digit(c)) return number(v);
    for (auto [word, type] : {std::pair{"true", python_value::kind::boolean},
                              std::pair{"false", python_value::kind::boolean},
                              std::pair{"null", python_value::kind::null},
                              std::pair{"NaN", python_value::kind::floating},
                              std::pair{"Infinity", python_value::kind::floating}}) {
      if (s_.substr(i_).starts_with(word)) {
        i_ += std::string_view(word).size();
        v.type = type;
        v.text = word;
        return true;
      }
    }
    return false;
  }

  bool object(python_value& v, int depth) {
    v.type = python_value::kind::object;
    ++i_;
    skip_space();
    if (consume('}')) return true;
    while (true) {
      std::string key;
      if (!peek('"') || !string(key)) return false;
      skip_space();
      if (!consume(':')) return false;
      skip_space();
      python_value item;
      if (!value(item, depth)) return false;
      // A repeated key keeps its first place and takes the new value, as a dict does.
      auto same = std::find_if(v.members.begin(), v.members.end(),
                               [&](const auto& m) { return m.first == key; });
      if (same != v.members.end()) {
        same->second = std::move(item);
      } else {
        v.members.emplace_back(std::move(key), std::move(item));
      }
      skip_space();
      if (consume('}')) return true;
      if (!consume(',')) return false;
      skip_space();
    }
  }

  bool array(python_value& v, int depth) {
    v.type = python_value::kind::array;
    ++i_;
    skip_space();
    if (consume(']')) return true;
    while (true) {
      if (!value(v.items.emplace_back(), depth)) return false;
      skip_space();
      if (consume(']')) return true;
      if (!consume(',')) return false;
      skip_space();
    }
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? or -Infinity.
  bool number(python_value& v) {
    const size_t start = i_;
    consume('-');
    if (s_.substr(i_).starts_with("Infinity") && i_ > start) {
      i_ += 8;
      v.type = python_value::kind::floating;
      v.text = "-Infinity";
      return true;
    }
    const size_t int_start = i_;
    if (consume('0')) {
      if (i_ < s_.size() && is_digit(s_[i_])) return false;
    } else if (!digits()) {
      return false;
    }
    const size_t num_int_digits = i_ - int_start;
    bool integral = true;
    if (consume('.')) {
      integral = false;
      if (!digits()) return false;
    }
    if (consume('e') || consume('E')) {
      integral = false;
      if (!consume('+')) consume('-');
      if (!digits()) return false;
    }
    if (integral && num_int_digits > max_integer_digits) return false;
    v.type = integral ? python_value::kind::integer : python_value::kind::floating;
    v.text.assign(s_.substr(start, i_ - start));
    return true;
  }

  bool string(std::string& out) {
    ++i_;  // the opening quote
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (!utf8_char(out)) {
        return false;
      }
    }
    return false;
  }

  bool escape(std::string& out) {
    if (++i_ >= s_.size()) return false;
    const char c = s_[i_++];
    switch (c) {
      case '"':
        out += '"';
        return true;
      case '\\':
        out += '\\';
        return true;
      case '/':
        out += '/';
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = 0;
      if (!s_.substr(i_).starts_with("\\u")) return false;
      i_ += 2;
      if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    runtime::utf8::append_codepoint(cp, out);  // a valid scalar value: checked above
    return true;
  }

  bool hex4(uint32_t& cp) {
    if (i_ + 4 > s_.size()) return false;
    auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + i_ + 4, cp, 16);
    if (ec != std::errc() || end != s_.data() + i_ + 4) return false;
    i_ += 4;
    return true;
  }

  // One raw UTF-8 character, validated (no overlong forms, surrogates or values past U+10FFFF).
  bool utf8_char(std::string& out) {
    const auto lead = static_cast<unsigned char>(s_[i_]);
    const size_t len = lead < 0x80             ? 1
                       : (lead & 0xE0) == 0xC0 ? 2
                       : (lead & 0xF0) == 0xE0 ? 3
                       : (lead & 0xF8) == 0xF0 ? 4
                                               : 0;
    if (len == 0 || i_ + len > s_.size()) return false;
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s_[i_ + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    constexpr uint32_t min_of_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of_length[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.append(s_.substr(i_, len));
    i_ += len;
    return true;
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  bool digits() {
    const size_t start = i_;
    while (i_ < s_.size() && is_digit(s_[i_]))
      ++i_;
    return i_ > start;
  }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool consume(char c) {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Python's repr of a finite float: the shortest digits that round-trip, in fixed notation when
// the decimal point falls within 16 digits of them (always with a fraction: 100.0), else as
// 1e+16 / 1.5e-07.
std::string float_repr(double d) {
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, end);  // "-1.2345e+16"
  const size_t e = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  const int decpt = std::atoi(sci.c_str() + e + 1) + 1;  // value = 0.DIGITS * 10^decpt
  if (decpt <= -4 || decpt > 16) return sci;
  std::string out = negative ? "-" : "";
  const int num_digits = static_cast<int>(digits.size());
  if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (decpt >= num_digits) {
    out += digits + std::string(static_cast<size_t>(decpt - num_digits), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt)) + "." +
           digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

std::string python_number(const python_value& v) {
  if (v.type == python_value::kind::integer) return v.text == "-0" ? "0" : v.text;
  if (v.text == "NaN") return "NaN";
  const double d = std::strtod(v.text.c_str(), nullptr);  // correctly rounded; overflow: inf
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

// A character at or above U+0080 as json.dumps(ensure_ascii=True) writes it: \uXXXX, a UTF-16
// surrogate pair above U+FFFF. `s` starts at its UTF-8 lead byte; returns the bytes it took.
size_t escape_non_ascii(std::string_view s, std::string& out) {
  const auto lead = static_cast<unsigned char>(s[0]);
  const size_t extra = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
  uint32_t code = lead & (0x3fu >> extra);
  for (size_t k = 1; k <= extra && k < s.size(); ++k)
    code = (code << 6) | (static_cast<unsigned char>(s[k]) & 0x3fu);
  if (code >= 0x10000) {
    code -= 0x10000;
    out += fmt::format("\\u{:04x}\\u{:04x}", 0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff));
  } else {
    out += fmt::format("\\u{:04x}", code);
  }
  return std::min(extra + 1, s.size());
}

void dump_string(std::string_view s, std::string& out, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (ensure_ascii && static_cast<unsigned char>(c) >= 0x80) {
      i += escape_non_ascii(s.substr(i), out) - 1;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Recursion is bounded by python_json_max_depth.
void dump(const python_value& v, std::string& out, bool ensure_ascii) {
  switch (v.type) {
    case python_value::kind::null:
      out += "null";
      break;
    case python_value::kind::boolean:
      out += v.text;
      break;
    case python_value::kind::integer:
    case python_value::kind::floating:
      out += python_number(v);
      break;
    case python_value::kind::string:
      dump_string(v.text, out, ensure_ascii);
      break;
    case python_value::kind::array:
      out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out += ", ";
        dump(v.items[i], out, ensure_ascii);
      }
      out += ']';
      break;
    case python_value::kind::object:
      out += '{';
      for (size_t i = 0; i < v.members.size(); ++i) {
        if (i > 0) out += ", ";
        dump_string(v.members[i].first, out, ensure_ascii);
        out += ": ";
        dump(v.members[i].second, out, ensure_ascii);
      }
      out += '}';
      break;
  }
}

}  // namespace

std::string python_float_repr(double d) {
  return float_repr(d);
}

std::optional<python_value> parse_python_json(std::string_view text) {
  python_value v;
  if (!parser(text).parse(v)) return std::nullopt;
  return v;
}

std::string python_json_dumps(const python_value& value, bool ensure_ascii) {
  std::string out;
  dump(value, out, ensure_ascii);
  return out;
}

}  // namespace troupe::http
