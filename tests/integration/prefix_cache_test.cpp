// Prefix caching end to end on the embedded default model, through the HTTP server:
//  - two greedy requests sharing a long prefix produce the same text with the cache on as with
//    --no-enable-prefix-caching, and the second reports usage.prompt_tokens_details.cached_tokens
//    equal to the full blocks of the common prefix (absent when nothing was cached, or when off);
//  - clients that disconnect mid-stream leave every KV block free once the rest have finished,
//    while the cache keeps their prefix blocks for later requests.
// Skips when the model has not been fetched (tools/setup.sh --model).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/completions.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

using namespace std::chrono_literals;

struct served_model {
  std::unique_ptr<actors::engine> engine;
  std::unique_ptr<http::server> server;
};

served_model serve_default_model(bool prefix_caching) {
  runtime::engine_config config;
  config.num_gpu_blocks_override = 256;
  config.max_num_batched_tokens = 64;  // the prefix is computed in chunks
  config.disable_log_requests = true;
  config.enable_prefix_caching = prefix_caching;
  auto built = runtime::build_engine(config);
  EXPECT_TRUE(built) << built.message();
  if (!built) return {};
  auto started = actors::start_engine(std::move(*built));
  EXPECT_TRUE(started) << started.message();
  if (!started) return {};
  served_model s{std::move(*started), nullptr};
  http::server_options options;
  options.port = 0;
  options.disable_log_requests = true;
  options.enable_prompt_tokens_details = true;
  auto server = http::start_server(*s.engine, options);
  EXPECT_TRUE(server) << server.message();
  if (server) s.server = std::move(*server);
  return s;
}

struct completion {
  std::string text;
  std::optional<int32_t> cached_tokens;  // usage.prompt_tokens_details.cached_tokens if not null
};

completion complete(uint16_t port, const std::string& prompt) {
  http::testing::test_client client(port);
  auto reply = client.post(testing::greedy_completion_body(prompt, 16, false));
  EXPECT_EQ(reply.status, 200) << reply.body;
  auto doc = http::testing::parse_json(reply.body);
  completion c;
  if (!doc.IsObject() || !doc.HasMember("choices")) return c;
  c.text = doc["choices"][0]["text"].GetString();
  const auto& usage = doc["usage"];
  if (usage.HasMember("prompt_tokens_details") && usage["prompt_tokens_details"].IsObject()) {
    c.cached_tokens = usage["prompt_tokens_details"]["cached_tokens"].GetInt();
  }
  return c;
}

// A long shared prefix (a system prompt) and two different questions after it.
const std::string shared_prefix = [] {
  std::string p = "You are a careful assistant that answers questions about the solar system. ";
  for (int i = 0; i < 6; ++i) {
    p += "The planets, in order from the Sun, are Mercury, Venus, Earth, Mars, Jupiter, Saturn, "
         "Uranus and Neptune; each one is described in the notes that follow. ";
  }
  return p;
}();
const std::string first_prompt = shared_prefix + "Question: which planet is the largest?";
const std::string second_prompt = shared_prefix + "Question: which planet is closest to the Sun?";

// Full 16-token blocks of the common token prefix of the two prompts, leaving the last token.
int32_t expected_cached_tokens(const actors::engine& engine) {
  const auto a = engine.tokenizer().encode(first_prompt, true);
  const auto b = engine.tokenizer().encode(second_prompt, true);
  const auto common = std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
  const auto usable = std::min<int64_t>(common, static_cast<int64_t>(b.size()) - 1);
  return static_cast<int32_t>(usable / 16 * 16);
}

bool wait_all_blocks_free(const actors::engine& engine, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto s = engine.stats();
    if (s.num_kv_blocks_used == 0 && s.num_live_requests == 0) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(PrefixCacheDefaultModel, SameTextAsWithoutTheCacheAndCachedTokensReported) {
  if (testing::default_model_gguf().empty()) {
    GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }
  completion on_first, on_second;
  {
    auto on = serve_default_model(true);
    ASSERT_TRUE(on.server);
    const uint16_t port = on.server->port();
    const int32_t expected = expected_cached_tokens(*on.engine);
    ASSERT_GE(expected, 160);  // the prefix is long: at least 10 blocks
    on_first = complete(port, first_prompt);
    on_second = complete(port, second_prompt);
    EXPECT_FALSE(on_first.cached_tokens) << "nothing was cached yet: no prompt_tokens_details";
    EXPECT_EQ(on_second.cached_tokens, expected);

    // Clients gone mid-stream: their requests are aborted and release every block.
    std::vector<std::unique_ptr<http::testing::test_client>> quitters;
    for (int i = 0; i < 4; ++i) {
      quitters.push_back(std::make_unique<http::testing::test_client>(port));
      quitters.back()->send(boost::beast::http::verb::post, "/v1/completions",
                            testing::greedy_completion_body(
                                shared_prefix + "Story " + std::to_string(i) + ":", 400, true));
    }
    for (auto& q : quitters) {
      EXPECT_NE(q->read_until("data:").find("data:"), std::string::npos);
      q->close();
    }
    const auto third = complete(port, first_prompt);  // still served, from the cache
    EXPECT_EQ(third.text, on_first.text);
    EXPECT_TRUE(third.cached_tokens && *third.cached_tokens > 0);
    EXPECT_TRUE(wait_all_blocks_free(*on.engine, 60s));
    const auto stats = on.engine->stats();
    EXPECT_TRUE(stats.prefix_caching);
    EXPECT_GT(stats.num_kv_blocks_cached, 0);
    EXPECT_GT(stats.num_prefix_cache_hits, 0);
  }
  auto off = serve_default_model(false);
  ASSERT_TRUE(off.server);
  const auto off_first = complete(off.server->port(), first_prompt);
  const auto off_second = complete(off.server->port(), second_prompt);
  EXPECT_EQ(off_first.text, on_first.text);
  EXPECT_EQ(off_second.text, on_second.text);
  EXPECT_FALSE(off_first.text.empty());
  EXPECT_FALSE(off_second.cached_tokens);
  EXPECT_EQ(off.engine->stats().num_prefix_cache_hits, 0);
}

}  // namespace
}  // namespace troupe
