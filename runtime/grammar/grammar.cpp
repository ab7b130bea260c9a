#include "runtime/grammar/grammar.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <unordered_map>

namespace troupe::runtime::grammar {

bool code_point_set::contains(uint32_t cp) const {
  return intersects(cp, cp);
}

bool code_point_set::intersects(uint32_t lo, uint32_t hi) const {
  // The first range ending at or after lo decides.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), lo,
                             [](const auto& r, uint32_t v) { return r.second < v; });
  return it != ranges.end() && it->first <= hi;
}

namespace {

constexpr uint32_t max_code_point = 0x10FFFF;

using sequence = std::vector<element>;

code_point_set normalized(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negate) {
  std::sort(ranges.begin(), ranges.end());
  code_point_set set;
  for (auto r : ranges) {
    if (!set.ranges.empty() && r.first <= set.ranges.back().second + 1) {
      set.ranges.back().second = std::max(set.ranges.back().second, r.second);
    } else {
      set.ranges.push_back(r);
    }
  }
  if (!negate) return set;
  code_point_set complement;
  uint32_t next = 0;
  for (auto [lo, hi] : set.ranges) {
    if (lo > next) complement.ranges.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= max_code_point) complement.ranges.emplace_back(next, max_code_point);
  return complement;
}

}  // namespace

// Recursive descent over the text, building rules as alternatives of element sequences; then
// the left-recursion check and the flat layout.
class grammar_builder {
 public:
  explicit grammar_builder(std::string_view text) : text_(text) {}

  result<std::shared_ptr<const grammar>> build() {
    skip_space();
    while (pos_ < text_.size()) {
      if (!parse_rule()) return error{"grammar, line " + std::to_string(line_) + ": " + error_};
      skip_space();
    }
    if (auto st = check_rules(); !st) return st.err();
    return flatten();
  }

