#include "http/python_literal.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::http {
namespace {

constexpr int max_nesting = 200;         // the tokenizer's MAXLEVEL
constexpr int max_unary_depth = 1000;    // bounds the recursion of -+-+...
constexpr size_t max_int_digits = 4300;  // sys.int_info.default_max_str_digits

constexpr std::array<std::string_view, 32> hard_keywords = {
    "False",   "None",     "True",     "and",    "as",   "assert", "async",  "await",
    "break",   "class",    "continue", "def",    "del",  "elif",   "else",   "except",
    "finally", "for",      "from",     "global", "if",   "import", "in",     "is",
    "lambda",  "nonlocal", "not",      "or",     "pass", "raise",  "return", "try"};
constexpr std::array<std::string_view, 3> more_keywords = {"while", "with", "yield"};

bool is_keyword(std::string_view w) {
  return std::find(hard_keywords.begin(), hard_keywords.end(), w) != hard_keywords.end() ||
         std::find(more_keywords.begin(), more_keywords.end(), w) != more_keywords.end();
}

python_value scalar(python_value::kind type, std::string text) {
  python_value v;
  v.type = type;
  v.text = std::move(text);
  return v;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || is_digit(c);
}
bool is_non_ascii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

int digit_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// `digits` (most significant first) in `base`, written in decimal.
std::string to_decimal(std::string_view digits, int base) {
  std::vector<uint32_t> limbs;  // base 1e9, least significant first
  for (char c : digits) {
    uint64_t carry = static_cast<uint64_t>(digit_value(c));
    for (auto& limb : limbs) {
      const uint64_t v = uint64_t{limb} * static_cast<uint64_t>(base) + carry;
      limb = static_cast<uint32_t>(v % 1000000000);
      carry = v / 1000000000;
    }
    if (carry > 0) limbs.push_back(static_cast<uint32_t>(carry));
  }
  if (limbs.empty()) return "0";
  std::string out = std::to_string(limbs.back());
  for (size_t i = limbs.size() - 1; i-- > 0;) {
    const std::string part = std::to_string(limbs[i]);
    out += std::string(9 - part.size(), '0') + part;
  }
  return out;
}

class reader {
 public:
  explicit reader(std::string text) : s_(std::move(text)) {}

  std::optional<python_module> module() {
    if (s_.find('\0') != std::string::npos) return std::nullopt;
    python_module out;
    if (!expr(out.first, 0) || !rest_is_blank()) return std::nullopt;
    out.has_set = has_set_;
    return out;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek(size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }

  // Space between tokens; inside brackets newlines, comments and `\`-newline too.
  void skip_space() {
    while (!at_end()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\f') {
        ++i_;
      } else if (c == '\\' && peek(1) == '\n') {
        i_ += 2;
      } else if (depth_ > 0 && c == '\n') {
        ++i_;
      } else if (depth_ > 0 && c == '#') {
        while (!at_end() && s_[i_] != '\n')
          ++i_;
      } else {
        return;
      }
    }
  }

  // After the first statement: more expression statements (each starting a line or after a
  // `;`), blank lines and comments.
  bool rest_is_blank() {
    while (true) {
      skip_space();
      if (at_end()) return true;
      const char c = s_[i_];
      if (c == '#') {
        while (!at_end() && s_[i_] != '\n')
          ++i_;
      } else if (c == ';') {
        ++i_;
        skip_space();
        if (!at_end() && peek() != '\n' && peek() != '#' && !statement()) return false;
      } else if (c == '\n') {
        const size_t line_start = ++i_;
        skip_space();
        if (at_end() || peek() == '\n' || peek() == '#') continue;
        if (i_ != line_start || !statement()) return false;  // "unexpected indent"
      } else {
        return false;
      }
    }
  }

  bool statement() {
    python_expr ignored;
    return expr(ignored, 0);
  }

  bool consume(char c) {
    skip_space();
    if (peek() != c) return false;
    ++i_;
    return true;
  }

  bool expr(python_expr& e, int unary_depth) {
    skip_space();
    const char c = peek();
    if ((c == '-' || c == '+') && unary_depth < max_unary_depth) {
      ++i_;
      e.type = c == '-' ? python_expr::kind::unary_minus : python_expr::kind::unary_plus;
      return expr(e.target.emplace_back(), unary_depth + 1);
    }
    if (!atom(e)) return false;
    return trailers(e);
  }

