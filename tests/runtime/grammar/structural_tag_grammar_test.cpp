#include "runtime/grammar/structural_tag_grammar.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/grammar/grammar.hpp"

// The verdicts are xgrammar's (what vLLM 0.32 compiles for structural tags), as
// tools/compare_structural_tag_grammar.py checks them against xgrammar's matcher. Each text goes
// through the grammar engine, so the tables check the converter and the engine together.

namespace troupe::runtime::grammar {
namespace {

struct tag_case {
  std::string_view tag;  // the structural tag's JSON
  std::vector<std::string_view> accepted;
  std::vector<std::string_view> refused;
};

void expect_cases(const std::vector<tag_case>& cases) {
  for (const tag_case& c : cases) {
    SCOPED_TRACE(std::string(c.tag));
    result<std::string> text = structural_tag_to_grammar(c.tag);
    ASSERT_TRUE(text.ok()) << text.message();
    for (bool want : {true, false}) {
      for (std::string_view s : want ? c.accepted : c.refused) {
        result<bool> got = accepts(*text, s);
        ASSERT_TRUE(got.ok()) << got.message() << "\ngrammar: " << *text;
        EXPECT_EQ(*got, want) << "text: \"" << s << "\"\ngrammar: " << *text;
      }
    }
  }
}

std::string format(std::string_view f) {
  return R"({"type": "structural_tag", "format": )" + std::string(f) + "}";
}

constexpr std::string_view one_tag =
    R"("tags": [{"type": "tag", "begin": "<f=a>", "end": "</f>",
                 "content": {"type": "const_string", "value": "1"}}])";

TEST(StructuralTagGrammar, TheLegacySpellingIsTriggeredJsonStructures) {
  expect_cases({{R"({"type": "structural_tag", "triggers": ["<function="], "structures": [
        {"begin": "<function=a>", "end": "</function>",
         "schema": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}},
        {"begin": "<function=b>", "schema": {"type": "integer"}, "end": "</function>"}]})",
                 {"", "hello", R"(x <function=a>{"city": "Paris"}</function> y)",
                  "<function=b>12</function><function=b>3</function>", "a<", "<function"},
                 {"<function=b>1.5</function>", "<function=c>1</function>",
                  "<function=a>{}</function>", "<function="}}});
}

TEST(StructuralTagGrammar, LeavesAndCombinations) {
  expect_cases({
      {format(R"({"type": "const_string", "value": "hello"})"), {"hello"}, {"hell", "hello!", ""}},
      {format(R"({"type": "regex", "pattern": "[a-c]+x"})"), {"abx", "abcabcx"}, {"x", "abd"}},
      {format(R"({"type": "grammar", "grammar": "root ::= \"a\" \"b\"+"})"), {"ab", "abbb"}, {"a"}},
      {format(R"({"type": "json_schema", "json_schema": {"type": "boolean"}})"), {"true"}, {"1"}},
      {format(R"({"type": "sequence", "elements": [{"type": "const_string", "value": "x"},
                  {"type": "optional", "content": {"type": "const_string", "value": "y"}}]})"),
       {"x", "xy"},
       {"xyy"}},
      {format(R"({"type": "or", "elements": [{"type": "const_string", "value": "yes"},
                  {"type": "const_string", "value": "no"}]})"),
       {"yes", "no"},
       {"", "maybe"}},
      {format(R"({"type": "repeat", "min": 2, "max": 3,
                  "content": {"type": "const_string", "value": "a"}})"),
       {"aa", "aaa"},
       {"a", "aaaa"}},
      {format(R"({"type": "repeat", "min": 2, "max": -1,
                  "content": {"type": "const_string", "value": "a"}})"),
       {"aa", "aaaaa"},
       {"a"}},
      {format(R"({"type": "plus", "content": {"type": "const_string", "value": "ab"}})"),
       {"ab", "abab"},
       {"", "aba"}},
  });
}

// any_text is free text (without its excludes); as the end of a tag's content it runs until one
// of the tag's ends, which it cannot contain; elsewhere what follows it may also occur in it.
TEST(StructuralTagGrammar, AnyTextEndsAtItsTagsEnd) {
  expect_cases({
      {format(R"({"type": "any_text", "excludes": ["ab", "x"]})"),
       {"", "ba", "aa", "b"},
       {"aab", "xyz"}},
      {format(R"({"type": "tag", "begin": "<a>", "end": "</a>", "content": {"type": "any_text"}})"),
       {"<a>x</a>", "<a></a>", "<a><</a>", "<a></a</a>"},
       {"<a>x</a>y", "<a>x</a></a>", "<a>x</"}},
      {format(R"({"type": "tag", "begin": "<a>", "end": ["</a>", "</b>"],
                  "content": {"type": "any_text"}})"),
       {"<a>x</a>", "<a>x</b>"},
       {"<a>x</c>", "<a></b></a>"}},
      {format(R"({"type": "sequence", "elements": [{"type": "any_text"},
                  {"type": "const_string", "value": "END"}]})"),
       {"abcEND", "END", "abENDcEND"},
       {"abc"}},
      {format(R"({"type": "tag", "begin": "<ü>", "end": "</ü>",
                  "content": {"type": "any_text", "excludes": ["é"]}})"),
       {"<ü>abc</ü>", "<ü></ü</ü>"},
       {"<ü>é</ü>"}},
  });
}

