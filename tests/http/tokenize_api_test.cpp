#include "http/tokenize_api.hpp"

#include <string>

#include <gtest/gtest.h>

#include "tests/http/fake_engine.hpp"

namespace troupe::http {
namespace {

const testing::byte_tokenizer tokenizer;  // id = byte, 256 = bos/eos
const actors::model_info info{"fake-model", 2048, 0};

std::string ok_or_error(const std::variant<std::string, api_error>& out) {
  if (auto* e = std::get_if<api_error>(&out)) {
    return "error " + std::to_string(e->status) + ": " + e->message;
  }
  return std::get<std::string>(out);
}

TEST(tokenize_api, a_prompt_is_tokenized_with_special_tokens_by_default) {
  tokenize_context context{tokenizer, info, nullptr};
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"model": "fake-model", "prompt": "Hi"})", context)),
            R"({"count":3,"max_model_len":2048,"tokens":[256,72,105],"token_strs":null})");
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"prompt": "Hi", "add_special_tokens": false})", context)),
            R"({"count":2,"max_model_len":2048,"tokens":[72,105],"token_strs":null})");
}

TEST(tokenize_api, tokenize_then_detokenize_round_trips) {
  tokenize_context context{tokenizer, info, nullptr};
  std::string body = R"({"prompt": "caf\u00e9 \"quoted\"", "add_special_tokens": false})";
  std::string tokens = ok_or_error(tokenize_json(body, context));
  size_t from = tokens.find('[');
  size_t to = tokens.find(']');
  ASSERT_NE(to, std::string::npos) << tokens;
  std::string list = tokens.substr(from, to - from + 1);
  EXPECT_EQ(ok_or_error(detokenize_json(R"({"tokens": )" + list + "}", context)),
            R"({"prompt":"caf)"
            "\xc3\xa9"
            R"( \"quoted\""})");
}

TEST(tokenize_api, messages_are_rendered_with_the_chat_template) {
  auto setup = load_chat_template_setup(
      "{% for m in messages %}[{{ m.content }}]{% endfor %}"
      "{% if add_generation_prompt %}>{% endif %}",
      "/nonexistent.gguf", nullptr);
  ASSERT_TRUE(setup.ok()) << setup.message();
  tokenize_context context{tokenizer, info, &*setup};
  EXPECT_EQ(
      ok_or_error(tokenize_json(R"({"messages": [{"role": "user", "content": "a"}]})", context)),
      R"({"count":4,"max_model_len":2048,"tokens":[91,97,93,62],"token_strs":null})");
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"messages": [{"role": "user", "content": "a"}],
                                         "add_generation_prompt": false,
                                         "add_special_tokens": true})",
                                      context)),
            R"({"count":4,"max_model_len":2048,"tokens":[256,91,97,93],"token_strs":null})");
  tokenize_context no_template{tokenizer, info, nullptr};
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"messages": []})", no_template)),
            std::string("error 400: ") + no_chat_template_message);
}

TEST(tokenize_api, bad_requests_are_openai_errors) {
  tokenize_context context{tokenizer, info, nullptr};
  EXPECT_EQ(ok_or_error(detokenize_json(R"({"tokens": [72, 257]})", context)),
            "error 400: Token id 257 is out of vocabulary.");
  EXPECT_EQ(ok_or_error(detokenize_json(R"({"tokens": [-1]})", context)),
            "error 400: Token id -1 is out of vocabulary.");
  EXPECT_EQ(ok_or_error(detokenize_json(R"({"tokens": "72"})", context)).rfind("error 400", 0), 0u);
  EXPECT_EQ(ok_or_error(detokenize_json("{}", context)), "error 400: `tokens` is required.");
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"model": "x", "prompt": "a"})", context)),
            "error 404: The model `x` does not exist. Valid aliases: fake-model.");
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"prompt": 5})", context)).rfind("error 400", 0), 0u);
  EXPECT_EQ(ok_or_error(tokenize_json(R"({})", context)).rfind("error 400", 0), 0u);
  EXPECT_EQ(ok_or_error(tokenize_json("not json", context)).rfind("error 400", 0), 0u);
  EXPECT_EQ(ok_or_error(detokenize_json(std::string(100000, '['), context)).rfind("error 400", 0),
            0u);
  EXPECT_EQ(ok_or_error(tokenize_json(R"({"prompt": "a", "return_token_strs": true})", context))
                .rfind("error 400", 0),
            0u);
}

}  // namespace
}  // namespace troupe::http
