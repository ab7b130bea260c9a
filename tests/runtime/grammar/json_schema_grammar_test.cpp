#include "runtime/grammar/json_schema_grammar.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/grammar/grammar.hpp"
#include "tests/runtime/grammar/json_schema_cases.hpp"

// The language of each schema keyword (tables: tests/runtime/grammar/json_schema_cases.hpp).
namespace troupe::runtime::grammar {
namespace {

using namespace schema_testing;

TEST(JsonSchemaGrammar, BasicTypes) {
  expect_language({
      {R"({"type":"string"})",
       {{R"("abc")", true},
        {R"("")", true},
        {R"("a\"b\\c\/")", true},
        {R"("\u00e9\n\t")", true},
        {R"("\uD83D\uDE00")", true},
        {R"("é日本😀")", true},
        {"\"\x7f\"", true},
        {R"("\x")", false},
        {R"("\u12")", false},
        {"\"a\tb\"", false},
        {R"(abc)", false},
        {R"( "a")", false},
        {R"("a" )", false}}},
      {R"({"type":"integer"})",
       {{"0", true},
        {"12", true},
        {"-12", true},
        {"99999999999999999999", true},
        {"-0", false},
        {"012", false},
        {"1.0", false},
        {"1e3", false},
        {"+1", false},
        {"-", false}}},
      {R"({"type":"number"})",
       {{"0", true},
        {"-0", true},
        {"-0.0", true},
        {"1.5", true},
        {"-1.5e-3", true},
        {"1E+2", true},
        {".5", false},
        {"01", false},
        {"1.", false},
        {"1e", false}}},
      {R"({"type":"boolean"})",
       {{"true", true}, {"false", true}, {"True", false}, {"null", false}}},
      {R"({"type":"null"})", {{"null", true}, {"nul", false}, {R"("null")", false}}},
      {R"({})",
       {{"1", true},
        {R"("x")", true},
        {"true", true},
        {"[ ]", true},
        {"{ }", true},
        {R"({"a":[1,{"b":null}]})", true},
        {" 1", false}}},
      {"true", {{"1", true}, {"[1, 2]", true}, {R"({"a": {"b": []}})", true}}},
  });
}

TEST(JsonSchemaGrammar, ObjectsKeepPropertyOrderAndRequiredMembers) {
  expect_language({
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},)"
       R"("c":{"type":"boolean"}}})",
       {{"{}", true},
        {R"({"a": 1})", true},
        {R"({"b": "x"})", true},
        {R"({"c": true})", true},
        {R"({"a": 1, "b": "x", "c": false})", true},
        {R"({"a":1,"c":true})", true},
        {R"({ "a" : 1 , "b" : "" })", true},
        {"{\n  \"a\": 1,\n  \"b\": \"x\"\n}", true},
        {R"({"b": "x", "a": 1})", false},
        {R"({"a": 1, "a": 2})", false},
        {R"({"d": 1})", false},
        {R"({"a": 1, "d": 1})", false}}},
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},)"
       R"("c":{"type":"boolean"}},"required":["b"]})",
       {{R"({"b": "x"})", true},
        {R"({"a": 1, "b": "x"})", true},
        {R"({"b": "x", "c": true})", true},
        {"{}", false},
        {R"({"a": 1})", false},
        {R"({"c": true})", false}}},
      {R"({"properties":{"name":{"type":"string"},"age":{"type":"integer"}},)"
       R"("required":["name","age"]})",
       {{R"({"name": "Bo", "age": 3})", true},
        {R"({"name": "Bo"})", false},
        {R"({"age": 3, "name": "Bo"})", false},
        {R"({"name":"Bo","age":3,"x":1})", false}}},
      // Required names that are not properties are ignored, repeated ones count once.
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a","a","zz"]})",
       {{R"({"a": 1})", true}, {"{}", false}}},
      // Keys are matched as written: an escape for the same character is another key.
      {R"({"type":"object","properties":{"a\"b":{"type":"integer"},"é":{"const":1}},)"
       R"("required":["é"]})",
       {{R"({"é": 1})", true},
        {R"({"a\"b": 1, "é": 1})", true},
        {R"({"a\"b": 1})", false},
        {R"({"\u00e9": 1})", false}}},
      {R"({"type":"object","properties":{"list":{"type":"array","items":{"type":"object",)"
       R"("properties":{"x y":{"type":"number"},"日本":{"type":["integer","null"]}},)"
       R"("required":["x y"]}}},"required":["list"]})",
       {{R"({"list": []})", true},
        {R"({ "list" : [ { "x y" : 0 } ] })", true},
        {R"({"list": [{"x y": 1.5}, {"x y": -2, "日本": null}]})", true},
        {R"({"list": [{"x y": 1, "日本": 2.5}]})", false},
        {R"({"list": [{"日本": 1}]})", false}}},
  });
}