TEST(StructuralTagGrammar, TriggeredTags) {
  const std::string plain =
      format(R"({"type": "triggered_tags", "triggers": ["<f"], )" + std::string(one_tag) + "}");
  const std::string first = format(R"({"type": "triggered_tags", "triggers": ["<f"],
      "at_least_one": true, )" + std::string(one_tag) +
                                   "}");
  const std::string single = format(R"({"type": "triggered_tags", "triggers": ["<f"],
      "stop_after_first": true, )" + std::string(one_tag) +
                                    "}");
  const std::string excluding = format(R"({"type": "triggered_tags", "triggers": ["<f"],
      "excludes": ["bad"], )" + std::string(one_tag) +
                                       "}");
  expect_cases({
      {plain,
       {"", "hi", "hi<f=a>1</f>bye", "<f=a>1</f><f=a>1</f>", "hi<", "x<g", "<<f=a>1</f>"},
       {"<f=b>", "<f", "<f=a>2</f>"}},
      {first, {"<f=a>1</f>", "<f=a>1</f>x<f=a>1</f>"}, {"", "hi", "hi<f=a>1</f>bye"}},
      {single,
       {"", "hi", "<f=a>1</f>", "x<f=a>1</f>"},
       {"hi<f=a>1</f>bye", "<f=a>1</f><f=a>1</f>"}},
      {excluding, {"ba", "b<f=a>1</f>ad"}, {"bad", "xbadx", "<f=a>1</f>bad"}},
      {format(R"({"type": "tag", "begin": "<a>", "end": "</a>", "content":
                  {"type": "triggered_tags", "triggers": ["<f"], )" +
              std::string(one_tag) + "}}"),
       {"<a>x<f=a>1</f>y</a>", "<a></a>"},
       {"<a><f=b></a>", "<a>x</a>y"}},
  });
}

TEST(StructuralTagGrammar, TagsWithSeparator) {
  const std::string tags = R"("tags": [{"type": "tag", "begin": "<a>", "end": "</a>",
      "content": {"type": "const_string", "value": "1"}}])";
  expect_cases({
      {format(R"({"type": "tags_with_separator", "separator": ",", )" + tags + "}"),
       {"", "<a>1</a>", "<a>1</a>,<a>1</a>"},
       {"<a>1</a>,", "x", "<a>1</a><a>1</a>"}},
      {format(R"({"type": "tags_with_separator", "separator": ",", "at_least_one": true, )" + tags +
              "}"),
       {"<a>1</a>"},
       {""}},
      {format(R"({"type": "tags_with_separator", "separator": ",", "stop_after_first": true, )" +
              tags + "}"),
       {"", "<a>1</a>"},
       {"<a>1</a>,<a>1</a>"}},
  });
}

TEST(StructuralTagGrammar, MalformedAndUnsupportedTagsAreRefused) {
  for (std::string_view bad : {
           R"({"type": "structural_tag"})",
           R"([1, 2])",
           R"({"type": "structural_tag", "format": {"type": "sequence", "elements": []}})",
           R"({"type": "structural_tag", "format": {"type": "triggered_tags", "triggers": ["<f"],
               "tags": [{"type": "tag", "begin": "<g>", "end": "</g>",
                         "content": {"type": "const_string", "value": "1"}}]}})",
           R"({"type": "structural_tag", "format": {"type": "const_string"}})",
           R"({"type": "structural_tag", "format": {"type": "regex", "pattern": "(a"}})",
           R"({"type": "structural_tag", "format": {"type": "repeat", "min": 3, "max": 2,
               "content": {"type": "const_string", "value": "a"}}})",
           R"({"type": "structural_tag", "format": {"type": "sequence", "elements": [)",
       }) {
    auto text = structural_tag_to_grammar(bad);
    EXPECT_FALSE(text.ok()) << bad;
  }
  for (std::string_view unsupported : {
           R"({"type": "structural_tag", "format": {"type": "token", "token": 5}})",
           R"({"type": "structural_tag", "format": {"type": "dispatch", "rules": []}})",
           R"({"type": "structural_tag", "format": {"type": "any_text", "max_chars": 5}})",
           R"({"type": "structural_tag", "format": {"type": "json_schema", "json_schema": true,
               "style": "qwen_xml"}})",
       }) {
    auto text = structural_tag_to_grammar(unsupported);
    ASSERT_FALSE(text.ok()) << unsupported;
    EXPECT_NE(text.message().find("not supported by troupe"), std::string::npos) << text.message();
  }
  std::string deep = R"({"type": "structural_tag", "format": )";
  for (int i = 0; i <= max_structural_tag_depth; ++i)
    deep += R"({"type": "optional", "content": )";
  deep += R"({"type": "const_string", "value": "a"})";
  for (int i = 0; i <= max_structural_tag_depth; ++i)
    deep += "}";
  deep += "}";
  EXPECT_FALSE(structural_tag_to_grammar(deep).ok());
}

}  // namespace
}  // namespace troupe::runtime::grammar
