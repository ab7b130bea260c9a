#pragma once
// Grammars for structured outputs: the text form (a subset of llama.cpp's GBNF, which is also
// what vLLM's xgrammar backend reads as EBNF) and its compiled form, which a matcher
// (runtime/grammar/matcher.hpp) walks one code point at a time.
//
//   root   ::= "{" ws pair ("," ws pair)* "}"     # rules: name ::= alternatives
//   pair   ::= [a-z]+ ws ":" ws digit{1,3}         # literals, classes [^...], ( ), | ,
//   digit  ::= [0-9]                               # postfix * + ? {m} {m,} {m,n}
//   ws     ::= [ \t\n]*
//
// Compiled form: every rule is a list of alternatives; an alternative is a run of elements in
// one flat array, closed by an `end` element. Postfix operators become synthesized rules
// (x* -> R ::= x R | ""; x? -> R ::= x | ""; x{2,4} -> x x R2, R2 ::= x R1 | "", ...), so a
// matcher only ever meets code-point sets and rule references. Left recursion (a rule that can
// reach itself before consuming a code point) is refused at compile time: the matcher expands
// rules top-down and would not terminate.
//
//   elements: | chars#0 | rule 3 | end | chars#1 | end | ...
//               ^ rule 0, alternative 0   ^ rule 0, alternative 1
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime::grammar {

// A set of Unicode code points as sorted, disjoint, non-adjacent closed ranges.
struct code_point_set {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;

  bool contains(uint32_t cp) const;
  // Whether any code point in [lo, hi] is in the set.
  bool intersects(uint32_t lo, uint32_t hi) const;
};

struct element {
  enum class kind : uint8_t { chars, rule, end };
  kind type = kind::end;
  int32_t value = 0;  // chars: index into grammar::sets; rule: rule id
};

class grammar {
 public:
  int32_t root() const { return root_; }
  const element& at(int32_t pos) const { return elements_[static_cast<size_t>(pos)]; }
  // Positions of the first element of each alternative of `rule`.
  const std::vector<int32_t>& alternatives(int32_t rule) const {
    return rules_[static_cast<size_t>(rule)];
  }
  const code_point_set& set(int32_t index) const { return sets_[static_cast<size_t>(index)]; }
  int32_t num_rules() const { return static_cast<int32_t>(rules_.size()); }
  int32_t num_elements() const { return static_cast<int32_t>(elements_.size()); }

 private:
  friend class grammar_builder;
  std::vector<element> elements_;
  std::vector<std::vector<int32_t>> rules_;
  std::vector<code_point_set> sets_;
  int32_t root_ = 0;
};

// Most elements a grammar may compile to: bounds {m,n} are unrolled, so a schema asking for
// strings of up to a million characters is refused here rather than allocated.
inline constexpr int32_t max_grammar_elements = 1 << 20;

// Parses and compiles grammar text (the dialect above; start rule `root`). Escapes in literals
// and classes: \n \r \t \\ \" \' \[ \] \- \^ \/ \xHH \uHHHH \UHHHHHHHH; other characters stand
// for themselves (UTF-8). Errors name the line: syntax, an undefined or missing `root` rule, a
// rule used but not defined, left recursion, bounds out of order or too large.
result<std::shared_ptr<const grammar>> compile_grammar(std::string_view text);

// Whether `text` (UTF-8) is a complete sentence of the grammar. An error when `grammar_text`
// does not compile or `text` is not valid UTF-8.
result<bool> accepts(std::string_view grammar_text, std::string_view text);
// Whether `text` (UTF-8) begins some sentence of the grammar (a sentence itself included).
result<bool> accepts_prefix(std::string_view grammar_text, std::string_view text);

// `text` with every rule name, defined or used, prefixed by `prefix` (itself made of name
// characters), so that grammars can be joined into one without their rules meeting; literals,
// classes, bounds and comments stay as they are. Grammar text that does not parse comes back
// prefixed where it could be read; compiling the result reports its errors.
std::string prefix_rule_names(std::string_view text, std::string_view prefix);

}  // namespace troupe::runtime::grammar
