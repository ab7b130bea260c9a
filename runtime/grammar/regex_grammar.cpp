#include "runtime/grammar/regex_grammar.hpp"

#include <algorithm>
#include <bit>
#include <optional>
#include <utility>

#include "runtime/grammar/regex_ast.hpp"

namespace troupe::runtime::grammar {
namespace {

using namespace regex_ast;

// The shorthand classes as xgrammar defines them: ASCII only, \s without the Unicode spaces
// (U+2000.., U+3000) that Python and JavaScript include.
code_set shorthand_set(char32_t letter) {
  char32_t lower = letter | 0x20;
  code_set set = lower == 'd'   ? code_set{{'0', '9'}}
                 : lower == 'w' ? code_set{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
                                : code_set{{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}};
  return letter == lower ? set : complement(set);
}

// Strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
std::optional<std::u32string> decode_utf8(std::string_view text) {
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    int len = std::max(std::countl_one(byte), 1);  // 1 for a stray continuation byte too
    if (len > 4 || (len == 1 && byte >= 0x80) || i + len > text.size()) return std::nullopt;
    char32_t cp = len == 1 ? byte : byte & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cont & 0x3F);
    }
    static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    bool valid = cp >= min_for_len[len] && cp <= max_code_point && (cp < 0xD800 || cp > 0xDFFF);
    if (!valid) return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

// Recursive descent over code points:
//   alternation := sequence ('|' sequence)*
//   sequence    := (atom | anchor | quantifier)*
//   atom        := '(' modifier? alternation ')' | '[' class ']' | '.' | '\' escape | char
// The first error stops the parse; every function returns early once failed() holds.
class regex_parser {
 public:
  explicit regex_parser(std::u32string pattern) : p_(std::move(pattern)) {}

  result<std::string> run() {
    node pattern = parse_alternation(0);
    if (!failed() && pos_ < p_.size()) fail("unmatched ')'");  // only ')' stops the top level
    if (failed()) return troupe::error{*error_};
    renderer r;
    r.write(pattern, renderer::place::branch);
    if (r.too_large()) {
      return troupe::error{"invalid regex: its grammar would exceed " +
                           std::to_string(max_regex_grammar_bytes) + " bytes"};
    }
    return "root ::= " + r.out + "\n";
  }

 private:
  static code_set one(char32_t cp) { return {{cp, cp}}; }
  bool failed() const { return error_.has_value(); }
  bool at_end(size_t ahead = 0) const { return pos_ + ahead >= p_.size(); }
  char32_t peek(size_t ahead = 0) const { return at_end(ahead) ? 0 : p_[pos_ + ahead]; }

  // Converts to the empty value of whatever the failing function returns (false, "", ...).
  struct failure {
    template <class T>
    operator T() const {  // NOLINT: implicit by design
      return T{};
    }
  };

  failure fail(const std::string& message) {
    if (!failed()) {
      error_ = "invalid regex at position " + std::to_string(pos_ + 1) + ": " + message;
    }
    return {};
  }

  node parse_alternation(int depth) {
    std::vector<node> branches = {parse_sequence(depth)};
    while (!failed() && peek() == '|') {
      ++pos_;
      branches.push_back(parse_sequence(depth));
    }
    if (branches.size() == 1) return std::move(branches[0]);
    return node::list(node::kind::alt, std::move(branches));
  }

  node parse_sequence(int depth) {
    std::vector<node> pieces;
    bool last_repeated = false;  // xgrammar rejects a quantifier right after another one
    while (!failed() && !at_end() && peek() != '|' && peek() != ')') {
      char32_t c = peek();
      if (c == '^' || c == '$') {  // the whole output is matched anyway; xgrammar drops them too
        ++pos_;
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (pieces.empty()) return fail("nothing to repeat");
        if (last_repeated) return fail("two quantifiers in a row are not allowed");
        apply_quantifier(pieces.back());
        last_repeated = true;
      } else {
        pieces.push_back(parse_atom(depth));
        last_repeated = false;
      }
    }
    return node::list(node::kind::seq, std::move(pieces));
  }

  void apply_quantifier(node& target) {
    char32_t c = p_[pos_++];
    int min = c == '+' ? 1 : 0;
    int max = c == '?' ? 1 : -1;  // -1: unbounded
    if (c == '{' && !parse_repetition_range(min, max)) return;
    if (peek() == '?') ++pos_;  // lazy: a grammar has no preference among the matches
    if (max == 0) {
      target = node::list(node::kind::seq, {});
    } else if (min != 1 || max != 1) {
      target = node::repeat(std::move(target), min, max);
    }
  }

