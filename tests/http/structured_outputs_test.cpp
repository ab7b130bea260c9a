// The structured-outputs fields of a request (http/structured_outputs.hpp): which become a
// grammar, which grammar, and the 400s.
#include "http/structured_outputs.hpp"

#include <string>

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/completion_request.hpp"
#include "runtime/grammar/grammar.hpp"

namespace troupe::http {
namespace {

const completion_limits limits{"smollm", 1000};

std::string grammar_of(const std::string& body) {
  auto parsed = parse_completion_request(body, limits, 1);
  if (auto* error = std::get_if<api_error>(&parsed)) {
    ADD_FAILURE() << body << " -> " << error->status << " " << error->message;
    return {};
  }
  return std::get<completion_request>(parsed).generation.sampling.grammar;
}

api_error error_of(const std::string& body) {
  auto parsed = parse_completion_request(body, limits, 1);
  if (auto* error = std::get_if<api_error>(&parsed)) return *error;
  ADD_FAILURE() << body << " was accepted";
  return {};
}

bool accepted(const std::string& grammar, const std::string& text) {
  auto r = runtime::grammar::accepts(grammar, text);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() && *r;
}

TEST(structured_outputs, each_field_becomes_its_grammar) {
  const std::string schema =
      R"({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})";
  for (const std::string& body : {
           R"({"prompt": "a", "response_format": {"type": "json_schema",
               "json_schema": {"name": "x", "schema": )" +
               schema + "}}}",
           R"({"prompt": "a", "structured_outputs": {"json": )" + schema + "}}",
           R"({"prompt": "a", "structured_outputs": {"json": ")" +
               std::string(R"({\"type\": \"object\", \"properties\": {\"n\": {\"type\": )"
                           R"(\"integer\"}}, \"required\": [\"n\"]})") +
               "\"}}",
           R"({"prompt": "a", "guided_json": )" + schema + "}",
       }) {
    const std::string g = grammar_of(body);
    EXPECT_TRUE(accepted(g, R"({"n": 12})")) << body;
    EXPECT_FALSE(accepted(g, R"({"n": "12"})")) << body;
  }
  for (const std::string& body : {
           std::string(R"({"prompt": "a", "structured_outputs": {"regex": "[0-9]{3}-x"}})"),
           std::string(R"({"prompt": "a", "guided_regex": "[0-9]{3}-x"})"),
       }) {
    const std::string g = grammar_of(body);
    EXPECT_TRUE(accepted(g, "123-x")) << body;
    EXPECT_FALSE(accepted(g, "12-x")) << body;
  }
  for (const std::string& body : {
           std::string(R"({"prompt": "a", "structured_outputs": {"choice": ["yes", "no"]}})"),
           std::string(R"({"prompt": "a", "guided_choice": ["yes", "no"]})"),
       }) {
    const std::string g = grammar_of(body);
    EXPECT_TRUE(accepted(g, "no")) << body;
    EXPECT_FALSE(accepted(g, "maybe")) << body;
  }
  for (const std::string& body : {
           std::string(R"({"prompt": "a", "response_format": {"type": "json_object"}})"),
           std::string(R"({"prompt": "a", "structured_outputs": {"json_object": true}})"),
       }) {
    const std::string g = grammar_of(body);
    EXPECT_TRUE(accepted(g, R"({"a": [1, {"b": null}]})")) << body;
    EXPECT_FALSE(accepted(g, R"({"a": )")) << body;
  }
  const std::string g =
      grammar_of(R"({"prompt": "a", "structured_outputs": {"grammar": "root ::= \"x\"+"}})");
  EXPECT_TRUE(accepted(g, "xxx"));
  EXPECT_EQ(grammar_of(R"({"prompt": "a", "response_format": {"type": "text"}})"), "");
  EXPECT_EQ(grammar_of(R"({"prompt": "a"})"), "");
}

