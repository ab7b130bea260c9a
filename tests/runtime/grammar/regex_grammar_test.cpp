#include "runtime/grammar/regex_grammar.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/grammar/grammar.hpp"

// The verdicts in these tables are xgrammar 0.2.8's (what vLLM 0.32 enforces for
// structured_outputs.regex), printed by `tools/compare_regex_grammar.py --cases`, except in
// deliberate_differences_from_xgrammar. Each text goes through the grammar engine, so the tables
// check the converter and the engine's reading of its output together.

namespace troupe::runtime::grammar {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

struct regex_case {
  std::string_view pattern;
  std::vector<std::string_view> matches;      // whole texts the grammar accepts
  std::vector<std::string_view> non_matches;  // and ones it rejects
};

void expect_cases(const std::vector<regex_case>& cases) {
  for (const regex_case& c : cases) {
    SCOPED_TRACE("pattern: \"" + std::string(c.pattern) + "\"");
    result<std::string> grammar_text = regex_to_grammar(c.pattern);
    ASSERT_TRUE(grammar_text.ok()) << grammar_text.message();
    for (bool want : {true, false}) {
      for (std::string_view text : want ? c.matches : c.non_matches) {
        result<bool> got = accepts(*grammar_text, text);
        ASSERT_TRUE(got.ok()) << got.message() << "\ngrammar: " << *grammar_text;
        EXPECT_EQ(*got, want) << "text: \"" << text << "\"\ngrammar: " << *grammar_text;
      }
    }
  }
}

TEST(regex_to_grammar, literals_and_dot) {
  expect_cases({
      {"", {""}, {"a"}},
      {"abc", {"abc"}, {"ab", "abcd", "ABC"}},
      {"héllo wörld", {"héllo wörld"}, {"hello world"}},
      {"😀+", {"😀", "😀😀"}, {"", "😁"}},
      {"say \"hi\"", {"say \"hi\""}, {"say hi"}},
      {"a\tb\nc", {"a\tb\nc"}, {"a b c"}},
      {"x}", {"x}"}, {}},
      {"]", {"]"}, {}},
      // xgrammar's '.' is any character, newline included.
      {"a.c", {"abc", "a\nc", "a😀c", "a\0c"sv}, {"ac", "abbc"}},
      {".*", {"", "anything\n at all", "😀"}, {}},
  });
}

TEST(regex_to_grammar, alternation_and_groups) {
  expect_cases({
      {"a|b|cd", {"a", "b", "cd"}, {"c", "ab", ""}},
      {"ab|cd", {"ab", "cd"}, {"abcd", "ad"}},
      {"a|", {"a", ""}, {"aa"}},
      {"|a", {"a", ""}, {}},
      {"a||b", {"a", "b", ""}, {}},
      {"(a|b)c", {"ac", "bc"}, {"c", "abc"}},
      {"(?:ab)+", {"ab", "abab"}, {"", "aba"}},
      {"(?<name>x)y", {"xy"}, {"y"}},
      {"()", {""}, {}},
      {"(|)", {""}, {"a"}},
      {"(?:)", {""}, {}},
      {"(a|)", {"a", ""}, {}},
      {"a()b", {"ab"}, {}},
      {"((a)|b)*", {"", "a", "ab", "bab"}, {"c"}},
      {"(a(b(c)?)*)+", {"a", "abc", "abbc", "aabc"}, {"ac", ""}},
      {"(a|ab)(c|bcd)(d*)", {"abcd", "acd", "abcdd"}, {}},
  });
}

TEST(regex_to_grammar, quantifiers) {
  expect_cases({
      {"a*", {"", "a", "aaaa"}, {"b"}},
      {"a+", {"a", "aaa"}, {""}},
      {"a?", {"", "a"}, {"aa"}},
      {"ab*c", {"ac", "abc", "abbbc"}, {"abac"}},
      {"ab+c?", {"ab", "abb", "abbc"}, {"ac"}},
      {"a{3}", {"aaa"}, {"aa", "aaaa"}},
      {"a{2,}", {"aa", "aaaaaa"}, {"a"}},
      {"a{2,4}", {"aa", "aaa", "aaaa"}, {"a", "aaaaa"}},
      {"a{0}b", {"b"}, {"ab"}},
      {"(ab){0}c", {"c"}, {"abc"}},
      {"a{0,1}", {"", "a"}, {"aa"}},
      {"a{1}", {"a"}, {""}},
      {"a{1,1}b", {"ab"}, {}},
      {"a{02}", {"aa"}, {"a"}},
      {"(ab){2}", {"abab"}, {"ab", "ababab"}},
      {"(ab){2,3}", {"abab", "ababab"}, {"ab"}},
      {"[ab]{1,3}", {"a", "bab"}, {"abab", ""}},
      {"[a]*", {"", "aaa"}, {}},
      // Lazy quantifiers match the same set of whole outputs.
      {"a*?b", {"b", "aab"}, {}},
      {"a+?", {"a", "aa"}, {""}},
      {"a??", {"", "a"}, {}},
      {"a{2,3}?", {"aa", "aaa"}, {"a"}},
      {"a{2,}?", {"aa", "aaaaa"}, {}},
      {"a{2}?", {"aa"}, {"a"}},
  });
}

// The grammar engine refuses a rule that reaches itself before reading a character, which an
// unbounded repetition of something that matches "" would be; these are rewritten.
TEST(regex_to_grammar, repetitions_of_what_matches_the_empty_string) {
  expect_cases({
      {"(a*)*", {"", "aaa"}, {"b"}},
      {"(a|)+", {"", "a", "aa"}, {}},
      {"(a?b?)*", {"", "ab", "ba", "abba"}, {"c"}},
      {"(a?b?){2,}", {"", "a", "abab"}, {}},
      {"((a?)*)*", {"", "aaa"}, {}},
      {"(|a)*b", {"b", "aab"}, {""}},
      {"(a*|b)+", {"", "aab"}, {"c"}},
      {"(\\s*\\w*,?)*", {"", "a, b,c", " ,"}, {"a;"}},
      {"(a?(a?b?)*)*", {"", "ab", "bab"}, {"c"}},
      {"(a?){2,3}", {"", "a", "aaa"}, {"aaaa"}},
      {"(){2}", {""}, {"a"}},
      {"()*", {""}, {}},
      {"(a{0})+", {""}, {"a"}},
  });
}

TEST(regex_to_grammar, long_repetitions) {
  std::string pattern_text = "a{2,1000}";
  result<std::string> grammar_text = regex_to_grammar(pattern_text);
  ASSERT_TRUE(grammar_text.ok()) << grammar_text.message();
  for (size_t n : {1, 2, 999, 1000, 1001}) {
    result<bool> got = accepts(*grammar_text, std::string(n, 'a'));
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ(*got, n >= 2 && n <= 1000) << n;
  }
}

TEST(regex_to_grammar, anchors_are_ignored) {
  expect_cases({
      {"^abc$", {"abc"}, {"^abc$"}},
      {"^^a$$", {"a"}, {}},
      {"a$b", {"ab"}, {"a$b"}},  // xgrammar drops anchors anywhere, as we do
      {"a^b", {"ab"}, {}},
      {"a^*", {"", "aaa"}, {}},
      {"(^a|b$)", {"a", "b"}, {}},
  });
}

TEST(regex_to_grammar, character_classes) {
  expect_cases({
      {"[abc]", {"a", "c"}, {"d", ""}},
      {"[a-z]+", {"hello"}, {"Hello", ""}},
      {"[a-zA-Z0-9_]", {"a", "Z", "5", "_"}, {"-"}},
      {"[^abc]", {"d", "\n", "😀"}, {"a"}},
      {"[^a-z]+", {"ABC"}, {"aB"}},
      {"[a-a]", {"a"}, {"b"}},
      {"[é-ë]", {"é", "ê", "ë"}, {"e"}},
      {"[😀-😂]", {"😀", "😁", "😂"}, {"😃"}},
      // '-' is literal first, last, after a range or a shorthand, or escaped.
      {"[-a]", {"-", "a"}, {"b"}},
      {"[a-]", {"-", "a"}, {}},
      {"[-]", {"-"}, {}},
      {"[^-]", {"a"}, {"-"}},
      {"[!--]", {"!", "-", ","}, {"."}},
      {"[--z]", {"-", "a", "z"}, {","}},
      {"[a-z-0]", {"-", "0", "m"}, {"1"}},
      {"[\\x41-\\x43-\\x45]", {"A", "C", "-", "E"}, {"D"}},
      {"[\\d-z]", {"5", "-", "z"}, {"a"}},
      {"[\\W-~]", {"-", "~", "!"}, {"a"}},
      {"[a\\-z]", {"-", "a", "z"}, {"m"}},
      {"[\\-a]", {"-", "a"}, {}},
      {"[!-\\-]", {"!", "-"}, {"."}},
      {"[\\--/]", {"-", ".", "/"}, {","}},
      // Metacharacters are literal inside a class.
      {"[.]", {"."}, {"a"}},
      {"[*+?|()$^{}]+", {"*+?|()", "$^{}"}, {"a"}},
      {"[a^]", {"a", "^"}, {}},
      {"[^^]", {"a"}, {"^"}},
      {"[[]", {"["}, {}},
      {"[a[b]", {"a", "[", "b"}, {}},
      {"[[:alpha:]]", {"a]", ":]", "[]"}, {"a"}},
      {"[\"]", {"\""}, {}},
      {"[\\\\]", {"\\"}, {}},
      {"[\\]]", {"]"}, {}},
      {"[\\]-a]", {"]", "^", "a"}, {"b"}},
      {"[\\[]", {"["}, {}},
      {"[\\.]", {"."}, {"a"}},
      // "[^]" is any character, as in JavaScript; "[^]]" is then any character and ']'.
      {"[^]", {"a", "\n"}, {""}},
      {"[^]]", {"a]", "]]"}, {"]", "a"}},
  });
}

TEST(regex_to_grammar, escapes_inside_classes) {
  expect_cases({
      {"[\\n-\\r]", {"\n", "\r", "\x0b"}, {" "}},
      {"[\\x41-\\x43]", {"A", "B", "C"}, {"D"}},
      {"[\\u0041-\\u0043]", {"A", "C"}, {"D"}},
      {"[\\u{41}-\\u{43}]", {"A"}, {"D"}},
      {"[\\b]", {"\x08"}, {"b"}},  // backspace, not a word boundary
      {"[\\B]", {"B"}, {}},
      {"[\\1]", {"1"}, {"\x01"}},
      {"[\\0]", {"\x00"sv}, {"0"}},
      {"[\\cA]", {"\x01"}, {"A"}},
  });
}

TEST(regex_to_grammar, shorthand_classes) {
  expect_cases({
      {"\\d+", {"0", "123"}, {"12a", ""}},
      {"\\D", {"a"}, {"1"}},
      // ASCII only, as in xgrammar; \s lacks the Unicode spaces Python's \s has.
      {"\\w+", {"hello_World1"}, {"é", "a-b"}},
      {"\\W", {"-", " "}, {"a"}},
      {"\\s", {" ", "\t", "\n", "\r", "\x0c", "\x0b", "\u00a0"}, {"\u2003", "\u3000", "\x1c"}},
      {"\\S", {"a", "[", "\u2003"}, {" ", "\u00a0"}},
      {"[\\d]", {"5"}, {"a"}},
      {"[\\D]", {"a", "\n"}, {"5"}},
      {"[\\w]", {"a", "_"}, {"-"}},
      {"[\\W]", {"-", "é"}, {"a"}},
      {"[\\s]", {" ", "\t", "\u00a0"}, {"a"}},
      {"[\\S]", {"a", "\u0085"}, {" ", "\u00a0"}},
      {"[\\w.-]+", {"a.b-c"}, {"a b"}},
      {"[\\s\\S]*", {"", "a b\nc"}, {}},
      {"[^\\S]", {" ", "\n"}, {"a"}},
      {"[^\\W]", {"a"}, {"-"}},
      // Classes that match nothing are valid (the branch can never be taken).
      {"[^\\s\\S]", {}, {"a", " "}},
      {"[^\\d\\D]", {}, {"a", "1"}},
      {"a|[^\\s\\S]", {"a"}, {"b"}},
  });
}

TEST(regex_to_grammar, escapes) {
  expect_cases({
      {"\\n\\t\\r\\f\\v\\a\\e", {"\n\t\r\x0c\x0b\x07\x1b"}, {}},
      {"\\0", {"\x00"sv}, {"0", ""}},
      {"\\01", {"\0001"sv}, {"\x01"}},  // never octal: NUL, then '1' ("\000" is C++'s NUL)
      {"\\x41\\x7e", {"A~"}, {}},
      {"\\x00", {"\x00"sv}, {}},
      {"\\u0041\\u00e9", {"Aé"}, {}},
      {"\\u0041B", {"AB"}, {}},
      {"\\u{1F600}", {"😀"}, {}},
      {"\\u{41}", {"A"}, {}},
      {"\\U0001F600", {"😀"}, {}},
      {"\\cZ\\ca", {"\x1a\x01"}, {}},
      {"\\(\\)\\[\\]\\{\\}\\|\\*\\+\\?\\.\\^\\$\\\\\\/", {"()[]{}|*+?.^$\\/"}, {}},
      {"\\-\\ \\#\\'\\\"\\<\\,\\:\\=\\!\\@\\%\\&\\~\\`", {"- #'\"<,:=!@%&~`"}, {}},
      // Unknown escapes stand for the character itself (JavaScript's identity escapes).
      {"\\q\\é\\A\\Z", {"qéAZ"}, {}},
  });
}

TEST(regex_to_grammar, realistic_patterns) {
  expect_cases({
      {"\\w+@\\w+\\.com", {"me@example.com"}, {"me@examplexcom", "@x.com"}},
      {"[a-z]{2,4}?\\d*", {"ab", "abcd12"}, {"a1"}},
      {"(?:a|b)+c?", {"abab", "abc"}, {"c"}},
      {"\\d{3}-\\d{3}-\\d{4}", {"555-123-4567"}, {"555-1234-567"}},
      {"(true|false)", {"true", "false"}, {"truefalse"}},
      {"-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?", {"0", "-12.5e+3"}, {"01", "1."}},
      {"\"([^\"\\\\]|\\\\.)*\"", {"\"\"", "\"a\\\"b\""}, {"\"a\"b\""}},
      {"[A-Z][a-z]*( [A-Z][a-z]*)*", {"Hello World"}, {"hello"}},
      {"(?P<year>\\d{4})-(?P<month>\\d\\d)", {"2024-01"}, {"24-01"}},
  });
}

// Where we part from xgrammar on purpose (tools/compare_regex_grammar.py lists these too).
TEST(regex_to_grammar, deliberate_differences_from_xgrammar) {
  expect_cases({
      // \x takes two hex digits as in Python and JavaScript (xgrammar: "\x41B" is U+041B).
      {"\\x41B", {"AB"}, {"\u041b"}},
      // An escaped '^' is literal (xgrammar negates the class).
      {"[\\^a]", {"^", "a"}, {"b", "\n"}},
      // '-' after a shorthand is literal (xgrammar makes a range from the shorthand's last
      // character: an error for these two, U+005F-U+007E for [\w-~]).
      {"[\\w-.]", {"a", "-", "."}, {"/"}},
      {"[\\s-~]", {" ", "-", "~"}, {"a"}},
      {"[\\w-~]", {"a", "-", "~"}, {"`", "{"}},
      // A raw newline or CR in a class (xgrammar's grammar lexer refuses it).
      {"[^\n]*", {"abc"}, {"a\nb"}},
      {"[\r]", {"\r"}, {}},
      // Group names as in Python (xgrammar accepts only letters and no (?P<...>)).
      {"(?<n1>x)(?<a_b>y)", {"xy"}, {}},
  });
}

TEST(regex_to_grammar, writes_the_documented_dialect) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"ab*c", "root ::= \"a\" \"b\"* \"c\"\n"},
      {"(a|b){2,3}", "root ::= (\"a\" | \"b\"){2,3}\n"},
      {"x{2,}y{1,1}z{0,5}", "root ::= \"x\"{2,} \"y\" \"z\"{0,5}\n"},
      {"a{0}", "root ::= \"\"\n"},
      {"(a*)*", "root ::= (\"a\"+)*\n"},  // the repetition of the non-empty part
      {"(a?b?)*", "root ::= (\"a\" \"b\"? | \"b\")*\n"},
      {"a|", "root ::= \"a\" | \"\"\n"},
      {"\\D", "root ::= [^0-9]\n"},
      {"[^\\s]", "root ::= [^\\t-\\r \\u00a0]\n"},
      {"[\\]\\-^a]", "root ::= [\\-\\]\\^a]\n"},
      {"[\\x00-\\x1f\\x7f]", "root ::= [\\u0000-\\u001f\\u007f]\n"},
      {"[^\\\\\"]*", "root ::= [^\\\"\\\\]*\n"},
      // No \U escape in the dialect: code points past U+FFFF are raw UTF-8.
      {".", "root ::= [\\u0000-\U0010FFFF]\n"},
      {"é😀\n\"", "root ::= \"\\u00e9😀\\n\\\"\"\n"},
  };
  for (const auto& [pattern, want] : cases) {
    result<std::string> got = regex_to_grammar(pattern);
    ASSERT_TRUE(got.ok()) << pattern << ": " << got.message();
    EXPECT_EQ(*got, want) << pattern;
  }
}