TEST(JsonSchemaGrammar, ObjectsTakeOtherMembersOnlyWhenAllowed) {
  expect_language({
      // Strict mode: members not listed are refused unless a keyword allows them.
      {R"({"type":"object","properties":{}})", {{"{}", true}, {R"({"a": 1})", false}}},
      {R"({"type":"object","additionalProperties":false})", {{"{}", true}, {R"({"a": 1})", false}}},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":true})",
       {{"{}", true},
        {R"({"a": 1})", true},
        {R"({"b": 2})", true},
        {R"({"ab": 1})", true},
        {R"({"": 1})", true},
        {R"({"\u0061": 1})", true},
        {R"({"a": 1, "b": [1]})", true},
        {R"({"a": 1, "c": {"d": null}})", true},
        {R"({"b": 2, "a": 1})", false},
        {R"({"a": 1, "a": 2})", false}}},
      {R"({"type":"object","properties":{"ab":{"type":"integer"},"ac":{"type":"null"}},)"
       R"("additionalProperties":true})",
       {{R"({"a": 1})", true},
        {R"({"ab": 1})", true},
        {R"({"abc": 1})", true},
        {R"({"ad": 1})", true},
        {R"({"ac": null, "x": 2})", true},
        {R"({"ac": 1})", false},
        {R"({"x": 2, "ab": 1})", false}}},
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},)"
       R"("required":["b"],"additionalProperties":{"type":"number"}})",
       {{R"({"b": "x"})", true},
        {R"({"a": 1, "b": "x", "c": 1.5})", true},
        {R"({"c": 1.5})", false},
        {R"({"b": "x", "c": "y"})", false},
        {R"({"a": 1})", false}}},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},)"
       R"("unevaluatedProperties":{"type":"string"}})",
       {{R"({"a": 1, "b": "x"})", true}, {R"({"b": "x"})", true}, {R"({"a": 1, "b": 2})", false}}},
      {R"({"type":"object","additionalProperties":{"type":"integer"}})",
       {{"{}", true}, {R"({"a": 1, "b": 2})", true}, {R"({"a": "x"})", false}}},
      {R"({"type":"object","additionalProperties":{"type":"integer"},"minProperties":1,)"
       R"("maxProperties":2})",
       {{"{}", false},
        {R"({"a": 1})", true},
        {R"({"a": 1, "b": 2})", true},
        {R"({"a": 1, "b": 2, "c": 3})", false}}},
  });
}

