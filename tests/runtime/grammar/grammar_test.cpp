#include "runtime/grammar/grammar.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace troupe::runtime::grammar {
namespace {

bool accepted(std::string_view grammar_text, std::string_view text) {
  auto r = accepts(grammar_text, text);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() && *r;
}

struct accept_case {
  const char* grammar;
  const char* text;
  bool expected;
};

TEST(Grammar, AcceptsExactlyTheLanguage) {
  const std::vector<accept_case> cases = {
      {R"(root ::= "ab")", "ab", true},
      {R"(root ::= "ab")", "a", false},
      {R"(root ::= "ab")", "abc", false},
      {R"(root ::= "a" | "b" "c")", "bc", true},
      {R"(root ::= "a" | "b" "c")", "b", false},
      {R"(root ::= [a-c]+)", "abcabc", true},
      {R"(root ::= [a-c]+)", "", false},
      {R"(root ::= [a-c]*)", "", true},
      {R"(root ::= [^a-c]*)", "xyz\n", true},
      {R"(root ::= [^a-c]*)", "xbz", false},
      {R"(root ::= "x"?  "y")", "y", true},
      {R"(root ::= "x"?  "y")", "xy", true},
      {R"(root ::= "x"?  "y")", "xxy", false},
      {R"(root ::= [0-9]{2,3})", "1", false},
      {R"(root ::= [0-9]{2,3})", "12", true},
      {R"(root ::= [0-9]{2,3})", "123", true},
      {R"(root ::= [0-9]{2,3})", "1234", false},
      {R"(root ::= [0-9]{2})", "12", true},
      {R"(root ::= [0-9]{2})", "123", false},
      {R"(root ::= "ab"{2,})", "ababab", true},
      {R"(root ::= "ab"{2,})", "ab", false},
      {R"(root ::= ("a" | "bc")* "d")", "abcad", true},
      {R"(root ::= ("a" | "bc")* "d")", "abd", false},
      // Rules, forward references, recursion through a consumed character.
      {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9] | list",
       "[1,[2,[]],3]", true},
      {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9] | list",
       "[1,[2,[]],3", false},
      // Escapes and UTF-8 code points.
      {R"(root ::= "\"\\\n\t" [\x41-\x43] "\u00e9")", "\"\\\n\tB\xC3\xA9", true},
      {R"(root ::= [é-ë]+)", "\xC3\xA9\xC3\xAB", true},
      {R"(root ::= [é-ë]+)", "e", false},
      {R"(root ::= [^"\\]*)", "日本", true},
      {R"(root ::= . .)", "\xF0\x9F\x98\x80x", true},
      {"# a comment\nroot ::= a # trailing\n  | b\na ::= \"1\"\nb ::= \"2\"", "2", true},
      {R"(root ::= "a" "" "b")", "ab", true},
      {R"(root ::= [\-\]] "x")", "]x", true},
      {R"(root ::= [a-] "x")", "-x", true},
      // Ambiguity: both parses stay alive until one dies.
      {R"(root ::= "a"* "a" "b")", "aaab", true},
      {R"(root ::= ("ab" | "a") "bc")", "abc", true},
      {R"(root ::= ("ab" | "a") "bc")", "abbc", true},
  };
  for (const auto& c : cases)
    EXPECT_EQ(accepted(c.grammar, c.text), c.expected) << c.grammar << " on '" << c.text << "'";
}

TEST(Grammar, RefusesBadGrammarsWithTheReason) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"(rot ::= "a")", "no 'root' rule"},
      {R"(root ::= a)", "rule 'a' is used but not defined"},
      {R"(root ::= root "a" | "b")", "left-recursive"},
      {"root ::= a\na ::= b? root\nb ::= \"x\"", "left-recursive"},
      {R"(root ::= "a)", "unterminated"},
      {R"(root ::= [a-)", "unterminated"},
      {R"(root ::= ("a")", "expected ')'"},
      {R"(root ::= "a" ))", "unbalanced"},
      {R"(root ::= "\q")", "unknown escape"},
      {R"(root ::= [z-a])", "out of order"},
      {R"(root ::= "a"{3,2})", "out of order"},
      {R"(root ::= "a"{99999999})", "too large"},
      {"root ::= \"a\"\nroot ::= \"b\"", "defined twice"},
      {R"(root ::= @)", "unexpected character"},
  };
  for (const auto& [text, reason] : cases) {
    auto r = compile_grammar(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.message().find(reason), std::string::npos) << text << ": " << r.message();
  }
}

TEST(Grammar, NamesTheLineOfASyntaxError) {
  auto r = compile_grammar("root ::= a\na ::= \"x\"\nb ::= \"y\" )");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("line 3"), std::string::npos) << r.message();
}

TEST(Grammar, APrefixIsTextThatSomeSentenceBeginsWith) {
  const char* g = R"(root ::= "{" [0-9]+ "}")";
  for (const char* text : {"", "{", "{12", "{12}"})
    EXPECT_TRUE(*accepts_prefix(g, text)) << text;
  for (const char* text : {"}", "{}", "{12}}", "x"})
    EXPECT_FALSE(*accepts_prefix(g, text)) << text;
}

// Rule names, defined and used, get the prefix; literals, classes, bounds and comments do not;
// two grammars prefixed apart join into one that compiles and means what each meant.
TEST(Grammar, PrefixingRuleNamesJoinsGrammars) {
  const std::string g = "root ::= item{2,3} \"root \\\" x\" [a-z_] # root item\nitem ::= 'it'";
  EXPECT_EQ(prefix_rule_names(g, "p-"),
            "p-root ::= p-item{2,3} \"root \\\" x\" [a-z_] # root item\np-item ::= 'it'");
  const std::string joined = "root ::= a-root | b-root\n" +
                             prefix_rule_names("root ::= x \"!\"\nx ::= \"a\"+", "a-") + "\n" +
                             prefix_rule_names("root ::= x\nx ::= [0-9]{2}", "b-");
  ASSERT_TRUE(compile_grammar(joined).ok()) << joined;
  for (const auto& [text, ok] : std::vector<std::pair<std::string, bool>>{
           {"aa!", true}, {"12", true}, {"a", false}, {"1!", false}, {"123", false}}) {
    auto r = accepts(joined, text);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(*r, ok) << text;
  }
}

TEST(Grammar, RefusesTextThatIsNotUtf8) {
  EXPECT_FALSE(accepts(R"(root ::= [^a]*)", "\xFF").ok());
  EXPECT_FALSE(accepts(R"(root ::= [^a]*)", "\xC3").ok());
}

TEST(Grammar, CodePointSetsAnswerRangeQueries) {
  const code_point_set s{{{10, 20}, {30, 40}}};
  EXPECT_TRUE(s.contains(10));
  EXPECT_TRUE(s.contains(40));
  EXPECT_FALSE(s.contains(25));
  EXPECT_TRUE(s.intersects(21, 30));
  EXPECT_FALSE(s.intersects(21, 29));
  EXPECT_FALSE(s.intersects(41, 100));
  EXPECT_TRUE(s.intersects(0, 10));
}

}  // namespace
}  // namespace troupe::runtime::grammar
