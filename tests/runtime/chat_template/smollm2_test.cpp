// The default model's own chat template, read from its GGUF, rendered as jinja2 renders it
// (expected strings from tools/chat_template_reference.py in tests/data/chat_template/).
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

TEST(chat_template_smollm2, gguf_template_renders_like_jinja2) {
  const std::string model = testing::default_model_gguf();
  if (model.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  auto source = chat_template_from_gguf(model);
  ASSERT_TRUE(source.ok()) << source.message();
  auto tpl = chat_template::parse(*source);
  ASSERT_TRUE(tpl.ok()) << tpl.message();

  std::ifstream in(testing::repo_testdata("chat_template/smollm2.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document d;
  d.Parse(ss.str().c_str());
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 4u);
  for (const auto& c : d.GetArray()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    c["messages"].Accept(w);
    chat_request req;
    req.messages_json = buf.GetString();
    req.add_generation_prompt = c["add_generation_prompt"].GetBool();
    req.special_tokens = {{"bos_token", "<|im_start|>"}, {"eos_token", "<|im_end|>"}};
    auto out = tpl->render(req);
    ASSERT_TRUE(out.ok()) << out.message();
    EXPECT_EQ(*out, c["rendered"].GetString());
  }
}

TEST(chat_template_smollm2, gguf_config_has_template_and_special_tokens) {
  const std::string model = testing::default_model_gguf();
  if (model.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  auto config = load_chat_template_config(model);
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_EQ(config->source, *chat_template_from_gguf(model));
  std::vector<std::pair<std::string, std::string>> expected = {{"bos_token", "<|im_start|>"},
                                                               {"eos_token", "<|im_end|>"},
                                                               {"unk_token", "<|endoftext|>"},
                                                               {"pad_token", "<|im_end|>"}};
  EXPECT_EQ(config->special_tokens, expected);
}

}  // namespace
}  // namespace troupe::runtime