 private:
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  static bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  }

  // Whitespace, newlines and # comments (a rule may span lines: the next rule's "name ::="
  // ends it).
  void skip_space() {
    while (!at_end()) {
      const char c = peek();
      if (c == '#') {
        while (!at_end() && peek() != '\n')
          ++pos_;
      } else if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else {
        return;
      }
    }
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(peek()))
      ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  // Whether a rule definition ("name ::=") starts here.
  bool at_definition() const {
    size_t p = pos_;
    if (p >= text_.size() || !is_name_char(text_[p])) return false;
    while (p < text_.size() && is_name_char(text_[p]))
      ++p;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t'))
      ++p;
    return text_.substr(p, 3) == "::=";
  }

  int32_t rule_id(const std::string& name) {
    auto [it, inserted] = rule_ids_.emplace(name, static_cast<int32_t>(rules_.size()));
    if (inserted) {
      rules_.emplace_back();
      names_.push_back(name);
      defined_.push_back(false);
    }
    return it->second;
  }

  int32_t new_rule(std::vector<sequence> alternatives) {
    const auto id = static_cast<int32_t>(rules_.size());
    rules_.push_back(std::move(alternatives));
    names_.push_back(names_[static_cast<size_t>(current_)] + "_" + std::to_string(id));
    defined_.push_back(true);
    return id;
  }

  bool parse_rule() {
    if (!at_definition()) return fail("expected a rule (name ::= ...)");
    const std::string name = parse_name();
    skip_space();
    pos_ += 3;  // ::=
    current_ = rule_id(name);
    if (defined_[static_cast<size_t>(current_)]) return fail("rule '" + name + "' defined twice");
    defined_[static_cast<size_t>(current_)] = true;
    std::vector<sequence> alternatives;
    if (!parse_alternatives(alternatives, false)) return false;
    rules_[static_cast<size_t>(current_)] = std::move(alternatives);
    return true;
  }

  bool parse_alternatives(std::vector<sequence>& out, bool nested) {
    for (;;) {
      sequence seq;
      if (!parse_sequence(seq, nested)) return false;
      out.push_back(std::move(seq));
      skip_space();
      if (peek() != '|') return true;
      ++pos_;
    }
  }

  bool parse_sequence(sequence& seq, bool nested) {
    for (;;) {
      skip_space();
      if (at_end() || peek() == '|' || (nested && peek() == ')')) return true;
      if (!nested && at_definition()) return true;
      if (peek() == ')') return fail("unbalanced ')'");
      sequence atom;
      if (!parse_atom(atom)) return false;
      if (!parse_postfix(atom, seq)) return false;
      if (total_elements_ > max_grammar_elements) return fail("grammar too large");
    }
  }

  bool parse_atom(sequence& atom) {
    const char c = peek();
    if (c == '"' || c == '\'') return parse_literal(atom);
    if (c == '[') return parse_class(atom);
    if (c == '.') {
      ++pos_;
      atom.push_back(chars(code_point_set{{{0, max_code_point}}}));
      return true;
    }
    if (c == '(') {
      ++pos_;
      std::vector<sequence> alternatives;
      if (!parse_alternatives(alternatives, true)) return false;
      if (peek() != ')') return fail("expected ')'");
      ++pos_;
      // A group of one sequence is inlined; postfix operators wrap the atom anyway.
      if (alternatives.size() == 1) {
        atom = std::move(alternatives.front());
      } else {
        atom.push_back({element::kind::rule, new_rule(std::move(alternatives))});
      }
      return true;
    }
    if (is_name_char(c)) {
      atom.push_back({element::kind::rule, rule_id(parse_name())});
      return true;
    }
    return fail(std::string("unexpected character '") + c + "'");
  }

  element chars(code_point_set set) {
    sets_.push_back(std::move(set));
    return {element::kind::chars, static_cast<int32_t>(sets_.size() - 1)};
  }

  // One code point of a literal or class, with escapes; false at the end of the text or on a
  // bad escape or UTF-8 sequence.
  bool parse_char(uint32_t& cp) {
    if (at_end()) return fail("unterminated literal or class");
    const auto c = static_cast<unsigned char>(peek());
    if (c == '\n') return fail("newline inside a literal or class");
    if (c != '\\') return parse_utf8(cp);
    pos_ += 2;
    switch (text_[pos_ - 1]) {
      case 'n':
        cp = '\n';
        return true;
      case 'r':
        cp = '\r';
        return true;
      case 't':
        cp = '\t';
        return true;
      case 'f':
        cp = '\f';
        return true;
      case 'v':
        cp = '\v';
        return true;
      case '0':
        cp = 0;
        return true;
      case 'x':
        return parse_hex(2, cp);
      case 'u':
        return parse_hex(4, cp);
      case 'U':
        return parse_hex(8, cp);
      case '\\':
      case '"':
      case '\'':
      case '[':
      case ']':
      case '-':
      case '^':
      case '/':
        cp = static_cast<unsigned char>(text_[pos_ - 1]);
        return true;
      default:
        return fail(std::string("unknown escape '\\") + text_[pos_ - 1] + "'");
    }
  }

  bool parse_hex(int digits, uint32_t& cp) {
    cp = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      const char h = peek();
      if (!std::isxdigit(static_cast<unsigned char>(h))) return fail("bad hex escape");
      cp = cp * 16 +
           static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                     ? h - '0'
                                     : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
    }
    return cp <= max_code_point || fail("escape past U+10FFFF");
  }

  bool parse_utf8(uint32_t& cp) {
    const auto lead = static_cast<unsigned char>(peek());
    const int extra = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
    if (extra < 0 || pos_ + static_cast<size_t>(extra) >= text_.size())
      return fail("invalid UTF-8");
    cp = extra == 0 ? lead : lead & (0x3Fu >> extra);
    for (int i = 1; i <= extra; ++i) {
      const auto b = static_cast<unsigned char>(text_[pos_ + static_cast<size_t>(i)]);
      if ((b & 0xC0) != 0x80) return fail("invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    pos_ += static_cast<size_t>(extra) + 1;
    return true;
  }

  bool parse_literal(sequence& atom) {
    const char quote = peek();
    ++pos_;
    while (peek() != quote) {
      uint32_t cp = 0;
      if (!parse_char(cp)) return false;
      atom.push_back(chars(code_point_set{{{cp, cp}}}));
    }
    ++pos_;
    return true;
  }

  bool parse_class(sequence& atom) {
    ++pos_;
    const bool negate = peek() == '^';
    if (negate) ++pos_;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    while (peek() != ']') {
      uint32_t lo = 0;
      if (!parse_char(lo)) return false;
      uint32_t hi = lo;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        if (!parse_char(hi)) return false;
        if (hi < lo) return fail("class range out of order");
      }
      ranges.emplace_back(lo, hi);
    }
    ++pos_;
    atom.push_back(chars(normalized(std::move(ranges), negate)));
    return true;
  }

  bool parse_bound(int64_t& value) {
    skip_space();
    if (!std::isdigit(static_cast<unsigned char>(peek()))) return fail("expected a number");
    value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      value = value * 10 + (peek() - '0');
      if (value > max_grammar_elements) return fail("repetition bound too large");
      ++pos_;
    }
    skip_space();
    return true;
  }

  // Appends `atom` with its postfix operator (if any) to `seq`.
  bool parse_postfix(sequence& atom, sequence& seq) {
    const char op = peek();
    int64_t min = 1;
    int64_t max = 1;  // -1 = unbounded
    if (op == '*' || op == '+' || op == '?') {
      ++pos_;
      min = op == '+' ? 1 : 0;
      max = op == '?' ? 1 : -1;
    } else if (op == '{') {
      ++pos_;
      if (!parse_bound(min)) return false;
      max = min;
      if (peek() == ',') {
        ++pos_;
        skip_space();
        max = -1;
        if (peek() != '}' && !parse_bound(max)) return false;
        if (max != -1 && max < min) return fail("repetition bounds out of order");
      }
      if (peek() != '}') return fail("expected '}'");
      ++pos_;
    }
    return repeat(atom, min, max, seq);
  }

  bool repeat(const sequence& atom, int64_t min, int64_t max, sequence& seq) {
    const int64_t copies = min + (max < 0 ? 1 : max - min);
    total_elements_ += static_cast<int64_t>(atom.size() + 2) * copies;
    if (total_elements_ > max_grammar_elements) return fail("grammar too large");
    for (int64_t i = 0; i < min; ++i)
      seq.insert(seq.end(), atom.begin(), atom.end());
    if (max < 0) {  // R ::= atom R | ""
      const int32_t r = new_rule({});
      sequence again = atom;
      again.push_back({element::kind::rule, r});
      rules_[static_cast<size_t>(r)] = {std::move(again), {}};
      seq.push_back({element::kind::rule, r});
    } else if (max > min) {  // R1 ::= atom | "";  Rk ::= atom R(k-1) | ""
      int32_t inner = -1;
      for (int64_t k = 0; k < max - min; ++k) {
        sequence more = atom;
        if (inner >= 0) more.push_back({element::kind::rule, inner});
        inner = new_rule({std::move(more), {}});
      }
      seq.push_back({element::kind::rule, inner});
    }
    return true;
  }

  status check_rules() const {
    const auto root = rule_ids_.find("root");
    if (root == rule_ids_.end() || !defined_[static_cast<size_t>(root->second)])
      return error{"grammar: no 'root' rule"};
    for (size_t r = 0; r < rules_.size(); ++r)
      if (!defined_[r]) return error{"grammar: rule '" + names_[r] + "' is used but not defined"};
    return check_left_recursion();
  }

  // A rule reaching itself through rules it can start with, before any code point is consumed.
  status check_left_recursion() const {
    std::vector<char> nullable(rules_.size(), 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < rules_.size(); ++r) {
        if (nullable[r]) continue;
        for (const auto& alt : rules_[r]) {
          if (std::all_of(alt.begin(), alt.end(), [&](const element& e) {
                return e.type == element::kind::rule && nullable[static_cast<size_t>(e.value)];
              })) {
            nullable[r] = 1;
            changed = true;
            break;
          }
        }
      }
    }
    std::vector<char> mark(rules_.size(), 0);  // 1 = on the path, 2 = done
    std::string culprit;
    std::function<bool(size_t)> visit = [&](size_t r) {
      if (mark[r] == 1) {
        culprit = names_[r];
        return false;
      }
      if (mark[r] == 2) return true;
      mark[r] = 1;
      for (const auto& alt : rules_[r]) {
        for (const auto& e : alt) {
          if (e.type != element::kind::rule) break;
          if (!visit(static_cast<size_t>(e.value))) return false;
          if (!nullable[static_cast<size_t>(e.value)]) break;
        }
      }
      mark[r] = 2;
      return true;
    };
    for (size_t r = 0; r < rules_.size(); ++r)
      if (!visit(r)) return error{"grammar: rule '" + culprit + "' is left-recursive"};
    return ok_status();
  }

  std::shared_ptr<const grammar> flatten() {
    auto g = std::make_shared<grammar>();
    g->root_ = rule_ids_.at("root");
    g->sets_ = std::move(sets_);
    g->rules_.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const auto& alt : rules_[r]) {
        g->rules_[r].push_back(static_cast<int32_t>(g->elements_.size()));
        g->elements_.insert(g->elements_.end(), alt.begin(), alt.end());
        g->elements_.push_back({element::kind::end, 0});
      }
    }
    return g;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  std::string error_;
  int32_t current_ = 0;  // the rule being defined (names the synthesized ones)
  int64_t total_elements_ = 0;
  std::unordered_map<std::string, int32_t> rule_ids_;
  std::vector<std::vector<sequence>> rules_;
  std::vector<std::string> names_;
  std::vector<char> defined_;
  std::vector<code_point_set> sets_;
};

result<std::shared_ptr<const grammar>> compile_grammar(std::string_view text) {
  return grammar_builder(text).build();
}

}  // namespace troupe::runtime::grammar
