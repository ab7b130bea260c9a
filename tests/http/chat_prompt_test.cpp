#include "http/chat_prompt.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/http/fake_engine.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::http {
namespace {

namespace fs = std::filesystem;

// A ChatML-like template that uses the special-token variables.
const std::string chatml =
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

class chat_prompt_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("troupe_chat_prompt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  // tokenizer_config.json with bos/eos and, when given, a chat_template (as a JSON string).
  void write_config(const std::string& template_json) {
    std::string config = R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}})";
    if (!template_json.empty())
      config.insert(config.size() - 1, ", \"chat_template\": " + template_json);
    write("tokenizer_config.json", config);
  }

  chat_template_setup load(const std::string& flag = "") {
    auto setup = load_chat_template_setup(flag, dir_.string(), nullptr);
    EXPECT_TRUE(setup.ok()) << setup.message();
    return setup ? std::move(*setup) : chat_template_setup{};
  }

  fs::path dir_;
};

runtime::chat_request user_says(const std::string& text) {
  runtime::chat_request r;
  r.messages_json = R"([{"role": "user", "content": ")" + text + R"("}])";
  r.add_generation_prompt = true;
  return r;
}

std::string rendered(const chat_template_setup& setup, runtime::chat_request r,
                     bool continue_final = false) {
  auto out = render_chat_prompt(&setup, std::move(r), continue_final);
  if (auto* e = std::get_if<api_error>(&out)) return "error: " + e->message;
  return std::get<std::string>(out);
}

TEST_F(chat_prompt_test, template_and_special_tokens_come_from_tokenizer_config) {
  write_config(R"("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}")");
  chat_template_setup setup = load();
  ASSERT_TRUE(setup.tpl);
  EXPECT_EQ(rendered(setup, user_says("Hi")), "<s>Hi</s>");
}

TEST_F(chat_prompt_test, a_named_default_template_and_chat_template_jinja_are_found) {
  write_config(R"([{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}])");
  EXPECT_EQ(rendered(load(), user_says("Hi")), "D");
  write("chat_template.jinja", "J{{ messages[0].content }}");  // transformers prefers this file
  EXPECT_EQ(rendered(load(), user_says("Hi")), "JHi");
}

TEST_F(chat_prompt_test, the_flag_overrides_the_tokenizer_as_a_file_or_as_text) {
  write_config(R"("config")");
  write("mine.jinja", chatml);
  EXPECT_EQ(rendered(load((dir_ / "mine.jinja").string()), user_says("Hi")),
            "<s><|user|>Hi</s><|assistant|>");
  // Template text on the command line, with a Python escape decoded as vLLM does.
  EXPECT_EQ(rendered(load(R"({{ messages[0].content }}\n\u00e9)"), user_says("Hi")),
            "Hi\n\xc3\xa9");
  auto missing = load_chat_template_setup("/nonexistent/t.jinja", dir_.string(), nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("looks like a file path"), std::string::npos);
  auto bad = load_chat_template_setup("{% if %}", dir_.string(), nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--chat-template"), std::string::npos) << bad.message();
}

TEST_F(chat_prompt_test, no_template_anywhere_is_vllms_400) {
  write_config("");
  chat_template_setup setup = load();
  EXPECT_FALSE(setup.tpl);
  auto out = render_chat_prompt(&setup, user_says("Hi"), false);
  ASSERT_TRUE(std::holds_alternative<api_error>(out));
  EXPECT_EQ(std::get<api_error>(out).status, 400);
  EXPECT_EQ(std::get<api_error>(out).message, no_chat_template_message);
  EXPECT_TRUE(std::holds_alternative<api_error>(render_chat_prompt(nullptr, user_says("Hi"), 0)));
  // Files without tokenizer_config.json at all: also no template, not an error.
  fs::remove(dir_ / "tokenizer_config.json");
  EXPECT_FALSE(load().tpl);
}

TEST_F(chat_prompt_test, raise_exception_and_runtime_errors_are_400s) {
  write_config(
      R"("{% if messages[0].role != 'system' %}{{ raise_exception('System first!') }}{% endif %})"
      R"({{ messages[0].content.nope() }}")");
  chat_template_setup setup = load();
  auto out = render_chat_prompt(&setup, user_says("Hi"), false);
  ASSERT_TRUE(std::holds_alternative<api_error>(out));
  EXPECT_EQ(std::get<api_error>(out).status, 400);
  EXPECT_EQ(std::get<api_error>(out).message, "System first!");
  runtime::chat_request system;
  system.messages_json = R"([{"role": "system", "content": "x"}])";
  auto runtime_error = render_chat_prompt(&setup, system, false);
  ASSERT_TRUE(std::holds_alternative<api_error>(runtime_error));
  EXPECT_EQ(std::get<api_error>(runtime_error).status, 400);
}

