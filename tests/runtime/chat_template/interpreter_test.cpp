// The interpreter on small templates: expressions, filters, tests, loops, scoping, macros,
// whitespace control and Python's str()/json.dumps, against renders by jinja2 itself
// (tests/data/chat_template/interpreter_cases.json, from tools/chat_template_reference.py), plus
// the error behaviour: syntax errors with line numbers, raise_exception, Undefined, limits.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <sstream>

#include "runtime/chat_template/chat_template.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

result<std::string> render(const std::string& source, const std::string& variables = "{}") {
  auto tpl = chat_template::parse(source);
  if (!tpl) return tpl.err();
  chat_request req;
  req.extra_context_json = variables;
  return tpl->render(req);
}

TEST(chat_template_interpreter, matches_jinja2_on_reference_cases) {
  std::ifstream in(testing::repo_testdata("chat_template/interpreter_cases.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document d;
  d.Parse(ss.str().c_str());
  ASSERT_TRUE(d.IsArray());
  ASSERT_GE(d.Size(), 15u);
  for (const auto& c : d.GetArray()) {
    const std::string source = c["template"].GetString();
    auto out = render(source, to_text(c["variables"]));
    ASSERT_TRUE(out.ok()) << source << "\n" << out.message();
    EXPECT_EQ(*out, c["rendered"].GetString()) << source;
  }
}

TEST(chat_template_interpreter, generation_tag_renders_its_body) {
  auto out = render("a{% generation %}b{{ 1 + 1 }}{% endgeneration %}c");
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(*out, "ab2c");
}

TEST(chat_template_interpreter, special_tokens_and_messages_are_variables) {
  auto tpl = chat_template::parse(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% endfor %}"
      "{{ tools }}{{ documents }}{{ add_generation_prompt }}{{ extra }}");
  ASSERT_TRUE(tpl.ok());
  chat_request req;
  req.messages_json = R"([{"role": "user", "content": "hi"}])";
  req.add_generation_prompt = true;
  req.special_tokens = {{"bos_token", "<s>"}};
  req.extra_context_json = R"({"extra": [1, 2]})";
  auto out = tpl->render(req);
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(*out, "<s>user:hi;NoneNoneTrue[1, 2]");
}

TEST(chat_template_interpreter, raise_exception_message_is_verbatim) {
  auto out = render("ok{{ raise_exception('Roles must alternate') }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.message(), "Roles must alternate");
}

TEST(chat_template_interpreter, syntax_errors_name_the_line) {
  auto a = chat_template::parse("line1\n{% if x %}\nno end");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.message().find("line"), std::string::npos) << a.message();
  auto b = chat_template::parse("a\nb\n{{ 1 + }}");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.message().find("line 3"), std::string::npos) << b.message();
  for (const char* bad : {"{{ 'unterminated }}", "{% unknown %}", "{{ x", "{% for %}{% endfor %}",
                          "{% endif %}", "{{ a[ }}", "{% if %}{% endif %}", "{{ } }}"}) {
    EXPECT_FALSE(chat_template::parse(bad).ok()) << bad;
  }
}

TEST(chat_template_interpreter, undefined_follows_jinja2) {
  EXPECT_EQ(*render("[{{ nope }}]{{ nope | length }}{% for x in nope %}x{% endfor %}"), "[]0");
  auto attr = render("{{ nope.field }}");
  ASSERT_FALSE(attr.ok());
  EXPECT_NE(attr.message().find("'nope' is undefined"), std::string::npos) << attr.message();
  auto method = render("{{ xs.startswith('a') }}", R"({"xs": [1]})");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.message().find("'list object' has no attribute 'startswith'"), std::string::npos)
      << method.message();
  EXPECT_FALSE(render("{{ nope + 1 }}").ok());
  EXPECT_FALSE(render("{{ 'a' + 1 }}").ok());
  EXPECT_FALSE(render("{{ 1 / 0 }}").ok());
  EXPECT_FALSE(render("{{ none | tojson }}x{{ nope | tojson }}").ok());
  EXPECT_FALSE(render("{{ 1 | nosuchfilter }}").ok());
}

TEST(chat_template_interpreter, abuse_is_an_error_not_a_crash) {
  std::string deep(500, '(');
  EXPECT_FALSE(chat_template::parse("{{ " + deep + "1" + std::string(500, ')') + " }}").ok());
  auto recursion = render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}");
  ASSERT_FALSE(recursion.ok());
  EXPECT_NE(recursion.message().find("depth"), std::string::npos) << recursion.message();
  auto big =
      render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}");
  ASSERT_FALSE(big.ok());
  EXPECT_FALSE(render("{{ 'x' * 100000000000 }}").ok());
  EXPECT_FALSE(render("{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(80) %}"
                      "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}")
                   .ok());
  EXPECT_EQ(*render("{{ -9223372036854775807 - 1 // -1 }}|{{ 7 % -1 }}|{{ -7 // -1 }}"),
            "-9223372036854775806|0|7");
  EXPECT_TRUE(
      render("{{ (-9223372036854775807 - 1) // -1 }}{{ (-9223372036854775807 - 1) % -1 }}").ok());
  // Deep nesting in the template or the data is an error, not a stack overflow.
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i)
    chain += " ~ 1";
  EXPECT_FALSE(chat_template::parse(chain + " }}").ok());
  std::string filters = "{{ x";
  for (int i = 0; i < 100000; ++i)
    filters += "|trim";
  EXPECT_FALSE(chat_template::parse(filters + " }}").ok());
  std::string attrs = "{{ x";
  for (int i = 0; i < 100000; ++i)
    attrs += ".a";
  EXPECT_FALSE(chat_template::parse(attrs + " }}").ok());
  std::string blocks;
  for (int i = 0; i < 100000; ++i)
    blocks += "{% if 1 %}";
  EXPECT_FALSE(chat_template::parse(blocks).ok());
  chat_request deep_json;
  deep_json.messages_json = "[" + std::string(100000, '[') + std::string(100000, ']') + "]";
  EXPECT_FALSE(chat_template::parse("{{ messages }}")->render(deep_json).ok());
  chat_request bad_json;
  bad_json.messages_json = "[{";
  EXPECT_FALSE(chat_template::parse("x")->render(bad_json).ok());
}

TEST(chat_template_interpreter, render_is_repeatable_and_const) {
  auto tpl =
      chat_template::parse("{% set ns = namespace(n=0) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}");
  ASSERT_TRUE(tpl.ok());
  chat_request req;
  EXPECT_EQ(*tpl->render(req), "1");
  EXPECT_EQ(*tpl->render(req), "1");
}

TEST(chat_template_sources, tokenizer_config_string_or_named_list) {
  EXPECT_EQ(*chat_template_from_tokenizer_config(R"({"chat_template": "{{ x }}"})"), "{{ x }}");
  EXPECT_EQ(*chat_template_from_tokenizer_config(
                R"({"chat_template": [{"name": "tool_use", "template": "T"},
                                      {"name": "default", "template": "D"}]})"),
            "D");
  EXPECT_FALSE(chat_template_from_tokenizer_config(R"({"chat_template": [{"name": "x",
               "template": "T"}]})")
                   .ok());
  EXPECT_FALSE(chat_template_from_tokenizer_config(R"({"bos_token": "<s>"})").ok());
  EXPECT_FALSE(chat_template_from_tokenizer_config("not json").ok());
  EXPECT_FALSE(chat_template_from_gguf("/nonexistent.gguf").ok());
}

}  // namespace
}  // namespace troupe::runtime
