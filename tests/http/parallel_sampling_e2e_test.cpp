// End to end: /v1/completions with n = 3 on a tiny random Llama (CPU runner, byte tokenizer).
// Seeded, streamed or not, the three choices differ and choice i equals the single request with
// seed + i; usage counts the prompt once and the completion tokens of every choice.
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/http/test_client.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;
using testing::test_client;

constexpr const char* prompt = "THE 30 TOKENS OF THIS PROMPT.";  // bytes below the vocab's 97

std::string body(int n, uint64_t seed, bool stream) {
  return std::string(R"({"prompt": ")") + prompt + R"(", "max_tokens": 6, "temperature": 1.0, )" +
         R"("ignore_eos": true, "n": )" + std::to_string(n) + R"(, "seed": )" +
         std::to_string(seed) + R"(, "stream": )" + (stream ? "true" : "false") +
         R"(, "stream_options": )" + (stream ? R"({"include_usage": true})" : "null") + "}";
}

struct completion {
  std::map<int, std::string> text;           // by choice index
  std::map<int, std::string> finish_reason;  // by choice index
  int prompt_tokens = -1;
  int completion_tokens = -1;
};

class parallel_sampling_e2e : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hp = troupe::testing::tiny_hparams();
    auto runner = runtime::cpu_llama_runner::create(troupe::testing::tiny_llama(hp, 5), 128, 4, 1);
    ASSERT_TRUE(runner.ok()) << runner.message();
    runtime::engine_config config;
    config.served_model_name = "tiny";
    config.disable_log_requests = true;
    auto engine = actors::start_engine(config, std::make_shared<troupe::testing::byte_tokenizer>(),
                                       std::move(*runner), hp.max_position_embeddings);
    ASSERT_TRUE(engine.ok()) << engine.message();
    engine_ = std::move(*engine);
    server_options options;
    options.port = 0;
    options.disable_log_requests = true;
    auto server = start_server(*engine_, options);
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(*server);
  }

  void TearDown() override {
    server_.reset();
    engine_.reset();
  }

  completion post(int n, uint64_t seed, bool stream) {
    test_client client(server_->port());
    auto r = client.post(body(n, seed, stream));
    EXPECT_EQ(r.status, 200) << r.body;
    completion c;
    if (!stream) {
      auto doc = parse_json(r.body);
      EXPECT_TRUE(doc.IsObject() && doc.HasMember("choices")) << r.body;
      if (!doc.IsObject() || !doc.HasMember("choices")) return c;
      for (const auto& choice : doc["choices"].GetArray()) {
        const int index = choice["index"].GetInt();
        c.text[index] = choice["text"].GetString();
        c.finish_reason[index] = choice["finish_reason"].GetString();
      }
      c.prompt_tokens = doc["usage"]["prompt_tokens"].GetInt();
      c.completion_tokens = doc["usage"]["completion_tokens"].GetInt();
      return c;
    }
    const auto payloads = testing::sse_payloads(r.body);
    EXPECT_FALSE(payloads.empty());
    if (payloads.empty()) return c;
    EXPECT_EQ(payloads.back(), "[DONE]");
    for (const auto& payload : payloads) {
      if (payload == "[DONE]") continue;
      auto doc = parse_json(payload);
      if (doc.HasMember("usage") && doc["usage"].IsObject()) {
        c.prompt_tokens = doc["usage"]["prompt_tokens"].GetInt();
        c.completion_tokens = doc["usage"]["completion_tokens"].GetInt();
      }
      for (const auto& choice : doc["choices"].GetArray()) {
        const int index = choice["index"].GetInt();
        c.text[index] += choice["text"].GetString();
        if (choice["finish_reason"].IsString())
          c.finish_reason[index] = choice["finish_reason"].GetString();
      }
    }
    return c;
  }

  void check_three_choices(bool stream) {
    constexpr uint64_t seed = 42;
    const completion all = post(3, seed, stream);
    ASSERT_EQ(all.text.size(), 3u);
    EXPECT_EQ(all.finish_reason,
              (std::map<int, std::string>{{0, "length"}, {1, "length"}, {2, "length"}}));
    EXPECT_EQ(all.completion_tokens, 18);
    for (int i = 0; i < 3; ++i) {
      const completion single = post(1, seed + static_cast<uint64_t>(i), stream);
      ASSERT_EQ(single.text.size(), 1u);
      EXPECT_EQ(all.text.at(i), single.text.at(0)) << "choice " << i;
      EXPECT_EQ(all.prompt_tokens, single.prompt_tokens);
      EXPECT_EQ(single.completion_tokens, 6);
    }
    EXPECT_NE(all.text.at(0), all.text.at(1));
    EXPECT_NE(all.text.at(1), all.text.at(2));
  }

  std::unique_ptr<actors::engine> engine_;
  std::unique_ptr<server> server_;
};

TEST_F(parallel_sampling_e2e, ChoicesEqualSingleRequestsWithSeedPlusIndex) {
  check_three_choices(/*stream=*/false);
}

TEST_F(parallel_sampling_e2e, StreamedChoicesEqualSingleRequestsWithSeedPlusIndex) {
  check_three_choices(/*stream=*/true);
}

TEST_F(parallel_sampling_e2e, TooManyChoicesAreRejected) {
  test_client client(server_->port());
  auto r = client.post(body(129, 1, false));
  testing::expect_error_body(r, 400, "BadRequestError");
}

}  // namespace
}  // namespace troupe::http
