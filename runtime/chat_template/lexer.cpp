#include "runtime/chat_template/lexer.hpp"

#include <cctype>
#include <cstring>

namespace troupe::runtime::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Python's unicode-escape decoding of a string literal's body (jinja2 decodes literals so);
// an unknown escape keeps its backslash.
std::string decode_escapes(const std::string& body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out += body[i];
      continue;
    }
    char e = body[++i];
    size_t hex_len = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (hex_len) {
      std::string hex = body.substr(i + 1, hex_len);
      bool ok = hex.size() == hex_len;
      for (char h : hex)
        ok = ok && std::isxdigit(static_cast<unsigned char>(h));
      if (ok) {
        append_utf8(static_cast<uint32_t>(std::stoul(hex, nullptr, 16)), out);
        i += hex_len;
        continue;
      }
    }
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '0':
        out += '\0';
        break;
      case '\n':
        break;
      default:
        out += '\\';
        out += e;
    }
  }
  return out;
}

class lexer {
 public:
  explicit lexer(const std::string& s) : s_(s) {}

  result<std::vector<token>> run() {
    bool line_starting = true;
    bool strip_next = false;  // the previous tag ended with '-'
    while (pos_ < s_.size()) {
      size_t tag = find_tag(pos_);
      std::string text = s_.substr(pos_, tag - pos_);
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k]))
          ++k;
        text.erase(0, k);
      }
      if (tag < s_.size()) apply_left_strip(tag, text, line_starting);
      if (!text.empty()) out_.push_back({token_kind::text, text, line_});
      count_lines(pos_, tag);
      if (tag >= s_.size()) break;
      auto st = lex_tag(tag, strip_next, line_starting);
      if (!st) return st.err();
    }
    out_.push_back({token_kind::eof, "", line_});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i) {
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    }
    return s_.size();
  }

  void apply_left_strip(size_t tag, std::string& text, bool line_starting) const {
    char modifier = tag + 2 < s_.size() ? s_[tag + 2] : 0;
    if (modifier == '-') {
      while (!text.empty() && is_space(text.back()))
        text.pop_back();
      return;
    }
    if (s_[tag + 1] == '{' || modifier == '+') return;
    size_t nl = text.rfind('\n');
    size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting) return;
    for (size_t k = l_pos; k < text.size(); ++k) {
      if (!is_space(text[k])) return;
    }
    text.erase(l_pos);
  }

  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < s_.size(); ++i)
      line_ += s_[i] == '\n';
  }

  status lex_tag(size_t tag, bool& strip_next, bool& line_starting) {
    char kind = s_[tag + 1];
    size_t p = tag + 2;
    if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ++p;
    if (kind == '#') {
      size_t end = s_.find("#}", p);
      if (end == std::string::npos) return error{at(line_) + "missing end of comment tag"};
      count_lines(tag, end);
      strip_next = s_[end - 1] == '-';
      return finish_tag(tag, end + 2, true, s_[end - 1] == '+', line_starting);
    }
    out_.push_back({kind == '{' ? token_kind::var_begin : token_kind::block_begin, "", line_});
    count_lines(tag, p);
    pos_ = p;
    int depth = 0;
    const char* closer = kind == '{' ? "}}" : "%}";
    while (true) {
      while (pos_ < s_.size() && is_space(s_[pos_]))
        line_ += s_[pos_++] == '\n';
      if (pos_ >= s_.size()) return error{at(line_) + "unexpected end of template in tag"};
      bool minus_close = s_[pos_] == '-' && s_.compare(pos_ + 1, 2, closer) == 0;
      bool plus_close = s_[pos_] == '+' && s_.compare(pos_ + 1, 2, closer) == 0;
      if (depth == 0 && (minus_close || plus_close || s_.compare(pos_, 2, closer) == 0)) {
        size_t end = pos_ + (minus_close || plus_close ? 1 : 0);
        strip_next = minus_close;
        out_.push_back({kind == '{' ? token_kind::var_end : token_kind::block_end, "", line_});
        return finish_tag(tag, end + 2, kind == '%', plus_close, line_starting);
      }
      auto st = lex_expression_token(depth);
      if (!st) return st;
    }
  }

  status finish_tag(size_t, size_t end, bool is_block, bool keep_newline, bool& line_starting) {
    pos_ = end;
    line_starting = false;
    if (is_block && !keep_newline && pos_ < s_.size() && s_[pos_] == '\n') {
      ++pos_;
      ++line_;
      line_starting = true;
    }
    return ok_status();
  }

  status lex_expression_token(int& depth) {
    char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = pos_;
      while (pos_ < s_.size() &&
             (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
        ++pos_;
      out_.push_back({token_kind::name, s_.substr(b, pos_ - b), line_});
      return ok_status();
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return lex_number();
    if (c == '\'' || c == '"') return lex_string(c);
    static const char* const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                      "/",  "%",  "~",  "<",  ">",  "=",  ".", ",", ":",
                                      "|",  "(",  ")",  "[",  "]",  "{",  "}"};
    for (const char* op : ops) {
      size_t n = std::strlen(op);
      if (s_.compare(pos_, n, op) == 0) {
        if (n == 1 && (c == '(' || c == '[' || c == '{')) ++depth;
        if (n == 1 && (c == ')' || c == ']' || c == '}')) --depth;
        out_.push_back({token_kind::op, op, line_});
        pos_ += n;
        return ok_status();
      }
    }
    return error{at(line_) + "unexpected character '" + std::string(1, c) + "'"};
  }

  status lex_number() {
    size_t b = pos_;
    bool is_float = false;
    auto digits = [&] {
      while (pos_ < s_.size() &&
             (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
        ++pos_;
    };
    digits();
    if (pos_ + 1 < s_.size() && s_[pos_] == '.' &&
        std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t save = pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        is_float = true;
        digits();
      } else {
        pos_ = save;
      }
    }
    std::string text;
    for (size_t i = b; i < pos_; ++i) {
      if (s_[i] != '_') text += s_[i];
    }
    out_.push_back({is_float ? token_kind::floating : token_kind::integer, text, line_});
    return ok_status();
  }

  status lex_string(char quote) {
    size_t b = ++pos_;
    int start_line = line_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') ++pos_;
      if (pos_ < s_.size()) line_ += s_[pos_] == '\n';
      ++pos_;
    }
    if (pos_ >= s_.size()) return error{at(start_line) + "unterminated string"};
    out_.push_back({token_kind::string, decode_escapes(s_.substr(b, pos_ - b)), start_line});
    ++pos_;
    return ok_status();
  }

  static std::string at(int line) {
    return "template syntax error (line " + std::to_string(line) + "): ";
  }

  const std::string& s_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<token> out_;
};

}  // namespace

result<std::vector<token>> tokenize(const std::string& source) {
  return lexer(source).run();
}

}  // namespace troupe::runtime::jinja