TEST(JsonSchemaGrammar, TypeObjectAloneIsAnyObject) {
  expect_language({
      {R"({"type":"object"})",
       {{"{}", true},
        {"{ }", true},
        {R"({"a":1})", true},
        {R"({"a": 1, "b": [true]})", true},
        {"[]", false},
        {R"({"a" 1})", false},
        {R"({"a":1,})", false}}},
      {R"({"type":"object","title":"T","description":"d"})", {{R"({"x": 1})", true}}},
      // Any other keyword makes it a strict object with no listed member, like xgrammar.
      {R"({"type":"object","required":["a"]})", {{"{}", true}, {R"({"a": 1})", false}}},
      {R"({"type":"object","nullable":true})",
       {{"{}", true}, {R"({"a": 1})", false}, {"null", false}}},
      {R"({"type":"array"})",
       {{"[]", true}, {"[ ]", true}, {R"([1, "a", {}])", true}, {"[1,]", false}, {"{}", false}}},
      {R"({"type":"array","minItems":0})", {{"[]", true}, {"[1]", false}}},
      {R"({"type":"object","properties":{"a":{"type":"object"},"b":{"type":"array"}}})",
       {{R"({"a": {"x": [1]}, "b": [{"y": 2}]})", true}, {R"({"a": []})", false}}},
  });
}

TEST(JsonSchemaGrammar, Arrays) {
  expect_language({
      {R"({"type":"array","items":{"type":"integer"}})",
       {{"[]", true},
        {"[1]", true},
        {"[1, 2, 3]", true},
        {"[ 1 ,2 ]", true},
        {R"([1, "a"])", false}}},
      {R"({"items":{"type":"boolean"}})", {{"[true, false]", true}, {"[1]", false}}},
      {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
       {{"[]", false}, {"[1]", true}, {"[1, 2, 3]", true}, {"[1, 2, 3, 4]", false}}},
      {R"({"type":"array","items":{"type":"string"},"minItems":2})",
       {{R"(["a"])", false}, {R"(["a", "b"])", true}, {R"(["a", "b", "c"])", true}}},
      {R"({"type":"array","items":true,"maxItems":0})", {{"[]", true}, {"[1]", false}}},
      {R"({"type":"array","items":false})", {{"[]", true}, {"[1]", false}}},
      {R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]})",
       {{"[]", true},
        {R"(["a"])", true},
        {R"(["a", 1])", true},
        {R"(["a", 1, 2])", false},
        {"[1]", false}}},
      {R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"minItems":1})",
       {{"[]", false}, {R"(["a"])", true}, {R"(["a", 1])", true}}},
      {R"({"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"null"},)"
       R"("minItems":3,"maxItems":4})",
       {{R"(["a"])", false},
        {R"(["a", null])", false},
        {R"(["a", null, null])", true},
        {R"(["a", null, null, null])", true},
        {R"(["a", null, null, null, null])", false}}},
      {R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],)"
       R"("items":{"type":"null"},"minItems":1,"maxItems":3})",
       {{"[]", false},
        {R"(["a"])", true},
        {R"(["a", 1, null])", true},
        {R"(["a", 1, null, null])", false},
        {R"(["a", null])", false}}},
      {R"({"type":"array","prefixItems":[{"type":"string"}],"unevaluatedItems":true})",
       {{"[]", true}, {R"(["a", 1, {}])", true}}},
  });
}

TEST(JsonSchemaGrammar, StringLengths) {
  expect_language({
      // Like xgrammar: characters are counted, and escapes are not allowed at all.
      {R"({"type":"string","minLength":2,"maxLength":4})",
       {{R"("ab")", true},
        {R"("abcd")", true},
        {R"("éé")", true},
        {R"("a")", false},
        {R"("abcde")", false},
        {R"("a\nb")", false},
        {R"("a\"b")", false},
        {"\"a\tb\"", false}}},  // differs: xgrammar takes raw control characters here
      {R"({"type":"string","maxLength":0})", {{R"("")", true}, {R"("a")", false}}},
      {R"({"type":"string","minLength":1})",
       {{R"("")", false}, {R"("a")", true}, {R"("abcdefgh")", true}}},
  });
}