  bool trailers(python_expr& e) {
    while (true) {
      skip_space();
      if (peek() == '.' && !is_digit(peek(1))) {
        ++i_;
        skip_space();
        python_expr base = std::move(e);
        e = python_expr{};
        e.type = python_expr::kind::attribute;
        e.target.push_back(std::move(base));
        if (!identifier(e.id)) return false;
      } else if (peek() == '(') {
        python_expr callee = std::move(e);
        e = python_expr{};
        e.type = python_expr::kind::call;
        e.target.push_back(std::move(callee));
        if (!arguments(e)) return false;
      } else {
        return true;
      }
    }
  }

  bool identifier(std::string& out) {
    const size_t start = i_;
    if (!is_ident_start(peek())) return false;
    while (is_ident_char(peek()))
      ++i_;
    if (is_non_ascii(peek())) return false;
    out.assign(s_, start, i_ - start);
    return !is_keyword(out);
  }

  bool atom(python_expr& e) {
    const char c = peek();
    if (c == '[' || c == '(' || c == '{') return bracketed(e, c);
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return number(e.value);
    if (c == '"' || c == '\'' || is_ident_start(c)) return word_or_string(e);
    return false;
  }

  bool word_or_string(python_expr& e) {
    size_t end = i_;
    while (end < s_.size() && is_ident_char(s_[end]))
      ++end;
    const std::string word = s_.substr(i_, end - i_);
    if (end < s_.size() && (s_[end] == '"' || s_[end] == '\'') && word.size() <= 2) {
      e.value.type = python_value::kind::string;
      return strings(e.value.text);
    }
    if (word == "None" || word == "True" || word == "False") {
      i_ = end;
      if (is_non_ascii(peek())) return false;
      if (word != "None")
        e.value = scalar(python_value::kind::boolean, word == "True" ? "true" : "false");
      return true;
    }
    e.type = python_expr::kind::name;
    return identifier(e.id);
  }

  bool bracketed(python_expr& e, char open) {
    if (++depth_ > max_nesting) return false;
    ++i_;
    const char close = open == '[' ? ']' : open == '(' ? ')' : '}';
    bool trailing_comma = false;
    bool dict = false;
    while (!consume(close)) {
      if (!e.items.empty() && !trailing_comma) return false;
      python_expr item;
      if (!expr(item, 0)) return false;
      if (open == '{' && (e.items.empty() || dict)) {
        if (consume(':')) {
          if (e.items.empty()) dict = true;
          e.keys.push_back(std::move(item));
          item = python_expr{};
          if (!expr(item, 0)) return false;
        } else if (dict) {
          return false;
        }
      }
      e.items.push_back(std::move(item));
      trailing_comma = consume(',');
    }
    --depth_;
    using k = python_expr::kind;
    if (open == '[') {
      e.type = k::list;
    } else if (open == '{') {
      e.type = dict || e.items.empty() ? k::dict : k::set;
      has_set_ = has_set_ || e.type == k::set;
    } else if (e.items.size() == 1 && !trailing_comma) {
      python_expr inner = std::move(e.items[0]);
      e = std::move(inner);
    } else {
      e.type = k::tuple;
    }
    return true;
  }

  bool arguments(python_expr& call) {
    ++depth_;
    ++i_;
    bool trailing_comma = true;
    while (!consume(')')) {
      if (!trailing_comma || depth_ > max_nesting) return false;
      skip_space();
      const size_t start = i_;
      std::string name;
      if (identifier(name) && consume('=') && peek() != '=') {
        call.keywords.emplace_back(std::move(name), python_expr{});
        if (!expr(call.keywords.back().second, 0)) return false;
      } else {
        i_ = start;
        if (!call.keywords.empty()) return false;  // positional after keyword
        if (!expr(call.items.emplace_back(), 0)) return false;
      }
      trailing_comma = consume(',');
    }
    --depth_;
    return true;
  }

  // One or more adjacent string literals, concatenated.
  bool strings(std::string& out) {
    do {
      if (!string_literal(out)) return false;
      skip_space();
      size_t end = i_;
      while (end < s_.size() && is_ident_char(s_[end]))
        ++end;
      if (end - i_ > 2 || end >= s_.size() || (s_[end] != '"' && s_[end] != '\'')) break;
    } while (true);
    return true;
  }