TEST_F(chat_prompt_test, continue_final_message_cuts_after_the_last_message) {
  write_config("");
  write("t.jinja", chatml);
  chat_template_setup setup = load((dir_ / "t.jinja").string());
  runtime::chat_request r;
  r.messages_json =
      R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello, I am "}])";
  // The trailing space is kept when the template keeps it; the eos after it is cut.
  EXPECT_EQ(rendered(setup, r, true), "<s><|user|>Hi</s><|assistant|>Hello, I am ");
  r.add_generation_prompt = true;
  EXPECT_EQ(rendered(setup, r, true).rfind("error: continue_final_message and", 0), 0u);
  r.add_generation_prompt = false;
  r.messages_json = R"([{"role": "user", "content": "not rendered"}])";
  chat_template_setup constant = load("{{ 'x' }}");
  EXPECT_NE(rendered(constant, r, true).find("does not appear in the chat"), std::string::npos);
}

// vLLM's renderer: a template that does not name the developer role sees developer messages as
// system messages, merged into one first system message when one is not first.
TEST_F(chat_prompt_test, developer_messages_become_system_for_templates_without_that_role) {
  write_config("");
  const std::string each = "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}";
  chat_template_setup setup = load(each);
  runtime::chat_request r;
  r.messages_json = R"([{"role": "system", "content": "A."}, {"role": "user", "content": "Hi"},
      {"role": "developer", "content": "B."}, {"role": "developer", "content": ""}])";
  EXPECT_EQ(rendered(setup, r, false), "[system:A.\n\nB.][user:Hi]");
  r.messages_json =
      R"([{"role": "developer", "content": "B."}, {"role": "user", "content": "Hi"}])";
  EXPECT_EQ(rendered(setup, r, false), "[system:B.][user:Hi]");  // first and alone: as it was
  chat_template_setup knows = load(each + "{% if false %}'developer'{% endif %}");
  EXPECT_EQ(rendered(knows, r, false), "[developer:B.][user:Hi]");
}

TEST(chat_prompt_content_format, templates_that_loop_over_content_get_lists_of_parts) {
  EXPECT_EQ(detect_content_format(chatml), content_format::string);
  const std::string loops =
      "{% set msgs = messages %}{% for m in msgs %}{% for p in m['content'] %}[{{ p.type }}:"
      "{{ p.text }}]{% endfor %}{% endfor %}";
  EXPECT_EQ(detect_content_format(loops), content_format::openai);
  EXPECT_EQ(detect_content_format("{% for m in messages %}{% for p in m.content %}{% endfor %}"
                                  "{% endfor %}"),
            content_format::openai);
  // A loop over some other variable's content does not count.
  EXPECT_EQ(detect_content_format("{% for p in tool.content %}{% endfor %}"),
            content_format::string);
  auto setup = load_chat_template_setup(loops, "/nonexistent.gguf", nullptr);
  ASSERT_TRUE(setup.ok()) << setup.message();
  EXPECT_EQ(setup->format, content_format::openai);
  EXPECT_EQ(rendered(*setup, user_says("Hi")), "[text:Hi]");
  // The model templates of the shared test data, as vLLM's detection classifies them.
  for (auto [name, expected] : {std::pair{"gemma3", content_format::openai},
                                {"llama3", content_format::string},
                                {"qwen3", content_format::string}}) {
    std::string dir = troupe::testing::shared_testdata(std::string("tokenizers/") + name);
    if (dir.empty() || !fs::exists(dir)) GTEST_SKIP() << "shared test data not present";
    auto model = load_chat_template_setup("", dir, nullptr);
    ASSERT_TRUE(model.ok()) << model.message();
    EXPECT_EQ(model->format, expected) << name;
  }
}