TEST(JsonSchemaGrammar, IntegerRanges) {
  expect_language({
      {R"({"type":"integer","minimum":3,"maximum":120})",
       {{"2", false},
        {"3", true},
        {"9", true},
        {"10", true},
        {"99", true},
        {"100", true},
        {"119", true},
        {"120", true},
        {"121", false},
        {"1000", false},
        {"-3", false},
        {"03", false}}},
      {R"({"type":"integer","minimum":-5})",
       {{"-6", false},
        {"-5", true},
        {"-1", true},
        {"-0", false},
        {"0", true},
        {"7", true},
        {"123456", true}}},
      {R"({"type":"integer","maximum":-10})",
       {{"-9", false}, {"-10", true}, {"-11", true}, {"-100", true}, {"0", false}}},
      {R"({"type":"integer","maximum":10})",
       {{"-100", true}, {"-1", true}, {"0", true}, {"10", true}, {"11", false}}},
      {R"({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10})",
       {{"0", false}, {"1", true}, {"9", true}, {"10", false}}},
      {R"({"type":"integer","minimum":2,"exclusiveMinimum":5})",
       {{"5", false}, {"6", true}, {"100", true}}},
      {R"({"type":"integer","minimum":-1234,"maximum":5678})",
       {{"-1235", false},
        {"-1234", true},
        {"-999", true},
        {"-1", true},
        {"0", true},
        {"999", true},
        {"1000", true},
        {"5678", true},
        {"5679", false},
        {"5700", false}}},
      {R"({"type":"integer","minimum":1e2,"maximum":1.05e3})",
       {{"99", false}, {"100", true}, {"1050", true}, {"1051", false}}},
      {R"({"type":"integer","minimum":0,"maximum":0})", {{"0", true}, {"-0", false}, {"1", false}}},
      {R"({"type":"integer","minimum":-100000000000,"maximum":100000000000})",
       {{"-100000000001", false},
        {"-100000000000", true},
        {"99999999999", true},
        {"100000000000", true},
        {"100000000001", false}}},
  });
}

TEST(JsonSchemaGrammar, NumberRangesHaveSixFractionDigitsAndNoExponent) {
  expect_language({
      {R"({"type":"number","minimum":0})",
       {{"0", true},
        {"0.0", true},
        {"0.000001", true},
        {"12.5", true},
        {"-0", false},
        {"-0.0", false},
        {"0.0000001", false},
        {"1e2", false}}},
      {R"({"type":"number","maximum":3.5})",
       {{"-12.5", true},
        {"-0.0", true},
        {"0", true},
        {"3.5", true},
        {"3.50", true},
        {"3.500000", true},
        {"-0", false},
        {"3.500001", false},
        {"3.4999999", false},
        {"1e-2", false}}},
      {R"({"type":"number","minimum":-1.25,"maximum":1000})",
       {{"-1.26", false},
        {"-1.2500001", false},
        {"-1.25", true},
        {"-1.250", true},
        {"-1", true},
        {"-0.5", true},
        {"0", true},
        {"999.999999", true},
        {"1000", true},
        {"1000.0", true},
        {"1000.1", false}}},
      {R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1})",
       {{"0", false},
        {"0.0", false},
        {"0.000001", true},
        {"0.5", true},
        {"0.999999", true},
        {"0.9999999", false},
        {"1", false}}},
      {R"({"type":"number","minimum":0.1234567})",
       {{"0.123456", false}, {"0.1234567", false}, {"0.123457", true}, {"1", true}}},
      {R"({"type":"number","minimum":-0.5,"maximum":-0.25})",
       {{"-0.5", true},
        {"-0.3", true},
        {"-0.25", true},
        {"-0.2", false},
        {"-0.0", false},
        {"0", false}}},
      {R"({"type":"number","minimum":2.5,"maximum":2.5})",
       {{"2.5", true}, {"2.50", true}, {"2", false}, {"2.4", false}, {"2.5000001", false}}},
  });
}

