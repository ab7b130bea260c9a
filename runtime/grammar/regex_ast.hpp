#pragma once
// The parsed form of a regular expression and how it is written as grammar text (the GBNF dialect
// of runtime/grammar/grammar.hpp). Internal to regex_grammar.cpp, which parses into it.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/grammar/regex_grammar.hpp"

namespace troupe::runtime::grammar::regex_ast {

inline constexpr char32_t max_code_point = 0x10FFFF;

struct code_range {
  char32_t lo;
  char32_t hi;
};
using code_set = std::vector<code_range>;  // sorted, disjoint and non-adjacent once normalized

inline code_set normalized(code_set set) {
  std::sort(set.begin(), set.end(), [](code_range a, code_range b) { return a.lo < b.lo; });
  code_set out;
  for (code_range r : set) {
    if (!out.empty() && r.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

inline code_set complement(const code_set& set) {  // set must be normalized
  code_set out;
  char32_t next = 0;
  for (code_range r : set) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= max_code_point) out.push_back({next, max_code_point});
  return out;
}

inline bool is_single(const code_set& set) {
  return set.size() == 1 && set[0].lo == set[0].hi;
}

inline void append_utf8(std::string& out, char32_t cp) {
  int len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  static constexpr char32_t lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  out += static_cast<char>(lead[len] | (cp >> (6 * (len - 1))));
  for (int k = len - 2; k >= 0; --k) {
    out += static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3F));
  }
}

// One code point inside "..." or [...]. The grammar dialect has no \U escape, so code points
// past U+FFFF go in as raw UTF-8; every other non-ASCII or control one as \uHHHH, which keeps the
// text ASCII where it can be.
inline void append_grammar_char(std::string& out, char32_t cp, bool in_class) {
  static constexpr std::pair<char32_t, const char*> named[] = {
      {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}, {'\\', "\\\\"}, {'"', "\\\""}};
  for (auto [c, escaped] : named) {
    if (cp == c) return void(out += escaped);
  }
  if (in_class && (cp == '[' || cp == ']' || cp == '-' || cp == '^')) {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (cp >= 0x20 && cp < 0x7F) {
    out += static_cast<char>(cp);
  } else if (cp <= 0xFFFF) {
    static constexpr char digits[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4)
      out += digits[(cp >> shift) & 0xF];
  } else {
    append_utf8(out, cp);
  }
}

inline void append_literal(std::string& out, std::u32string_view cps) {
  out += '"';
  for (char32_t cp : cps)
    append_grammar_char(out, cp, false);
  out += '"';
}

inline void append_ranges(std::string& out, const code_set& set, bool negated) {
  out += negated ? "[^" : "[";
  for (code_range r : set) {
    append_grammar_char(out, r.lo, true);
    if (r.hi > r.lo + 1) out += '-';
    if (r.hi > r.lo) append_grammar_char(out, r.hi, true);
  }
  out += ']';
}

// A set that reaches U+10FFFF is written as the negation of its complement ([^0-9] rather than a
// list of ranges); the full set as [\u0000-U+10FFFF] and the empty one (e.g. [^\s\S]) as its
// negation, which is still valid text that matches nothing.
inline void append_set(std::string& out, const code_set& set) {
  const code_set all = {{0, max_code_point}};
  if (is_single(set)) return append_literal(out, std::u32string(1, set[0].lo));
  if (set.empty()) return append_ranges(out, all, true);
  if (set.back().hi != max_code_point) return append_ranges(out, set, false);
  code_set rest = complement(set);
  rest.empty() ? append_ranges(out, all, false) : append_ranges(out, rest, true);
}

// The suffix for a repetition; max == -1 is unbounded.
inline std::string quantifier_suffix(int min, int max) {
  if (min == 1 && max == 1) return "";
  if (max == -1 && min <= 1) return min == 0 ? "*" : "+";
  if (min == 0 && max == 1) return "?";
  std::string out = "{" + std::to_string(min);
  if (max != min) out += "," + (max == -1 ? "" : std::to_string(max));
  return out + "}";
}

// The parsed pattern. A group is just its contents; "" is a seq without kids.
struct node {
  enum class kind : uint8_t { chars, seq, alt, repeat };
  kind type = kind::seq;
  code_set set;            // chars
  std::vector<node> kids;  // seq, alt; repeat: the one repeated node
  int min = 1;             // repeat
  int max = 1;             // repeat; -1 is unbounded
  bool nullable = true;    // matches the empty string
  bool non_empty = false;  // may match a non-empty string

  bool is_char() const { return type == kind::chars && is_single(set); }

  static node chars(code_set set) { return {kind::chars, std::move(set), {}, 1, 1, false, true}; }
  static node list(kind type, std::vector<node> kids) {
    auto any = [&](bool node::*flag) {
      return std::any_of(kids.begin(), kids.end(), [&](const node& k) { return k.*flag; });
    };
    bool all_nullable =
        std::all_of(kids.begin(), kids.end(), [](const node& k) { return k.nullable; });
    bool nullable = type == kind::seq ? all_nullable : any(&node::nullable);
    bool non_empty = any(&node::non_empty);  // before kids is moved from
    return {type, {}, std::move(kids), 1, 1, nullable, non_empty};
  }
  static node repeat(node kid, int min, int max) {
    bool nullable = min == 0 || kid.nullable;
    bool non_empty = max != 0 && kid.non_empty;
    return {kind::repeat, {}, {std::move(kid)}, min, max, nullable, non_empty};
  }
};

// Writes grammar text for a node, into a bounded buffer. Where a node goes decides its brackets:
// `branch` (a whole alternative) needs none, `item` (in a sequence) brackets alternations, `atom`
// (under a postfix operator) brackets anything but a class or one string literal.
//
// An unbounded repetition of something that matches the empty string, (a*)* or (a|)+, would
// become a rule that reaches itself before reading a character, which the grammar engine refuses
// as left recursion. It is written as the repetition of the non-empty part instead, the same
// language: (a*)* == (a+)*, (a|b?)+ == (a|b)*.
class renderer {
 public:
  enum class place : uint8_t { branch, item, atom };

  std::string out;
  bool too_large() const { return out.size() > max_regex_grammar_bytes; }

  void write(const node& n, place where) {
    if (too_large()) return;
    if (n.type == node::kind::chars) return append_set(out, n.set);
    if (n.type == node::kind::seq) return write_seq(n, where);
    if (n.type == node::kind::alt) return write_alt(n, where, false);
    const node& kid = n.kids[0];
    bracketed(where == place::atom, [&] {
      if (n.max != -1 || !kid.nullable) {
        write(kid, place::atom);
        out += quantifier_suffix(n.min, n.max);
      } else if (kid.non_empty) {  // see above: x* is x'* with x' the non-empty part of x
        write_non_empty(kid);
        out += "*";
      } else {
        out += "\"\"";
      }
    });
  }

 private:
  template <class F>
  void bracketed(bool brackets, F body) {
    if (brackets) out += '(';
    body();
    if (brackets) out += ')';
  }

  // Runs of single characters become one string literal ("ab", not "a" "b").
  void write_seq(const node& n, place where) {
    const std::vector<node>& kids = n.kids;
    if (kids.size() == 1) return write(kids[0], where);
    bool one_literal = std::all_of(kids.begin(), kids.end(), [](auto& k) { return k.is_char(); });
    bracketed(where == place::atom && !one_literal, [&] {
      std::u32string run;
      bool first = true;
      auto separate = [&] { out += std::exchange(first, false) ? "" : " "; };
      for (size_t i = 0; i <= kids.size(); ++i) {
        if (i < kids.size() && kids[i].is_char()) {
          run += kids[i].set[0].lo;
          continue;
        }
        if (!run.empty() || (i == kids.size() && first)) {  // an empty sequence is ""
          separate();
          append_literal(out, run);
          run.clear();
        }
        if (i == kids.size()) break;
        separate();
        write(kids[i], place::item);
      }
    });
  }

  // non_empty_only: only the non-empty matches of each alternative.
  void write_alt(const node& n, place where, bool non_empty_only) {
    bracketed(where != place::branch || non_empty_only, [&] {
      bool first = true;
      for (const node& kid : n.kids) {
        if (non_empty_only && !kid.non_empty) continue;
        out += first ? "" : " | ";
        first = false;
        non_empty_only ? write_non_empty(kid) : write(kid, place::branch);
      }
    });
  }

  // The non-empty matches of n (which must have some), bracketed as an atom.
  void write_non_empty(const node& n) {
    if (too_large()) return;
    if (!n.nullable) return write(n, place::atom);
    if (n.type == node::kind::alt) return write_alt(n, place::atom, true);
    bool single = n.type == node::kind::seq ? n.kids.size() == 1 : n.max == 1;  // x? -> x'
    if (single) return write_non_empty(n.kids[0]);
    bracketed(true, [&] {
      if (n.type == node::kind::repeat) {  // x{m,n}, x nullable or m == 0, is x'{0,n}
        write_non_empty(n.kids[0]);
        return void(out += quantifier_suffix(1, n.max));
      }
      // A nullable sequence: all its parts are nullable, and a non-empty match is the non-empty
      // match of part i, the parts before it matching nothing.
      bool first = true;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (!n.kids[i].non_empty) continue;
        out += first ? "" : " | ";
        first = false;
        write_non_empty(n.kids[i]);
        for (size_t j = i + 1; j < n.kids.size(); ++j) {
          out += ' ';
          write(n.kids[j], place::item);
        }
      }
    });
  }
};

}  // namespace troupe::runtime::grammar::regex_ast
