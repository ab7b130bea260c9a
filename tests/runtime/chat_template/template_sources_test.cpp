// The chat template of a tokenizer directory, found as transformers' from_pretrained finds it:
// chat_template.jinja (all transformers 5 writes) ahead of tokenizer_config.json's
// chat_template; special tokens from tokenizer_config.json; tokenizer.json naming its directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/chat_template/chat_template.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

class template_sources : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("troupe_tpl_sources_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(template_sources, chat_template_jinja_alone) {
  write("chat_template.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}");
  auto config = load_chat_template_config(dir_.string());
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->source, "{% for m in messages %}{{ m.content }}{% endfor %}");
  EXPECT_EQ(config->origin, (dir_ / "chat_template.jinja").string());
  EXPECT_TRUE(config->special_tokens.empty());
}

TEST_F(template_sources, chat_template_jinja_wins_over_tokenizer_config) {
  write("tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "OLD"})");
  write("chat_template.jinja", "NEW");
  for (const fs::path& path : {dir_, dir_ / "tokenizer.json"}) {
    auto config = load_chat_template_config(path.string());
    ASSERT_TRUE(config) << config.message();
    EXPECT_EQ(config->source, "NEW");
    ASSERT_EQ(config->special_tokens.size(), 1u);
    EXPECT_EQ(config->special_tokens[0].second, "<s>");
  }
  fs::remove(dir_ / "chat_template.jinja");
  auto config = load_chat_template_config(dir_.string());
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->source, "OLD");
  EXPECT_EQ(config->origin, (dir_ / "tokenizer_config.json").string());
}

TEST_F(template_sources, no_template_or_a_broken_config) {
  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  auto found = read_tokenizer_dir_chat_template(dir_.string());
  ASSERT_TRUE(found) << found.message();
  EXPECT_TRUE(found->source.empty());
  EXPECT_EQ(found->special_tokens.size(), 1u);
  auto none = load_chat_template_config(dir_.string());
  ASSERT_FALSE(none);
  EXPECT_NE(none.message().find("no chat_template.jinja"), std::string::npos) << none.message();
  write("tokenizer_config.json", "[1, 2]");
  write("chat_template.jinja", "T");
  EXPECT_FALSE(load_chat_template_config(dir_.string()));
}

// tools/make_transformers5_checkpoint.py: tokenizer_config.json without a chat_template.
TEST(template_sources_tf5, transformers5_checkpoint_renders_like_apply_chat_template) {
  const std::string dir = testing::repo_testdata("hf_models/tf5_llama3_rope");
  auto config = load_chat_template_config(dir);
  ASSERT_TRUE(config) << config.message();
  EXPECT_EQ(config->origin, dir + "/chat_template.jinja");
  auto tpl = chat_template::parse(config->source);
  ASSERT_TRUE(tpl) << tpl.message();
  chat_request request;
  request.messages_json = R"([{"role": "user", "content": "Hello, how are you today?"}])";
  request.add_generation_prompt = true;
  request.special_tokens = config->special_tokens;
  auto text = tpl->render(request);
  ASSERT_TRUE(text) << text.message();
  EXPECT_EQ(*text,  // the reference's "chat"."text"
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello, how are you "
            "today?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

}  // namespace
}  // namespace troupe::runtime