TEST(JsonSchemaGrammar, ConstAndEnumAreCompactJsonText) {
  expect_language({
      {R"({"const":"h\"i\u00e9\n"})", {{R"("h\"ié\n")", true}, {R"("h\"i\u00e9\n")", false}}},
      {R"({"const":{"a":[1,2]}})", {{R"({"a":[1,2]})", true}, {R"({"a": [1, 2]})", false}}},
      {R"({"enum":["a",1,null,true,{"x":[1,2]},2.5,1.0,"\u0001\b\f/"]})",
       {{R"("a")", true},
        {"1", true},
        {"null", true},
        {"true", true},
        {R"({"x":[1,2]})", true},
        {"2.5", true},
        {R"("\u0001\b\f/")", true},
        {"1.0", false},
        {R"("b")", false}}},
      // differs: xgrammar writes 0.1 as 0.10000000000000001.
      {R"({"enum":[0.1]})", {{"0.1", true}, {"0.10000000000000001", false}}},
      // const and enum win over type.
      {R"({"type":"string","enum":["a","b"]})", {{R"("a")", true}, {R"("c")", false}}},
      {R"({"type":"integer","const":"x"})", {{R"("x")", true}, {"1", false}}},
  });
}

TEST(JsonSchemaGrammar, Combinators) {
  expect_language({
      {R"({"anyOf":[{"type":"string"},{"type":"integer"}]})",
       {{R"("a")", true}, {"1", true}, {"null", false}}},
      {R"({"oneOf":[{"type":"string"},{"type":"null"}]})",
       {{R"("a")", true}, {"null", true}, {"1", false}}},
      {R"({"anyOf":[{"type":"object","properties":{"k":{"const":"a"}},"required":["k"]},)"
       R"({"type":"object","properties":{"n":{"type":"integer"}}}]})",
       {{R"({"k": "a"})", true},
        {R"({"n": 1})", true},
        {"{}", true},
        {R"({"k": "b"})", false},
        {R"({"k": "a", "n": 1})", false}}},
      {R"({"allOf":[{"type":"string"}],"type":"integer"})", {{R"("a")", true}, {"1", false}}},
      {R"({"type":["string","null"]})", {{R"("a")", true}, {"null", true}, {"1", false}}},
      {R"({"type":["object","array"],"properties":{"a":{"type":"integer"}},)"
       R"("items":{"type":"string"}})",
       {{R"({"a": 1})", true}, {R"(["x"])", true}, {"[1]", false}, {R"({"b": 1})", false}}},
      {R"({"type":["object","null"]})", {{R"({"a": 1})", true}, {"null", true}}},
      {R"({"type":["integer","number"]})", {{"1", true}, {"1.5", true}, {"-0", true}}},
      {R"({"type":[]})", {{"1", true}, {R"("a")", true}}},
  });
}

TEST(JsonSchemaGrammar, Refs) {
  expect_language({
      {R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},)"
       R"("next":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}},"required":["v"]}},)"
       R"("$ref":"#/$defs/n"})",
       {{R"({"v": 1})", true},
        {R"({"v": 1, "next": null})", true},
        {R"({"v": 1, "next": {"v": 2, "next": {"v": 3}}})", true},
        {R"({"next": null})", false}}},
      {R"({"definitions":{"x":{"type":"integer"}},"type":"array",)"
       R"("items":{"$ref":"#/definitions/x"}})",
       {{"[1, 2]", true}, {R"(["a"])", false}}},
      {R"({"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}}})",
       {{"{}", true},
        {R"({"kids": []})", true},
        {R"({"kids": [{"kids": [{}]}]})", true},
        {R"({"kids": [1]})", false}}},
      // $ref wins over its siblings.
      {R"({"$defs":{"x":{"type":"integer"}},"$ref":"#/$defs/x","type":"string"})",
       {{"1", true}, {R"("a")", false}}},
      // differs: ~1 and ~0 are decoded (RFC 6901); xgrammar does not find these.
      {R"({"$defs":{"a/b":{"type":"null"},"t~":{"type":"boolean"}},"type":"array",)"
       R"("prefixItems":[{"$ref":"#/$defs/a~1b"},{"$ref":"#/$defs/t~0"}]})",
       {{"[null, true]", true}, {"[true]", false}}},
  });
}

}  // namespace
}  // namespace troupe::runtime::grammar