TEST(structured_outputs, whitespace_option_reaches_the_schema) {
  const std::string schema = R"({"type": "object", "properties": {"n": {"type": "integer"}}})";
  const std::string loose =
      grammar_of(R"({"prompt": "a", "structured_outputs": {"json": )" + schema + "}}");
  const std::string tight = grammar_of(R"({"prompt": "a", "structured_outputs": {"json": )" +
                                       schema + R"(, "disable_any_whitespace": true}})");
  EXPECT_TRUE(accepted(loose, "{ \"n\" :\n 1 }"));
  EXPECT_FALSE(accepted(tight, "{ \"n\" :\n 1 }"));
}

TEST(structured_outputs, response_format_overrides_the_same_kind_only) {
  const std::string g = grammar_of(
      R"({"prompt": "a", "structured_outputs": {"json": {"type": "string"}},
          "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "integer"}}}})");
  EXPECT_TRUE(accepted(g, "7"));
  const api_error e = error_of(
      R"({"prompt": "a", "structured_outputs": {"regex": "a"},
          "response_format": {"type": "json_object"}})");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("only use one kind"), std::string::npos) << e.message;
}

TEST(structured_outputs, bad_constraints_are_400_naming_the_field) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"prompt": "a", "structured_outputs": {"regex": "a", "choice": ["a"]}})",
       "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": "json"})", "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"regex": "(a"}})", "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"regex": 5}})", "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"choice": []}})", "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"choice": [1]}})", "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"grammar": "root ::= root \"a\""}})",
       "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"grammar": "start ::= \"a\""}})",
       "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"json": "{not json"}})", "structured_outputs"},
      {R"({"prompt": "a", "structured_outputs": {"structural_tag": "{}"}})", "structured_outputs"},
      {R"({"prompt": "a", "response_format": {"type": "json_schema"}})", "response_format"},
      {R"({"prompt": "a", "response_format": {"type": "yaml"}})", "response_format.type"},
      {R"({"prompt": "a", "response_format": "json"})", "response_format"},
      {R"({"prompt": "a", "guided_regex": "a", "guided_choice": ["a"]})", "guided_choice"},
      {R"({"prompt": "a", "guided_regex": "a", "response_format": {"type": "json_object"}})",
       "guided_regex"},
  };
  for (const auto& [body, param] : cases) {
    const api_error e = error_of(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.param, param) << body << ": " << e.message;
    EXPECT_FALSE(e.message.empty());
  }
  EXPECT_EQ(error_of(R"({"prompt": "a", "response_format": {"type": "json_schema"}})").message,
            "When response_format type is 'json_schema', the 'json_schema' field must be "
            "provided. (parameter=response_format)");
}