TEST(regex_to_grammar, rejects_what_no_grammar_expresses_and_bad_syntax) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      // pattern, part of the message
      {"\\1", "backreference"},
      {"(a)\\1", "backreference"},
      {"\\k<a>", "backreference"},
      {"(?P=n)", "backreference"},
      {"(?=a)", "lookahead"},
      {"(?!a)", "lookahead"},
      {"(?<=a)b", "lookbehind"},
      {"(?<!a)b", "lookbehind"},
      {"\\b", "word boundary"},
      {"a\\B", "word boundary"},
      {"\\p{L}", "Unicode property"},
      {"\\P{L}", "Unicode property"},
      {"[\\p{L}]", "Unicode property"},
      {"(?i)a", "inline flags"},
      {"(?i:a)", "inline flags"},
      {"(?#c)", "inline flags"},
      {"(?>a)", "inline flags"},
      {"(?", "not finished"},
      {"(?<a b)", "invalid group name"},
      {"(", "missing ')'"},
      {"((a)", "missing ')'"},
      {")", "unmatched ')'"},
      {"a)", "unmatched ')'"},
      {"[", "missing ']'"},
      {"[a-", "missing ']'"},
      {"[]", "empty character class"},
      {"[]a]", "empty character class"},
      {"[z-a]", "out of order"},
      {"[a-\\x00]", "out of order"},
      {"[a-\\]]", "out of order"},
      {"[a-\\d]", "cannot end with a shorthand"},
      {"*a", "nothing to repeat"},
      {"+", "nothing to repeat"},
      {"(*a)", "nothing to repeat"},
      {"|*", "nothing to repeat"},
      {"^*", "nothing to repeat"},
      {"{2}", "nothing to repeat"},
      {"a**", "two quantifiers"},
      {"a*+", "two quantifiers"},  // no possessive quantifiers
      {"a*??", "two quantifiers"},
      {"a{2}{3}", "two quantifiers"},
      {"a*$?", "two quantifiers"},
      {"a{3,2}", "lower bound"},
      {"a{,3}", "invalid repetition count"},
      {"a{}", "invalid repetition count"},
      {"a{", "invalid repetition count"},
      {"a{x}", "invalid repetition count"},
      {"a{2,3", "invalid repetition count"},
      {"\\", "not finished"},
      {"a\\", "not finished"},
      {"\\c", "\\c must be followed by a letter"},
      {"\\c1", "\\c must be followed by a letter"},
      {"\\x", "invalid \\x escape"},
      {"\\x4z", "invalid \\x escape"},
      {"\\u004", "invalid \\u escape"},
      {"\\u{}", "invalid \\u escape"},
      {"\\u{1234567}", "invalid \\u escape"},
      {"\\U0001F60", "invalid \\U escape"},
      {"\\u{110000}", "above U+10FFFF"},
      {"\\ud83d", "surrogates"},  // xgrammar accepts them, and they match nothing
      {"\\ud83d\\ude00", "surrogates"},
      {"[\\ude00]", "surrogates"},
      {"a{100001}", "repetition count above 100000"},
      {"a\0b"sv, "NUL"},
      {"\xff", "not valid UTF-8"},
      {"a\xc3", "not valid UTF-8"},             // truncated sequence
      {"\xc0\x80", "not valid UTF-8"},          // overlong
      {"\xed\xa0\x80", "not valid UTF-8"},      // surrogate
      {"\xf4\x90\x80\x80", "not valid UTF-8"},  // past U+10FFFF
  };
  for (const auto& [pattern, fragment] : cases) {
    result<std::string> got = regex_to_grammar(pattern);
    ASSERT_FALSE(got.ok()) << "\"" << pattern << "\" gave " << *got;
    EXPECT_NE(got.message().find(fragment), std::string::npos)
        << "\"" << pattern << "\": " << got.message();
  }
}