  bool string_literal(std::string& out) {
    bool raw = false;
    bool fstring = false;
    std::string prefix;
    while (is_ident_char(peek()))
      prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(s_[i_++])));
    for (char p : prefix) {
      if (p == 'b') return false;  // bytes
      raw = raw || p == 'r';
      fstring = fstring || p == 'f';
    }
    static constexpr std::array<std::string_view, 6> valid = {"", "r", "u", "f", "rf", "fr"};
    if (std::find(valid.begin(), valid.end(), prefix) == valid.end()) return false;
    const char quote = s_[i_];
    const bool triple = peek(1) == quote && peek(2) == quote;
    i_ += triple ? 3 : 1;
    const size_t body_start = out.size();
    while (true) {
      if (at_end()) return false;
      const char c = s_[i_];
      if (c == quote && (!triple || (peek(1) == quote && peek(2) == quote))) {
        i_ += triple ? 3 : 1;
        break;
      }
      if (c == '\n' && !triple) return false;
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return false;
        if (raw) {
          out.append(s_, i_, 2);
          i_ += 2;
        } else if (!escape(out)) {
          return false;
        }
        continue;
      }
      out += c;
      ++i_;
    }
    return !fstring || out.find_first_of("{}", body_start) == std::string::npos;
  }

  bool hex_escape(std::string& out, size_t num_digits) {
    uint32_t cp = 0;
    for (size_t k = 0; k < num_digits; ++k) {
      const int d = digit_value(peek());
      if (d > 15) return false;
      cp = cp * 16 + static_cast<uint32_t>(d);
      ++i_;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    runtime::utf8::append_codepoint(cp, out);
    return true;
  }

  bool escape(std::string& out) {
    ++i_;  // the backslash
    const char c = s_[i_++];
    switch (c) {
      case '\n':
        return true;
      case '\\':
      case '\'':
      case '"':
        out += c;
        return true;
      case 'a':
        out += '\a';
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
      case 'v':
        out += '\v';
        return true;
      case 'x':
        return hex_escape(out, 2);
      case 'u':
        return hex_escape(out, 4);
      case 'U':
        return hex_escape(out, 8);
      case 'N':
        return false;
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      uint32_t cp = static_cast<uint32_t>(c - '0');
      for (int k = 0; k < 2 && peek() >= '0' && peek() <= '7'; ++k)
        cp = cp * 8 + static_cast<uint32_t>(s_[i_++] - '0');
      runtime::utf8::append_codepoint(cp, out);
      return true;
    }
    out += '\\';  // an unknown escape keeps its backslash
    --i_;
    return true;
  }

  // (_?digit)+ in `base`; appends the digits without underscores.
  bool digits(std::string& out, int base, bool first_underscore_ok) {
    bool any = false;
    while (true) {
      const bool underscore = peek() == '_' && (any || first_underscore_ok);
      const char d = peek(underscore ? 1 : 0);
      if (digit_value(d) >= base) return any && !underscore;
      out += d;
      i_ += underscore ? 2 : 1;
      any = true;
    }
  }

  bool number(python_value& v) {
    const char prefix = static_cast<char>(std::tolower(static_cast<unsigned char>(peek(1))));
    std::string text;
    if (peek() == '0' && (prefix == 'x' || prefix == 'o' || prefix == 'b')) {
      i_ += 2;
      const int base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : 2;
      if (!digits(text, base, true)) return false;
      v = scalar(python_value::kind::integer, to_decimal(text, base));
      return !is_ident_char(peek()) && !is_non_ascii(peek()) && v.text.size() <= max_int_digits;
    }
    bool integral = true;
    if (peek() != '.' && !digits(text, 10, false)) return false;
    if (peek() == '.') {
      integral = false;
      text += s_[i_++];
      if (is_digit(peek()) && !digits(text, 10, false)) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      text += s_[i_++];
      if (peek() == '+' || peek() == '-') text += s_[i_++];
      if (!digits(text, 10, false)) return false;
    }
    if (is_ident_char(peek()) || is_non_ascii(peek())) return false;  // 1j, 1abc
    if (!integral) {
      v = scalar(python_value::kind::floating, text);
      return true;
    }
    const size_t nonzero = text.find_first_not_of('0');
    if (nonzero == std::string::npos)
      text = "0";
    else if (nonzero > 0)
      return false;  // "leading zeros in decimal integer literals"
    v = scalar(python_value::kind::integer, text);
    return text.size() <= max_int_digits;
  }

  std::string s_;
  size_t i_ = 0;
  int depth_ = 0;
  bool has_set_ = false;
};

// Python's tokenizer reads `\r\n` and `\r` as `\n`.
std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r') {
      out += text[i];
    } else {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    }
  }
  return out;
}

}  // namespace

std::optional<python_module> parse_python_module(std::string_view text) {
  return reader(normalize_newlines(text)).module();
}

}  // namespace troupe::http
