// Every line of the shared chat-template goldens (rendered by jinja2 as transformers'
// apply_chat_template does) reproduced byte for byte; raise_exception messages exactly; Python
// errors (UndefinedError, TypeError) as failures.
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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

class golden_test : public ::testing::TestWithParam<const char*> {};

TEST_P(golden_test, reproduces_every_line) {
  const std::string name = GetParam();
  const std::string goldens = testing::shared_testdata("chat_templates/" + name + ".jsonl");
  if (goldens.empty()) GTEST_SKIP() << "shared testdata (../shared) is absent";
  auto source = chat_template_from_tokenizer_config_file(
      testing::shared_testdata("tokenizers/" + name + "/tokenizer_config.json"));
  ASSERT_TRUE(source.ok()) << source.message();
  auto tpl = chat_template::parse(*source);
  ASSERT_TRUE(tpl.ok()) << tpl.message();

  rapidjson::Document context;
  context.Parse(
      read_file(testing::shared_testdata("chat_templates/" + name + ".context.json")).c_str());
  ASSERT_TRUE(context.IsObject());
  std::vector<std::pair<std::string, std::string>> special;
  for (const auto& m : context["special_token_variables"].GetObject()) {
    special.emplace_back(m.name.GetString(),
                         m.value.IsString() ? m.value.GetString() : to_text(m.value));
  }

  std::ifstream in(goldens);
  std::string line;
  int num_lines = 0;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject());
    ++num_lines;
    chat_request req;
    req.messages_json = to_text(d["messages"]);
    req.add_generation_prompt = d["add_generation_prompt"].GetBool();
    if (d.HasMember("tools")) req.tools_json = to_text(d["tools"]);
    if (d.HasMember("extra_context")) req.extra_context_json = to_text(d["extra_context"]);
    req.special_tokens = special;
    auto out = tpl->render(req);
    const std::string id = d["id"].GetString();
    if (d.HasMember("rendered")) {
      ASSERT_TRUE(out.ok()) << name << " " << id << ": " << out.message();
      EXPECT_EQ(*out, d["rendered"].GetString()) << name << " " << id;
    } else {
      ASSERT_FALSE(out.ok()) << name << " " << id << " rendered but should fail";
      if (std::string(d["error_type"].GetString()) == "TemplateError") {
        EXPECT_EQ(out.message(), d["error"].GetString()) << name << " " << id;
      }
    }
  }
  EXPECT_EQ(num_lines, 25);
}

// Seeded random conversations (tools/chat_template_reference.py, rendered by jinja2): odd
// contents (numbers, None, lists, dicts), tool calls, reasoning, every role.
TEST_P(golden_test, random_conversations_match_jinja2) {
  const std::string name = GetParam();
  const std::string config =
      testing::shared_testdata("tokenizers/" + name + "/tokenizer_config.json");
  if (config.empty()) GTEST_SKIP() << "shared testdata (../shared) is absent";
  auto source = chat_template_from_tokenizer_config_file(config);
  ASSERT_TRUE(source.ok()) << source.message();
  auto tpl = chat_template::parse(*source);
  ASSERT_TRUE(tpl.ok()) << tpl.message();
  std::ifstream in(testing::repo_testdata("chat_template/random_" + name + ".jsonl"));
  std::string line;
  int num_lines = 0;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject());
    ++num_lines;
    chat_request req;
    req.messages_json = to_text(d["messages"]);
    req.add_generation_prompt = d["add_generation_prompt"].GetBool();
    if (d.HasMember("tools")) req.tools_json = to_text(d["tools"]);
    if (d.HasMember("extra_context")) req.extra_context_json = to_text(d["extra_context"]);
    req.special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
    auto out = tpl->render(req);
    if (d.HasMember("rendered")) {
      ASSERT_TRUE(out.ok()) << name << " line " << num_lines << ": " << out.message();
      EXPECT_EQ(*out, d["rendered"].GetString()) << name << " line " << num_lines;
    } else {
      ASSERT_FALSE(out.ok()) << name << " line " << num_lines << " rendered but should fail";
      if (std::string(d["error_type"].GetString()) == "TemplateError") {
        EXPECT_EQ(out.message(), d["error"].GetString()) << name << " line " << num_lines;
      }
    }
  }
  EXPECT_EQ(num_lines, 100);
}

// The special-token variables read from the tokenizer directory are those the goldens used.
TEST_P(golden_test, directory_config_has_the_goldens_special_tokens) {
  const std::string name = GetParam();
  const std::string dir = testing::shared_testdata("tokenizers/" + name);
  if (dir.empty()) GTEST_SKIP() << "shared testdata (../shared) is absent";
  auto config = load_chat_template_config(dir);
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_TRUE(chat_template::parse(config->source).ok());
  rapidjson::Document context;
  context.Parse(
      read_file(testing::shared_testdata("chat_templates/" + name + ".context.json")).c_str());
  std::vector<std::pair<std::string, std::string>> expected;
  for (const auto& m : context["special_token_variables"].GetObject()) {
    expected.emplace_back(m.name.GetString(),
                          m.value.IsString() ? m.value.GetString() : to_text(m.value));
  }
  EXPECT_EQ(config->special_tokens, expected);
}

INSTANTIATE_TEST_SUITE_P(chat_templates, golden_test,
                         ::testing::Values("llama3", "qwen3", "gemma3"));

}  // namespace
}  // namespace troupe::runtime