  // After '{': m} or m,} or m,n}. Unlike Python, a '{' that does not start a valid range is an
  // error rather than a literal, as in xgrammar.
  bool parse_repetition_range(int& min, int& max) {
    if (!parse_count(min)) return false;
    max = min;
    if (peek() == ',') {
      ++pos_;
      max = -1;
      if (peek() != '}' && !parse_count(max)) return false;
    }
    if (peek() != '}') return fail(bad_count_);
    ++pos_;
    if (max != -1 && min > max) return fail("repetition lower bound is above the upper one");
    return true;
  }

  static constexpr const char* bad_count_ = "invalid repetition count, expected {m}, {m,} or {m,n}";

  bool parse_count(int& value) {
    size_t start = pos_;
    for (value = 0; peek() >= '0' && peek() <= '9';) {
      value = value * 10 + static_cast<int>(p_[pos_++] - '0');
      if (value > max_regex_repetition) {
        return fail("repetition count above " + std::to_string(max_regex_repetition));
      }
    }
    if (pos_ == start) return fail(bad_count_);
    return true;
  }

  node parse_atom(int depth) {
    char32_t c = p_[pos_];
    if (c == '(') return parse_group(depth);
    if (c == '[') return node::chars(parse_class());
    ++pos_;
    if (c == '.') return node::chars({{0, max_code_point}});  // xgrammar's '.' takes newlines
    return node::chars(c == '\\' ? parse_escape(false) : one(c));
  }

  node parse_group(int depth) {
    if (depth >= max_regex_group_depth) return fail("groups are nested too deeply");
    ++pos_;  // '('
    if (peek() == '?' && !parse_group_modifier()) return {};
    node inner = parse_alternation(depth + 1);
    if (failed()) return {};
    if (peek() != ')') return fail("missing ')'");
    ++pos_;
    return inner;
  }

  // After "(?": only the ones that change nothing about the match are accepted.
  bool parse_group_modifier() {
    ++pos_;  // '?'
    char32_t c = peek();
    if (at_end()) return fail("group modifier is not finished");
    if (c == ':') return ++pos_, true;
    if (c == '=' || c == '!') return fail("lookahead is not supported");
    if (c == '<' && (peek(1) == '=' || peek(1) == '!')) return fail("lookbehind is not supported");
    if (c == 'P' && peek(1) == '=') return fail("backreference is not supported");
    if (c == '<' || (c == 'P' && peek(1) == '<')) {
      pos_ += c == 'P' ? 2 : 1;
      while (is_name_char(peek()))
        ++pos_;
      if (peek() != '>') return fail("invalid group name");
      ++pos_;
      return true;  // a named group matches like a plain one
    }
    return fail("inline flags and other (?...) group modifiers are not supported");
  }

  // After '[': items are single characters, a-b ranges and shorthand classes. '-' is literal
  // first, last, or right after a shorthand ([\d-z]); "[]" is an error and "[^]" any character,
  // as in JavaScript and xgrammar (Python reads a leading ']' as a literal).
  code_set parse_class() {
    ++pos_;  // '['
    bool negated = peek() == '^';
    if (negated) ++pos_;
    code_set set;
    if (peek() == ']' && !negated) return fail("empty character class [] matches nothing");
    while (!failed()) {
      if (at_end()) return fail("missing ']'");
      if (peek() == ']') break;
      code_set lo = parse_class_item();
      if (!is_single(lo) || peek() != '-' || at_end(1) || peek(1) == ']') {
        set.insert(set.end(), lo.begin(), lo.end());
        continue;
      }
      ++pos_;  // '-'
      code_set hi = parse_class_item();
      if (failed()) break;
      if (!is_single(hi)) return fail("a range cannot end with a shorthand class");
      if (hi[0].lo < lo[0].lo) return fail("character range is out of order");
      set.push_back({lo[0].lo, hi[0].lo});
    }
    if (failed()) return {};
    ++pos_;  // ']'
    set = normalized(std::move(set));
    return negated ? complement(set) : set;
  }

  code_set parse_class_item() {
    char32_t c = p_[pos_++];
    return c == '\\' ? parse_escape(true) : one(c);
  }