TEST(regex_to_grammar, error_messages_give_the_position) {
  result<std::string> got = regex_to_grammar("ab(?=c)");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.message(), "invalid regex at position 5: lookahead is not supported");
}

TEST(regex_to_grammar, bounds_group_nesting) {
  const int depth = max_regex_group_depth;
  std::string deepest = std::string(depth, '(') + "a" + std::string(depth, ')');
  result<std::string> ok = regex_to_grammar(deepest);
  ASSERT_TRUE(ok.ok()) << ok.message();
  result<bool> got = accepts(*ok, "a");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_TRUE(*got);
  // Far past the limit: an error, not a stack overflow.
  std::string hostile(1000000, '(');
  result<std::string> too_deep = regex_to_grammar(hostile);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.message().find("nested too deeply"), std::string::npos);
}

TEST(choice_to_grammar, writes_what_vllm_writes) {
  // vLLM's choice_as_grammar output for the same lists, plus the final newline.
  const std::vector<std::pair<std::vector<std::string>, std::string_view>> cases = {
      {{"yes", "no"}, "root ::= \"yes\" | \"no\"\n"},
      {{""}, "root ::= \"\"\n"},
      {{"a\"b\\c", "tab\t\x01\x7f", "é"},
       "root ::= \"a\\\"b\\\\c\" | \"tab\\t\\u0001\\u007f\" | \"é\"\n"},
      {{"new\nline", "cr\r"}, "root ::= \"new\\nline\" | \"cr\\r\"\n"},
  };
  for (const auto& [choices, want] : cases) {
    result<std::string> got = choice_to_grammar(choices);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ(*got, want);
  }
}

TEST(choice_to_grammar, accepts_exactly_one_choice) {
  const std::vector<std::string> choices = {"positive",  "negative",    "",
                                            "a|b",       "(x)*",        "😀 \"q\"",
                                            "nul\0end"s, "ctl\x01\x7f", "line\nbreak\t\\"};
  result<std::string> grammar_text = choice_to_grammar(choices);
  ASSERT_TRUE(grammar_text.ok()) << grammar_text.message();
  for (const std::string& choice : choices) {
    result<bool> got = accepts(*grammar_text, choice);
    ASSERT_TRUE(got.ok()) << got.message() << "\ngrammar: " << *grammar_text;
    EXPECT_TRUE(*got) << choice;
  }
  for (std::string_view text : {"positivenegative", "positive ", "a", "b", "x", "(x)", "😀"}) {
    result<bool> got = accepts(*grammar_text, text);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_FALSE(*got) << text;
  }
}

TEST(choice_to_grammar, rejects_an_empty_list_and_bad_utf8) {
  result<std::string> empty = choice_to_grammar({});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.message().find("non-empty"), std::string::npos);
  result<std::string> bad = choice_to_grammar({"ok", "\xc3("});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("choice 1 is not valid UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace troupe::runtime::grammar
