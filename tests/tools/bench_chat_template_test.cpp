// `troupe bench --dataset-name custom` renders each prompt as one user message with the
// tokenizer's chat template (vLLM's CustomDataset without --skip-chat-template).
#include "tools/cli/bench_chat_template.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "runtime/tokenizer/tokenizer.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

class bench_chat_template : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_bench_tpl_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(bench_chat_template, renders_one_user_message_with_the_generation_prompt) {
  write("tokenizer_config.json",
        R"({"bos_token": "<s>", "chat_template": "{{ bos_token }}{% for m in messages %}[{{ )"
        R"(m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% )"
        R"(endif %}"})");
  auto tpl = user_prompt_template(dir_.string());
  ASSERT_TRUE(tpl.ok()) << tpl.message();
  auto text = (*tpl)("say \"hi\"\nnow");
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text, "<s>[user]say \"hi\"\nnow[assistant]");
  // --tokenizer naming tokenizer.json finds the config next to it.
  auto via_file = user_prompt_template((dir_ / "tokenizer.json").string());
  ASSERT_TRUE(via_file.ok()) << via_file.message();
  EXPECT_EQ(*(*via_file)("x"), "<s>[user]x[assistant]");
}

TEST_F(bench_chat_template, missing_or_broken_templates_are_errors) {
  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  auto none = user_prompt_template(dir_.string());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("no chat template"), std::string::npos) << none.message();
  write("tokenizer_config.json", R"({"chat_template": "{% for %}"})");
  EXPECT_FALSE(user_prompt_template(dir_.string()).ok());
  write("tokenizer_config.json", R"({"chat_template": "{{ raise_exception('no users') }}"})");
  auto raising = user_prompt_template(dir_.string());
  ASSERT_TRUE(raising.ok());
  auto text = (*raising)("x");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.message(), "no users");
}

// transformers 5 saves the template only as chat_template.jinja; the loader is troupe serve's.
TEST_F(bench_chat_template, finds_chat_template_jinja) {
  write("tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "ignored"})");
  write("chat_template.jinja", "{{ bos_token }}{{ messages[0].content }}|");
  auto tpl = user_prompt_template(dir_.string());
  ASSERT_TRUE(tpl.ok()) << tpl.message();
  EXPECT_EQ(*(*tpl)("hi"), "<s>hi|");
  fs::remove(dir_ / "tokenizer_config.json");
  auto without_config = user_prompt_template((dir_ / "tokenizer.json").string());
  ASSERT_TRUE(without_config.ok()) << without_config.message();
  EXPECT_EQ(*(*without_config)("hi"), "hi|");
}

// The checkpoint of tools/make_transformers5_checkpoint.py: the prompt bench sends renders and
// tokenizes to the ids transformers' apply_chat_template gives.
TEST(bench_chat_template_tf5, renders_and_tokenizes_like_transformers) {
  const std::string dir = troupe::testing::repo_testdata("hf_models/tf5_llama3_rope");
  std::ifstream in(troupe::testing::repo_testdata("hf_models/tf5_llama3_rope.reference.json"));
  std::stringstream json;
  json << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(json.str().c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& chat = doc["models"][0]["chat"];
  auto tpl = user_prompt_template(dir);
  ASSERT_TRUE(tpl.ok()) << tpl.message();
  auto text = (*tpl)(chat["messages"][0]["content"].GetString());
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text, chat["text"].GetString());
  auto tok = runtime::load_hf_tokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.message();
  std::vector<int32_t> expected;
  for (const auto& id : chat["ids"].GetArray())
    expected.push_back(id.GetInt());
  EXPECT_EQ((*tok)->encode(*text, false), expected);
}

TEST(bench_chat_template_gguf, default_model_uses_chatml) {
  const std::string gguf = troupe::testing::default_model_gguf();
  if (gguf.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  auto tpl = user_prompt_template(gguf);
  ASSERT_TRUE(tpl.ok()) << tpl.message();
  auto text = (*tpl)("Hi");
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_NE(text->find("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
            std::string::npos)
      << *text;
}

}  // namespace
}  // namespace troupe::cli
