// End to end: `troupe serve`'s pieces around a tiny random Llama from make-model whose
// tokenizer_config.json carries a chat template (Llama-2's tokenizer.json from the shared test
// data; skips without it). Chat completions must equal a plain completion of the rendered prompt.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/http/test_client.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::http {
namespace {

namespace fs = std::filesystem;
using testing::parse_json;
using testing::reply;
using testing::test_client;
using testing::bhttp::verb;

const std::string tokenizer_config = R"({
  "add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
  "tokenizer_class": "LlamaTokenizer",
  "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
})";

class chat_e2e : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tokenizer_json =
        troupe::testing::shared_testdata("tokenizers/llama2/tokenizer.json");
    if (tokenizer_json.empty() || !fs::exists(tokenizer_json)) {
      GTEST_SKIP() << "shared test data (tokenizers/llama2) not present";
    }
    dir_ = fs::temp_directory_path() / ("troupe_chat_e2e_" + std::to_string(::getpid()));
    runtime::tiny_model_spec spec;
    spec.vocab_size = 32000;
    spec.seed = 3;
    ASSERT_TRUE(runtime::write_tiny_model(spec, dir_.string()));
    fs::copy_file(tokenizer_json, dir_ / "tokenizer.json");
    std::ofstream(dir_ / "tokenizer_config.json") << tokenizer_config;

    auto tokenizer = runtime::load_hf_tokenizer(dir_.string());
    auto weights = runtime::load_hf_model(dir_.string(), 2);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.message();
    ASSERT_TRUE(weights.ok()) << weights.message();
    int32_t max_len = weights->hparams.max_position_embeddings;
    auto runner = runtime::cpu_llama_runner::create(std::move(*weights), 64, 16, 2);
    ASSERT_TRUE(runner.ok()) << runner.message();
    runtime::engine_config config;
    config.served_model_name = "tiny";
    config.max_model_len = 512;
    config.disable_log_requests = true;
    auto engine = actors::start_engine(config, *tokenizer, std::move(*runner), max_len);
    ASSERT_TRUE(engine.ok()) << engine.message();
    engine_ = std::move(*engine);

    auto setup = load_chat_template_setup("", dir_.string(), tokenizer->get());
    ASSERT_TRUE(setup.ok()) << setup.message();
    ASSERT_TRUE(setup->tpl);
    server_options options;
    options.port = 0;
    options.disable_log_requests = true;
    options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
    auto server = start_server(*engine_, options);
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(*server);
  }

  void TearDown() override {
    server_.reset();
    engine_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  reply send(std::string_view target, const std::string& body) {
    test_client client(server_->port());
    return client.request(verb::post, std::string(target), body);
  }

  fs::path dir_;
  std::unique_ptr<actors::engine> engine_;
  std::unique_ptr<server> server_;  // declared after engine_: destroyed first
};

TEST_F(chat_e2e, chat_equals_a_completion_of_the_rendered_prompt) {
  const std::string messages = R"("messages": [{"role": "user", "content": "Hello there"}])";
  reply chat = send("/v1/chat/completions",
                    "{" + messages + R"(, "max_tokens": 6, "temperature": 0, "ignore_eos": true})");
  ASSERT_EQ(chat.status, 200) << chat.body;
  auto doc = parse_json(chat.body);
  std::string content = doc["choices"][0]["message"]["content"].GetString();
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 6);
  EXPECT_STREQ(doc["choices"][0]["finish_reason"].GetString(), "length");

  // The same prompt through /tokenize (messages) and /v1/completions (rendered text).
  reply tokens = send("/tokenize", "{" + messages + "}");
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  auto counted = parse_json(tokens.body);
  EXPECT_EQ(counted["count"].GetInt(), doc["usage"]["prompt_tokens"].GetInt());
  EXPECT_EQ(counted["tokens"][0].GetInt(), 1);  // <s> from the template, not added twice
  EXPECT_NE(counted["tokens"][1].GetInt(), 1);
  reply completion = send("/v1/completions", R"({"prompt": "<s>[user] Hello there</s>[assistant]",
      "add_special_tokens": false, "max_tokens": 6, "temperature": 0, "ignore_eos": true})");
  ASSERT_EQ(completion.status, 200) << completion.body;
  EXPECT_EQ(parse_json(completion.body)["choices"][0]["text"].GetString(), content);

  // Streaming gives the same text.
  reply stream = send("/v1/chat/completions", "{" + messages +
                                                  R"(, "max_tokens": 6, "temperature": 0,
                                                  "ignore_eos": true, "stream": true})");
  ASSERT_EQ(stream.status, 200) << stream.body;
  std::string streamed;
  auto payloads = testing::sse_payloads(stream.body);
  for (size_t i = 1; i + 1 < payloads.size(); ++i)
    streamed += parse_json(payloads[i])["choices"][0]["delta"]["content"].GetString();
  EXPECT_EQ(streamed, content);

  // Detokenizing the prompt's ids gives the rendered text back.
  std::string ids = tokens.body.substr(tokens.body.find('['));
  ids = ids.substr(0, ids.find(']') + 1);
  reply text = send("/detokenize", R"({"tokens": )" + ids + "}");
  ASSERT_EQ(text.status, 200) << text.body;
  // (Llama-2's Metaspace adds a space before each segment after a special token.)
  std::string decoded = parse_json(text.body)["prompt"].GetString();
  EXPECT_EQ(decoded.rfind("<s>", 0), 0u) << decoded;
  EXPECT_NE(decoded.find("[user] Hello there</s>"), std::string::npos) << decoded;
}

}  // namespace
}  // namespace troupe::http