// Structural tags, in response_format (either spelling) or as structured_outputs' JSON text;
// their JSON schemas keep xgrammar's whitespace whatever the server's settings, as in vLLM.
TEST(structured_outputs, structural_tags_become_their_grammar) {
  const std::string format =
      R"({"type": "structural_tag", "format": {"type": "triggered_tags", "triggers": ["<f="],
          "at_least_one": true, "tags": [{"type": "tag", "begin": "<f=a>", "end": "</f>",
          "content": {"type": "json_schema", "json_schema": {"type": "object",
          "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}]}})";
  completion_limits tight = limits;
  tight.structured_outputs.disable_any_whitespace = true;
  auto parsed =
      parse_completion_request(R"({"prompt": "a", "response_format": )" + format + "}", tight, 1);
  ASSERT_TRUE(std::holds_alternative<completion_request>(parsed));
  const std::string g = std::get<completion_request>(parsed).generation.sampling.grammar;
  EXPECT_TRUE(accepted(g, R"(<f=a>{"n": 1}</f> and then)"));
  EXPECT_FALSE(accepted(g, R"(first <f=a>{"n": 1}</f>)"));
  EXPECT_FALSE(accepted(g, R"(<f=a>{"n": "1"}</f>)"));

  rapidjson::StringBuffer quoted;
  rapidjson::Writer<rapidjson::StringBuffer> writer(quoted);
  writer.String(format.data(), static_cast<rapidjson::SizeType>(format.size()));
  EXPECT_EQ(grammar_of(R"({"prompt": "a", "structured_outputs": {"structural_tag": )" +
                       std::string(quoted.GetString()) + "}}"),
            grammar_of(R"({"prompt": "a", "response_format": )" + format + "}"));

  const std::string legacy = grammar_of(R"({"prompt": "a", "response_format": {"type":
      "structural_tag", "triggers": ["<f"], "structures": [{"begin": "<f>", "end": "</f>",
      "schema": {"type": "integer"}}]}})");
  EXPECT_TRUE(accepted(legacy, "say <f>12</f> twice <f>3</f>"));
  EXPECT_FALSE(accepted(legacy, "say <f>x</f>"));
}

TEST(structured_outputs, bad_structural_tags_are_vllms_400_and_unsupported_ones_say_so) {
  EXPECT_EQ(error_of(R"({"prompt": "a", "response_format": {"type": "structural_tag",
                "format": {"type": "sequence", "elements": []}}})")
                .message,
            "Invalid response_format structural_tag specification. (parameter=response_format)");
  EXPECT_EQ(error_of(R"({"prompt": "a", "structured_outputs": {"structural_tag": "{\"a\": 1}"}})")
                .message,
            "Invalid structured_outputs structural_tag specification. "
            "(parameter=structured_outputs)");
  const api_error unsupported = error_of(R"({"prompt": "a", "response_format": {"type":
      "structural_tag", "format": {"type": "token", "token": 3}}})");
  EXPECT_EQ(unsupported.status, 400);
  EXPECT_EQ(unsupported.param, "response_format");
  EXPECT_EQ(unsupported.message, "structural tag format 'token' is not supported by troupe.");
  EXPECT_EQ(error_of(R"({"prompt": "a", "structured_outputs": {"structural_tag": "x",
                "regex": "a"}})")
                .status,
            400);
}

// --structured-outputs-config: every schema starts from it, and a request cannot undo it.
TEST(structured_outputs, the_server_settings_are_every_schemas_start) {
  completion_limits tight = limits;
  tight.structured_outputs.disable_any_whitespace = true;
  const std::string body = R"({"prompt": "a", "structured_outputs": {"json": {"type": "object",
      "properties": {"n": {"type": "integer"}}}, "disable_any_whitespace": false}})";
  auto parsed = parse_completion_request(body, tight, 1);
  ASSERT_TRUE(std::holds_alternative<completion_request>(parsed));
  const std::string g = std::get<completion_request>(parsed).generation.sampling.grammar;
  EXPECT_TRUE(accepted(g, R"({"n":1})"));
  EXPECT_FALSE(accepted(g, R"({ "n": 1 })"));
}

TEST(structured_outputs, the_server_config_takes_vllms_keys) {
  auto config = parse_structured_outputs_config(
      R"({"backend": "guidance", "disable_any_whitespace": true, "disable_fallback": false,
          "disable_additional_properties": true, "reasoning_parser": "",
          "enable_in_reasoning": false})");
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_TRUE(config->disable_any_whitespace);
  EXPECT_TRUE(config->disable_additional_properties);
  EXPECT_FALSE(config->enable_in_reasoning);
  EXPECT_EQ(config->reasoning_parser, "");
  // The reasoning parser may be named here instead of --reasoning-parser.
  auto reasoning = parse_structured_outputs_config(
      R"({"reasoning_parser": "deepseek_r1", "enable_in_reasoning": true})");
  ASSERT_TRUE(reasoning.ok()) << reasoning.message();
  EXPECT_EQ(reasoning->reasoning_parser, "deepseek_r1");
  EXPECT_TRUE(reasoning->enable_in_reasoning);
  for (const char* bad : {"[]", "{", R"({"backend": "lark"})", R"({"disable_any_whitespace": 1})",
                          R"({"reasoning_parser": "granite"})",
                          R"({"reasoning_parser_plugin": "p"})", R"({"whitespace": true})"}) {
    EXPECT_FALSE(parse_structured_outputs_config(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace troupe::http
