// End to end on the embedded default model (SmolLM2-135M-Instruct), as `troupe serve` runs it:
// the CLI's model loading, the actor engine and the HTTP server.
//  - prompt token ids and the first 32 greedy tokens equal llama.cpp's on the same weights
//    dequantized to F32 (tests/data/reference/smollm2_f32_greedy.json,
//    tools/llamacpp_reference.py), served with --dtype float32 (the reference path)
//  - served as stored (Q4_1 blocks, int8 activations), the greedy tokens follow llama.cpp's own
//    Q4_1 run at least as far as the f32 reference's tokens do
//  - 16 concurrent streaming requests produce the same text as the same requests one at a time
//    (as stored: batch invariance of the quantized kernels).
// Skips when the model has not been fetched (tools/setup.sh --model).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/completions.hpp"
#include "tests/integration/suite_server.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

struct reference_prompt {
  std::string name, prompt;
  std::vector<int32_t> prompt_ids, greedy_ids, greedy_ids_q4_1;
};

std::vector<int32_t> int_array(const rapidjson::Value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.GetArray())
    out.push_back(x.GetInt());
  return out;
}

std::vector<reference_prompt> load_reference() {
  std::ifstream in(testing::repo_testdata("reference/smollm2_f32_greedy.json"));
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  EXPECT_FALSE(doc.HasParseError());
  std::vector<reference_prompt> out;
  for (const auto& p : doc["prompts"].GetArray()) {
    out.push_back({p["name"].GetString(), p["prompt"].GetString(), int_array(p["prompt_ids"]),
                   int_array(p["greedy_ids"]), int_array(p["greedy_ids_q4_1"])});
  }
  return out;
}

// One engine and one server for the whole suite: loading the model takes a second.
class serving_default_model : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    runtime::engine_config config = testing::default_model_suite_config();
    config.dtype = "float32";  // the reference path: llama.cpp's F32 run is the oracle
    suite_.start(runtime::build_engine(config));
  }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override {
    if (suite_.engine() == nullptr)
      GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }

  static std::shared_ptr<testing::collecting_sink> submit(const std::string& prompt,
                                                          int32_t max_tokens) {
    actors::generation_request request;
    request.prompt = prompt;
    request.max_tokens = max_tokens;
    request.ignore_eos = true;  // the reference runs exactly 32 tokens, EOS or not
    request.sampling.temperature = 0.0f;
    auto sink = std::make_shared<testing::collecting_sink>();
    suite_.engine()->submit(request, sink);
    return sink;
  }

  static inline testing::suite_server suite_;
};

TEST_F(serving_default_model, prompt_ids_equal_llama_cpp) {
  for (const auto& ref : load_reference()) {
    EXPECT_EQ(suite_.engine()->tokenizer().encode(ref.prompt, true), ref.prompt_ids) << ref.name;
  }
}

TEST_F(serving_default_model, greedy_tokens_equal_llama_cpp_f32_in_one_batch) {
  auto refs = load_reference();
  ASSERT_GE(refs.size(), 8u);
  std::vector<std::shared_ptr<testing::collecting_sink>> sinks;
  for (const auto& ref : refs)
    sinks.push_back(submit(ref.prompt, 32));
  for (size_t i = 0; i < refs.size(); ++i) {
    ASSERT_TRUE(sinks[i]->wait_finished(std::chrono::seconds(300))) << refs[i].name;
    ASSERT_FALSE(sinks[i]->last().error) << *sinks[i]->last().error;
    EXPECT_EQ(sinks[i]->token_ids(), refs[i].greedy_ids) << refs[i].name;
  }
}

// How many leading tokens of `a` and `b` agree.
size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n])
    ++n;
  return n;
}

// The model as stored: Q4_1 projections and a Q8_0 LM head multiplying int8-quantized
// activations, as llama.cpp computes them (with another float summation order, so tokens drift
// apart after near-ties, as the f32 reference's do).
class serving_default_model_as_stored : public serving_default_model {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    stored_.start(runtime::build_engine(testing::default_model_suite_config()));
  }
  static void TearDownTestSuite() { stored_.stop(); }
  void SetUp() override {
    if (stored_.engine() == nullptr)
      GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }
  static inline testing::suite_server stored_;
};

TEST_F(serving_default_model_as_stored, greedy_tokens_follow_llama_cpp_q4_1) {
  auto refs = load_reference();
  ASSERT_GE(refs.size(), 8u);
  size_t prefix = 0, prefix_f32 = 0, same_position = 0, total = 0;
  for (const auto& ref : refs) {
    actors::generation_request request;
    request.prompt = ref.prompt;
    request.max_tokens = 32;
    request.ignore_eos = true;
    request.sampling.temperature = 0.0f;
    auto sink = std::make_shared<testing::collecting_sink>();
    stored_.engine()->submit(request, sink);
    ASSERT_TRUE(sink->wait_finished(std::chrono::seconds(300))) << ref.name;
    ASSERT_FALSE(sink->last().error) << *sink->last().error;
    const auto& q = ref.greedy_ids_q4_1;
    prefix += common_prefix(sink->token_ids(), q);
    prefix_f32 += common_prefix(ref.greedy_ids, q);
    for (size_t t = 0; t < q.size() && t < sink->token_ids().size(); ++t, ++total)
      same_position += q[t] == sink->token_ids()[t];
  }
  std::printf(
      "llama.cpp's Q4_1 tokens followed for %zu tokens in all (the F32 reference's: %zu); %zu / "
      "%zu equal at the same position\n",
      prefix, prefix_f32, same_position, total);
  EXPECT_GE(prefix, prefix_f32);
}

TEST_F(serving_default_model_as_stored, sixteen_concurrent_streams_equal_one_at_a_time) {
  const auto& prompts = testing::mixed_prompts;
  const uint16_t port = stored_.server().port();
  std::vector<std::string> alone;
  for (const auto& p : prompts)
    alone.push_back(testing::stream_text(port, p));

  std::vector<std::string> together(16);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < together.size(); ++i) {
    clients.emplace_back(
        [&, i] { together[i] = testing::stream_text(port, prompts[i % prompts.size()]); });
  }
  for (auto& c : clients)
    c.join();
  for (size_t i = 0; i < together.size(); ++i) {
    EXPECT_FALSE(alone[i % prompts.size()].empty());
    EXPECT_EQ(together[i], alone[i % prompts.size()]) << prompts[i % prompts.size()];
  }
  // Every finished request gives its blocks back: the release is a message that may follow the
  // last streamed token, so it is awaited (as the other suites do), not read at once.
  int32_t used = -1;
  for (int i = 0; i < 500 && used != 0; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    used = stored_.engine()->stats().num_kv_blocks_used;
  }
  EXPECT_EQ(used, 0);
}

}  // namespace
}  // namespace troupe
