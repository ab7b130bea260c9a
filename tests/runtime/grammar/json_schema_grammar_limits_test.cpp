#include "runtime/grammar/json_schema_grammar.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/grammar/grammar.hpp"
#include "tests/runtime/grammar/json_schema_cases.hpp"

// String formats, whitespace and the options, the grammar text's shape, and what is refused.
namespace troupe::runtime::grammar {
namespace {

using namespace schema_testing;

TEST(JsonSchemaGrammar, StringFormats) {
  expect_language({
      {R"({"type":"string","format":"date"})",
       {{R"("2024-02-29")", true},
        {R"("0000-01-01")", true},
        {R"("2024-13-01")", false},
        {R"("2024-1-01")", false},
        {R"("2024-01-32")", false}}},
      {R"({"type":"string","format":"time"})",
       {{R"("23:59:60Z")", true},
        {R"("23:59:60.123+05:30")", true},
        {R"("12:00:00")", false},
        {R"("24:00:00Z")", false}}},
      {R"({"type":"string","format":"date-time"})",
       {{R"("2024-02-29T12:30:00Z")", true},
        {R"("2024-02-29T12:30:00.5-01:00")", true},
        {R"("2024-02-29 12:30:00Z")", false}}},
      {R"({"type":"string","format":"duration"})",
       {{R"("P1D")", true},
        {R"("P1Y2M3DT4H5M6S")", true},
        {R"("PT1M")", true},
        {R"("P2W")", true},
        {R"("P")", false},
        {R"("PT")", false},
        {R"("P1Y3D")", false},
        {R"("PT1H2S")", false}}},
      {R"({"type":"string","format":"email"})",
       {{R"("a.b+c@ex-ample.com")", true},
        {R"("a@b")", true},
        {R"("\"john doe\"@x.org")", true},
        {R"("a@b.c")", false},
        {R"(".a@b.com")", false},
        {R"("a..b@c.com")", false},
        {R"("a@-b.com")", false}}},
      {R"({"type":"string","format":"ipv4"})",
       {{R"("192.168.0.1")", true},
        {R"("01.02.003.4")", true},
        {R"("256.1.1.1")", false},
        {R"("1.2.3")", false}}},
      {R"({"type":"string","format":"ipv6"})",
       {{R"("::1")", true},
        {R"("::")", true},
        {R"("2001:db8::8a2e:370:7334")", true},
        {R"("1:2:3:4:5:6:7:8")", true},
        {R"("::ffff:192.168.1.1")", true},
        {R"("1:2:3:4:5:6:7:8:9")", false},
        {R"("12345::")", false},
        {R"("fe80::1%eth0")", false}}},
      {R"({"type":"string","format":"hostname"})",
       {{R"("example.com")", true},
        {R"("a-b.c")", true},
        {R"("-a.com")", false},
        {R"("Example.com")", false},
        {R"("a..b")", false}}},
      {R"({"type":"string","format":"uuid"})",
       {{R"("123e4567-e89b-12d3-a456-426614174000")", true},
        {R"("123e4567e89b12d3a456426614174000")", false}}},
      {R"({"type":"string","format":"uri"})",
       {{R"("https://user:pw@example.com:8080/a/b?q=1&r=%20#frag")", true},
        {R"("mailto:a@b.c")", true},
        {R"("/relative")", false},
        {R"("http://x y")", false},
        {R"("http://a/%zz")", false}}},
      {R"({"type":"string","format":"uri-reference"})",
       {{R"("/a/b?c#d")", true}, {R"("../x")", true}, {R"("")", true}, {R"("a:b")", false}}},
      {R"({"type":"string","format":"uri-template"})",
       {{R"("/{+path}/{x,y*}{?q,r:3}")", true}, {R"("{}")", false}, {R"("{a:0}")", false}}},
      {R"({"type":"string","format":"json-pointer"})",
       {{R"("")", true}, {R"("/a/b~0~1")", true}, {R"("/a~2")", false}, {R"("a")", false}}},
      {R"({"type":"string","format":"relative-json-pointer"})",
       {{R"("0")", true}, {R"("1#")", true}, {R"("2/a/b")", true}, {R"("01")", false}}},
      {R"({"type":["string","null"],"format":"uuid"})",
       {{"null", true}, {R"("123e4567-e89b-12d3-a456-426614174000")", true}, {R"("x")", false}}},
  });
}

TEST(JsonSchemaGrammar, WithoutAnyWhitespaceTheOutputIsCompact) {
  expect_language(
      {
          {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},)"
           R"("required":["b"],"additionalProperties":{"type":"number"}})",
           {{R"({"a":1,"b":"x","c":1.5})", true},
            {R"({"a": 1, "b": "x"})", false},
            {R"({ "b":"x"})", false}}},
          {R"({"type":"array","items":{"type":"integer"},"minItems":1})",
           {{"[1,2,3]", true}, {"[1, 2]", false}, {"[ 1]", false}}},
          {R"({"type":"object","properties":{"a":{"type":"integer"}},)"
           R"("additionalProperties":true})",
           {{R"({"a":1,"b":[1,2]})", true}, {R"({"a":1,"b":{"c":1,"d":2}})", true}}},
          // differs: xgrammar 0.2.8 wants ", " here (its bug #945, fixed after 0.2.8).
          {R"({"type":"object"})",
           {{R"({"a":1,"b":[true,null]})", true}, {R"({"a":1, "b":[true]})", false}}},
          {R"({"type":"string"})", {{R"("a b")", true}}},
      },
      false);
}

TEST(JsonSchemaGrammar, DisableAdditionalPropertiesOverridesUnevaluatedProperties) {
  const char* schema =
      R"({"type":"object","properties":{"a":{"type":"integer"}},"unevaluatedProperties":true})";
  json_schema_options options;
  options.disable_additional_properties = true;
  auto strict = json_schema_to_grammar(schema, options);
  ASSERT_TRUE(strict.ok()) << strict.message();
  EXPECT_TRUE(accepted(*strict, R"({"a": 1})"));
  EXPECT_FALSE(accepted(*strict, R"({"a": 1, "b": "x"})"));
  EXPECT_TRUE(accepted(grammar_for(schema), R"({"a": 1, "b": "x"})"));
}

TEST(JsonSchemaGrammar, JsonObjectIsAnyObjectAsVllmCompilesIt) {
  for (bool any_whitespace : {true, false}) {
    std::string g = json_object_grammar(any_whitespace);
    EXPECT_EQ(g, grammar_for(R"({"type": "object"})", any_whitespace));
    EXPECT_TRUE(accepted(g, R"({"a":[1,{"b":null}],"c":"d"})"));
    EXPECT_EQ(accepted(g, R"({ "a" : 1 })"), any_whitespace);
    EXPECT_FALSE(accepted(g, "[1]"));
    EXPECT_FALSE(accepted(g, "1"));
  }
}

TEST(JsonSchemaGrammar, WritesOneRulePerLineWithValidNamesRootFirst) {
  std::string g = grammar_for(
      R"({"$defs":{"x y":{"type":"integer","minimum":1}},"type":"object","properties":)"
      R"({"日本":{"$ref":"#/$defs/x y"},"json-value":{"type":["array","null"],"items":{}}},)"
      R"("additionalProperties":{"type":"string","format":"uuid"}})");
  std::istringstream lines(g);
  std::string line;
  const std::regex rule(R"(^[a-zA-Z_][a-zA-Z0-9_-]* ::= .+$)");
  std::vector<std::string> names;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(std::regex_match(line, rule)) << line;
    names.push_back(line.substr(0, line.find(' ')));
  }
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], "root");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << g;
  EXPECT_EQ(g, grammar_for(R"({"$defs":{"x y":{"type":"integer","minimum":1}},"type":"object",)"
                           R"("properties":{"日本":{"$ref":"#/$defs/x y"},"json-value":)"
                           R"({"type":["array","null"],"items":{}}},"additionalProperties":)"
                           R"({"type":"string","format":"uuid"}})"));
}

TEST(JsonSchemaGrammar, RefusesWhatVllmOrTroupeDoesNotSupportWithTheReason) {
  const std::vector<std::pair<std::string, const char*>> cases = {
      // Not a schema.
      {"not json", "not valid JSON"},
      {R"({"a":1} x)", "not valid JSON"},
      {"{\"const\":\"\xff\"}", "not valid JSON"},
      {"[1]", "must be an object or true"},
      {"false", "accepts no value"},
      {R"({"properties":{"a":false}})", "accepts no value"},
      {R"({"properties":{"a":1}})", "a schema must be an object or a boolean"},
      // Malformed keywords.
      {R"({"type":"foo"})", "unsupported type \"foo\""},
      {R"({"type":1})", "type must be a string or an array of strings"},
      {R"({"enum":[]})", "enum must be a non-empty array"},
      {R"({"anyOf":[]})", "anyOf must be a non-empty array"},
      {R"({"allOf":{}})", "allOf must be an array"},
      {R"({"$ref":1})", "$ref must be a string"},
      {R"({"type":"integer","minimum":1.5})", "whole number"},
      {R"({"type":"number","minimum":"1"})", "minimum must be a number"},
      {R"({"type":"integer","minimum":5,"maximum":3})", "minimum is greater than maximum"},
      {R"({"type":"string","minLength":-1})", "minLength must be a non-negative integer"},
      {R"({"type":"string","minLength":3,"maxLength":2})", "minLength is greater than maxLength"},
      {R"({"type":"array","items":{},"minItems":1.0})", "minItems must be a non-negative integer"},
      {R"({"type":"array","minItems":3,"maxItems":1})", "minItems is greater than maxItems"},
      {R"({"type":"array","items":[{}]})", "items must be a boolean or an object"},
      {R"({"type":"array","prefixItems":{}})", "prefixItems must be an array"},
      {R"({"type":"array","prefixItems":[{}],"minItems":2})",
       "minItems is greater than the number of prefixItems"},
      {R"({"type":"array","maxItems":1,"prefixItems":[{},{}]})",
       "maxItems is less than the number of prefixItems"},
      {R"({"type":"object","properties":[]})", "properties must be an object"},
      {R"({"type":"object","properties":{"a":{}},"required":"a"})",
       "required must be an array of strings"},
      {R"({"type":"object","additionalProperties":1})",
       "additionalProperties must be a boolean or an object"},
      {R"({"type":"object","minProperties":1})",
       "minProperties is greater than the number of properties"},
      {R"({"type":"object","additionalProperties":true,"minProperties":3,"maxProperties":2})",
       "minProperties is greater than maxProperties"},
      // $ref.
      {R"({"$ref":"#/$defs/nope"})", "does not resolve"},
      {R"({"$ref":"https://example.com/s.json"})", "is not supported"},
      {R"({"$ref":"#"})", "reaches itself"},
      {R"({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},"$ref":"#/$defs/a"})",
       "reaches itself"},
      {R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})",
       "reaches itself"},
      // What vLLM refuses before xgrammar sees it.
      {R"({"type":"integer","multipleOf":2})", "multipleOf is not supported"},
      {R"({"type":"array","uniqueItems":true})", "uniqueItems is not supported"},
      {R"({"allOf":[{"type":"string"},{"maxLength":3}]})", "allOf with more than one schema"},
      {R"({"type":"string","format":"date","maxLength":3})", "together with minLength"},
      {R"({"type":"string","format":"foo"})", "format \"foo\" is not supported"},
      {std::string(70, '[') + std::string(70, ']'), "must be an object"},
      // What troupe does not support.
      {R"({"type":"string","pattern":"a+"})", "pattern is not supported"},
      {R"({"type":"object","patternProperties":{"a":{}}})", "patternProperties is not supported"},
      {R"({"type":"object","propertyNames":{"maxLength":3}})", "propertyNames is not supported"},
      {R"({"type":"object","properties":{"a":{}},"minProperties":1})",
       "minProperties and maxProperties are not supported"},
  };
  for (const auto& [schema, reason] : cases) {
    auto r = json_schema_to_grammar(schema);
    ASSERT_FALSE(r.ok()) << schema;
    EXPECT_NE(r.message().find(reason), std::string::npos) << schema << ": " << r.message();
  }
}

TEST(JsonSchemaGrammar, RefusesNestingDeeperThanVllmAllows) {
  std::string deep;
  for (int i = 0; i < 64; ++i)
    deep += R"({"items":)";
  deep += "{}" + std::string(64, '}');
  auto r = json_schema_to_grammar(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("nested too deeply"), std::string::npos) << r.message();
  // A very deep document is refused without exhausting the stack.
  std::string hostile = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(json_schema_to_grammar("{\"a\":" + hostile + "}").ok());
}

TEST(JsonSchemaGrammar, RefusesRefChainsTooLongToFollow) {
  std::string defs;
  for (int i = 0; i < 300; ++i) {
    defs += "\"d" + std::to_string(i) +
            R"(":{"type":"object","properties":{"x":{"$ref":"#/$defs/d)" + std::to_string(i + 1) +
            "\"}}},";
  }
  std::string schema =
      R"({"$defs":{)" + defs + R"("d300":{"type":"integer"}},"$ref":"#/$defs/d0"})";
  auto r = json_schema_to_grammar(schema);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("nested too deeply"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace troupe::runtime::grammar