// --chat-template-content-format: auto keeps the detection; string or openai replaces it.
TEST(chat_prompt_content_format, the_flag_overrides_the_detected_format) {
  const std::string shows_content =
      "{% for m in messages %}[{{ m['content'] is string }}:{{ m['content'] }}]{% endfor %}";
  auto setup = load_chat_template_setup(shows_content, "/nonexistent.gguf", nullptr);
  ASSERT_TRUE(setup.ok()) << setup.message();
  EXPECT_EQ(setup->format, content_format::string);
  apply_content_format_flag(*setup, "auto");
  EXPECT_EQ(setup->format, content_format::string);
  EXPECT_EQ(rendered(*setup, user_says("Hi")), "[True:Hi]");
  apply_content_format_flag(*setup, "openai");
  EXPECT_EQ(setup->format, content_format::openai);
  EXPECT_EQ(rendered(*setup, user_says("Hi")), "[False:[{'type': 'text', 'text': 'Hi'}]]");
  apply_content_format_flag(*setup, "string");
  EXPECT_EQ(rendered(*setup, user_says("Hi")), "[True:Hi]");
}

// --default-chat-template-kwargs under the request's variables (vLLM's merge_kwargs).
TEST(chat_prompt_default_kwargs, defaults_fill_what_the_request_leaves_unset) {
  auto setup = load_chat_template_setup(
      "{{ a }},{{ b }},{% if tools %}{{ tools[0] }}{% endif %},{{ add_generation_prompt }}",
      "/nonexistent.gguf", nullptr);
  ASSERT_TRUE(setup.ok()) << setup.message();
  auto defaults = parse_default_chat_template_kwargs(
      R"({"a": 1, "b": "x", "tools": ["t"], "add_generation_prompt": false})");
  ASSERT_TRUE(defaults.ok()) << defaults.message();
  setup->default_kwargs_json = *defaults;
  runtime::chat_request r = user_says("Hi");
  EXPECT_EQ(rendered(*setup, r), "1,x,t,True");
  r.extra_context_json = R"({"a": 2, "b": null})";
  EXPECT_EQ(rendered(*setup, r), "2,x,t,True");
  r.extra_context_json = R"({"b": "auto"})";
  r.tools_json = R"(["mine"])";
  EXPECT_EQ(rendered(*setup, r), "1,x,mine,True");
  EXPECT_FALSE(parse_default_chat_template_kwargs("[1]").ok());
  EXPECT_FALSE(parse_default_chat_template_kwargs(R"({"chat_template": "x"})").ok());
}

TEST(chat_prompt_gguf, a_gguf_without_template_takes_bos_and_eos_from_the_tokenizer) {
  testing::byte_tokenizer tokenizer;  // bos = eos = 256, which decodes to ""
  auto setup = load_chat_template_setup("{{ eos_token }}|", "/nonexistent.gguf", &tokenizer);
  ASSERT_TRUE(setup.ok()) << setup.message();
  EXPECT_EQ(rendered(*setup, user_says("x")), "|");
  ASSERT_EQ(setup->special_tokens.size(), 2u);
  EXPECT_EQ(setup->special_tokens[0].first, "bos_token");
}

}  // namespace
}  // namespace troupe::http