  // After '\' (pos_ is past it). Escapes xgrammar does not know stand for the character itself,
  // as JavaScript's identity escapes do (\/ \- \q).
  code_set parse_escape(bool in_class) {
    if (at_end()) return fail("escape sequence is not finished");
    char32_t c = p_[pos_++];
    // Single-letter escapes of control characters; \0 is never octal ("\01" is NUL then '1').
    static constexpr std::pair<char32_t, char32_t> controls[] = {
        {'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'f', '\f'},
        {'v', '\v'}, {'a', 0x07}, {'e', 0x1B}, {'0', 0}};
    for (auto [letter, cp] : controls) {
      if (c == letter) return one(cp);
    }
    if (std::u32string_view(U"dDwWsS").find(c) != std::u32string_view::npos) {
      return shorthand_set(c);
    }
    if (c == 'x' || c == 'u' || c == 'U') return one(parse_hex_escape(c));
    if (c == 'c') {  // \cX: the control character X % 32, X a letter
      char32_t x = peek() | 0x20;
      if (x < 'a' || x > 'z') return fail("\\c must be followed by a letter");
      return one(p_[pos_++] % 32);
    }
    if (c == 'p' || c == 'P') return fail("Unicode property escapes are not supported");
    if (in_class && c == 'b') return one(0x08);  // [\b] is backspace
    if (!in_class && (c == 'b' || c == 'B')) return fail("word boundary is not supported");
    if (!in_class && ((c >= '1' && c <= '9') || c == 'k')) {
      return fail("backreference is not supported");
    }
    return one(c);
  }

  // \xHH, \uHHHH, \u{H...} (1 to 6 digits), \UHHHHHHHH. Python's exact digit counts: xgrammar's
  // \x takes every hex digit that follows, reading "\x41B" as U+041B where Python and JavaScript
  // read "AB". Surrogates (\uD83D) are refused: no UTF-8 text holds them.
  char32_t parse_hex_escape(char32_t kind) {
    bool braced = kind == 'u' && peek() == '{';
    if (braced) ++pos_;
    size_t num_digits = kind == 'x' ? 2 : kind == 'U' ? 8 : braced ? 6 : 4;
    char32_t value = 0;
    size_t n = read_hex(num_digits, value);
    bool closed = !braced || (n > 0 && peek() == '}');
    if ((!braced && n != num_digits) || !closed) {
      return fail("invalid \\" + std::string(1, static_cast<char>(kind)) + " escape");
    }
    if (braced) ++pos_;
    if (value > max_code_point) return fail("code point above U+10FFFF");
    if (value >= 0xD800 && value <= 0xDFFF) return fail("UTF-16 surrogates are not characters");
    return value;
  }

  static bool is_name_char(char32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }

  // Reads up to max_digits hex digits into value; returns how many it read.
  size_t read_hex(size_t max_digits, char32_t& value) {
    static constexpr std::u32string_view digits = U"0123456789abcdefABCDEF";
    size_t n = 0;
    for (value = 0; n < max_digits && digits.find(peek()) != digits.npos; ++n) {
      size_t d = digits.find(p_[pos_++]);
      value = value * 16 + static_cast<char32_t>(d < 16 ? d : d - 6);
    }
    return n;
  }

  std::u32string p_;
  size_t pos_ = 0;
  std::optional<std::string> error_;
};

// vLLM's escape_ebnf_string: \\ \" \n \r \t, other C0 controls and DEL as \u00XX, the rest as is.
// For ASCII that is exactly what append_grammar_char writes; non-ASCII bytes are copied.
std::string escape_choice(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x80) {
      append_grammar_char(out, byte, false);
    } else {
      out += ch;  // a byte of a UTF-8 sequence
    }
  }
  return out;
}

}  // namespace

result<std::string> regex_to_grammar(std::string_view pattern) {
  // vLLM refuses NUL before xgrammar sees the pattern; keep its message.
  if (pattern.find('\0') != std::string_view::npos) {
    return troupe::error{"structured_outputs.regex must not contain a NUL character ('\\x00')"};
  }
  std::optional<std::u32string> cps = decode_utf8(pattern);
  if (!cps) return troupe::error{"invalid regex: the pattern is not valid UTF-8"};
  return regex_parser(std::move(*cps)).run();
}

result<std::string> choice_to_grammar(const std::vector<std::string>& choices) {
  if (choices.empty()) return troupe::error{"choice must be a non-empty list of strings"};
  std::string out = "root ::= ";
  for (size_t i = 0; i < choices.size(); ++i) {
    if (!decode_utf8(choices[i])) {
      return troupe::error{"choice " + std::to_string(i) + " is not valid UTF-8"};
    }
    out += (i == 0 ? "\"" : " | \"") + escape_choice(choices[i]) + "\"";
  }
  return out + "\n";
}

}  // namespace troupe::runtime::grammar
