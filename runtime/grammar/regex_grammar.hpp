#pragma once
// Converters from vLLM's `structured_outputs.regex` / `guided_regex` and
// `structured_outputs.choice` / `guided_choice` to grammar text in the GBNF dialect that
// runtime/grammar/grammar.hpp parses (start rule `root`). The semantics follow vLLM with its
// default backend xgrammar (vLLM 0.32, xgrammar 0.2.8), checked by tools/compare_regex_grammar.py.
// Pure functions of their arguments: any thread may call them.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime::grammar {

// Largest count accepted in `{m}`, `{m,}` and `{m,n}`: a bound on the size of what a request can
// make the grammar engine build (xgrammar takes any count that fits in an int).
inline constexpr int max_regex_repetition = 100000;
// Deepest nesting of groups accepted, so that hostile input cannot exhaust the stack.
inline constexpr int max_regex_group_depth = 200;
// Largest grammar text a pattern may produce: rewriting a repetition of something that can match
// the empty string ((a?b?)*) copies parts of it, which nesting could multiply.
inline constexpr size_t max_regex_grammar_bytes = size_t{1} << 22;

// A regular expression in the syntax xgrammar accepts (JavaScript-like, mostly what Python's `re`
// accepts too), matched against the whole output, as grammar text whose start rule is `root`.
// Requires: nothing (any bytes). Returns an error, whose message is meant for a 400 response, for
// a syntax error, a construct no grammar can express, or a pattern that is not UTF-8 or holds NUL.
// The grammar has no left recursion: an unbounded repetition of something that can match the
// empty string ((a*)*) is written as one of its non-empty part ((a+)*), the same language.
//
// Supported, as xgrammar reads it:
//   literals (UTF-8); `.` (any character, newline included, as in xgrammar);
//   escapes \n \t \r \f \v \a \e \0 \b (backspace, only inside [...]), \cX, \xHH, \uHHHH,
//   \u{H..}, \UHHHHHHHH, \d \D \w \W \s \S (ASCII classes: \w is [a-zA-Z0-9_], \s is
//   [\t\n\v\f\r \u00a0]); any other escaped character stands for itself (\. \/ \- \q ...);
//   classes [a-z], [^...], shorthand classes inside them, [^] (any character);
//   groups ( ), (?: ), (?<name> ), (?P<name> ); alternation | with empty branches;
//   * + ? {m} {m,} {m,n}, each optionally followed by the lazy `?` (treated as greedy);
//   ^ and $ anywhere outside a class are ignored: the whole output is always matched.
// Rejected: backreferences (\1 \k<n> (?P=n)), lookarounds, \b \B word boundaries, \p \P
//   properties, inline flags and other (?...) modifiers, an empty class [], a quantifier with
//   nothing to repeat or right after another one (a**, a{2}+), {,n}, m > n, malformed \x \u \U
//   \c escapes, surrogates (\uD83D), reversed or shorthand ranges ([z-a], [a-\d]), unbalanced
//   ( ) and [, counts above max_regex_repetition, nesting deeper than max_regex_group_depth.
// Differences from xgrammar 0.2.8 on purpose (KNOWN_DIFFERENCES in tools/compare_regex_grammar.py):
//   \x takes exactly two hex digits ("\x41B" is "AB"; xgrammar reads U+041B) and a malformed \x,
//   \u or \U is an error (xgrammar often reads a literal 'x', 'u', 'U'); in a class an escaped '^'
//   and a '-' after a shorthand are literal ([\^a], [\w-.]; xgrammar negates the class or makes
//   a range); a raw newline or CR in a class is accepted (xgrammar: error); group names may hold
//   digits and '_', and (?P<name>...) is accepted (xgrammar: error); \p in a class, surrogates,
//   code points past U+10FFFF and the limits above are errors (xgrammar reads them silently).
result<std::string> regex_to_grammar(std::string_view pattern);

// Exactly one of the given strings, as vLLM's choice_as_grammar builds it (same escaping).
// Returns an error for an empty list or a choice that is not UTF-8.
result<std::string> choice_to_grammar(const std::vector<std::string>& choices);

}  // namespace troupe::runtime::grammar
