// Tensor parallelism end to end on the embedded default model (SmolLM2-135M-Instruct), two ranks
// each on its own executor actor, through the HTTP server:
//  - 16 concurrent greedy streams equal the same requests one at a time, on a KV cache small
//    enough to preempt;
//  - 16 concurrent greedy requests held to a regex (structured outputs) equal the same requests
//    one at a time and match it, through preemption: a re-admitted sequence's grammar replays
//    its outputs at both ranks;
//  - aborted and preempted requests give back every block, and no rank holds a sequence after;
//  - a rank that throws fails its step's requests with a 500, the server keeps serving, and the
//    failed step's blocks are not found by the prefix cache;
//  - the seed's first command line (`--tensor-parallel-size 2 ...`) starts bin/troupe and serves.
// Skips when the model has not been fetched (tools/setup.sh --model).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/backend/shared_memory_communicator.hpp"
#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/regex_grammar.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "runtime/serving/model_files.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/completions.hpp"
#include "tests/integration/serve_process.hpp"
#include "tests/integration/suite_server.hpp"
#include "tests/runtime/model/failing_backend.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

using namespace std::chrono_literals;

const auto& prompts = testing::mixed_prompts;

using testing::sample_value;

// One engine at TP=2 for the suite, its rank 1 on a backend the tests can make fail; 24 blocks of
// 16 tokens, too few for 16 streams at once; speculative decoding on (ngram, 3 drafts), so every
// rank verifies the same drafts and takes the same rejected ones back.
class serving_tensor_parallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    runtime::engine_config config;
    config.model = testing::default_model_gguf();
    config.tensor_parallel_size = 2;
    config.num_gpu_blocks_override = 24;
    config.max_num_batched_tokens = 64;
    config.disable_log_requests = true;
    config.speculative = {3, 2, 4};
    auto files = runtime::load_model_files(config);
    ASSERT_TRUE(files) << files.message();
    const auto& weights = files->weights;
    auto group = std::make_shared<backend::shared_memory_group>(2);
    std::vector<std::unique_ptr<runtime::model_runner>> runners;
    for (int32_t r = 0; r < 2; ++r) {
      std::unique_ptr<backend::cpu_backend> compute;
      if (r == 1) {
        auto failing = std::make_unique<testing::failing_backend>(1, &group->rank(r));
        failing_ = failing.get();
        compute = std::move(failing);
      } else {
        compute = std::make_unique<backend::cpu_backend>(1, &group->rank(r));
      }
      auto shard = runtime::llama_runner::create_shard(
          std::move(compute), weights, runtime::make_llama_shard(weights.hparams, r, 2),
          config.num_gpu_blocks_override, config.block_size);
      ASSERT_TRUE(shard) << shard.message();
      runners.push_back(
          std::make_unique<runtime::tensor_parallel_runner>(group, r, std::move(*shard)));
    }
    suite_.start(runtime::assemble_engine(config, files->tokenizer, std::move(runners),
                                          weights.hparams.max_position_embeddings));
  }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override {
    if (suite_.engine() == nullptr)
      GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }

  static void expect_everything_released() { testing::expect_everything_released(suite_, 2); }

  static inline testing::suite_server suite_;
  static inline testing::failing_backend* failing_ = nullptr;  // rank 1's
};

TEST_F(serving_tensor_parallel, sixteen_concurrent_streams_equal_one_at_a_time) {
  const uint16_t port = suite_.server().port();
  std::vector<std::string> alone;
  for (const auto& p : prompts)
    alone.push_back(testing::stream_text(port, p, 24));
  const int64_t preempted_before = suite_.engine()->stats().num_preemptions;
  std::vector<std::string> together(16);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < together.size(); ++i) {
    clients.emplace_back(
        [&, i] { together[i] = testing::stream_text(port, prompts[i % prompts.size()], 24); });
  }
  for (auto& c : clients)
    c.join();
  for (size_t i = 0; i < together.size(); ++i) {
    EXPECT_FALSE(alone[i % prompts.size()].empty());
    EXPECT_EQ(together[i], alone[i % prompts.size()]) << prompts[i % prompts.size()];
  }
  EXPECT_GT(suite_.engine()->stats().num_preemptions, preempted_before)
      << "the cache was never tight";
  const std::string text = suite_.metrics();
  const auto accepted = text.find("\nvllm:spec_decode_num_accepted_tokens_total{");
  ASSERT_NE(accepted, std::string::npos);
  EXPECT_GT(std::stod(text.substr(text.find("} ", accepted) + 2)), 0) << "no draft accepted";
  expect_everything_released();
}

TEST_F(serving_tensor_parallel, constrained_requests_through_preemption_equal_one_at_a_time) {
  const std::string pattern = "[A-Z][a-z]+( [a-z]+){20,40}\\.";
  auto grammar = runtime::grammar::regex_to_grammar("[A-Z][a-z]+( [a-z]+){20,40}\\.");
  ASSERT_TRUE(grammar.ok()) << grammar.message();
  auto answer = [&](const std::string& prompt) {
    http::testing::test_client client(suite_.server().port());
    rapidjson::StringBuffer body;
    rapidjson::Writer<rapidjson::StringBuffer> w(body);
    w.StartObject();
    w.Key("prompt");
    w.String(prompt.c_str());
    w.Key("max_tokens");
    w.Int(24);
    w.Key("temperature");
    w.Int(0);
    w.Key("structured_outputs");
    w.StartObject();
    w.Key("regex");
    w.String(pattern.c_str());
    w.EndObject();
    w.EndObject();
    auto reply = client.post(body.GetString());
    EXPECT_EQ(reply.status, 200) << reply.body;
    auto doc = http::testing::parse_json(reply.body);
    return std::string(doc["choices"][0]["text"].GetString()) + "|" +
           doc["choices"][0]["finish_reason"].GetString();
  };
  std::vector<std::string> alone;
  for (const auto& p : prompts)
    alone.push_back(answer(p));
  const int64_t preempted_before = suite_.engine()->stats().num_preemptions;
  std::vector<std::string> together(16);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < together.size(); ++i)
    clients.emplace_back([&, i] { together[i] = answer(prompts[i % prompts.size()]); });
  for (auto& c : clients)
    c.join();
  for (size_t i = 0; i < together.size(); ++i) {
    EXPECT_EQ(together[i], alone[i % prompts.size()]) << prompts[i % prompts.size()];
    const auto bar = together[i].rfind('|');
    const std::string text = together[i].substr(0, bar);
    const bool finished = together[i].substr(bar + 1) == "stop";
    auto ok = finished ? runtime::grammar::accepts(*grammar, text)
                       : runtime::grammar::accepts_prefix(*grammar, text);
    EXPECT_TRUE(ok.ok() && *ok) << together[i];
  }
  EXPECT_GT(suite_.engine()->stats().num_preemptions, preempted_before)
      << "the cache was never tight";
  expect_everything_released();
}

TEST_F(serving_tensor_parallel, aborts_and_preemption_free_every_block) {
  std::vector<std::shared_ptr<testing::collecting_sink>> sinks;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 12; ++i) {
    actors::generation_request request;
    request.prompt = prompts[static_cast<size_t>(i) % prompts.size()];
    request.max_tokens = 40;
    request.ignore_eos = true;
    request.sampling.temperature = 0.0f;
    sinks.push_back(std::make_shared<testing::collecting_sink>());
    ids.push_back(suite_.engine()->submit(request, sinks.back()));
  }
  for (size_t i = 0; i < ids.size(); i += 3) {
    ASSERT_TRUE(sinks[i]->wait_events(2, 120s));
    suite_.engine()->abort(ids[i]);
  }
  for (auto& sink : sinks)
    ASSERT_TRUE(sink->wait_finished(300s));
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (i % 3 == 0) continue;
    EXPECT_FALSE(sinks[i]->last().error) << *sinks[i]->last().error;
    EXPECT_EQ(sinks[i]->token_ids().size(), 40u);
  }
  expect_everything_released();
}

TEST_F(serving_tensor_parallel, a_rank_that_throws_fails_its_step_and_the_server_keeps_serving) {
  const std::string prompt =
      "A prompt long enough to fill a whole KV block of sixteen tokens, at "
      "least, so that the failed step registers one";
  http::testing::test_client client(suite_.server().port());
  failing_->fail_in = 20;  // a matmul of layer 2 at rank 1, in the next step
  auto failed = client.post(testing::greedy_completion_body(prompt, 8, false));
  EXPECT_EQ(failed.status, 500) << failed.body;
  EXPECT_NE(failed.body.find("injected matmul failure"), std::string::npos) << failed.body;
  expect_everything_released();
  // The same prompt again: computed anew (the failed step's blocks were dropped from the cache),
  // so it equals the prompt computed apart from every cached prefix.
  auto after = client.post(testing::greedy_completion_body(prompt, 8, false));
  ASSERT_EQ(after.status, 200) << after.body;
  auto fresh = client.post(testing::greedy_completion_body(prompt, 8, false, "fresh"));
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  const auto text = [](const std::string& body) {
    return std::string(http::testing::parse_json(body)["choices"][0]["text"].GetString());
  };
  EXPECT_FALSE(text(after.body).empty());
  EXPECT_EQ(text(after.body), text(fresh.body));
  expect_everything_released();
}

// The user's vLLM command line, unchanged but for the model path and the port.
TEST(serve_command_line, the_seeds_tensor_parallel_line_serves) {
  const std::string model = testing::default_model_gguf();
  if (model.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  if (!testing::serve_process::binary_built()) GTEST_SKIP() << "bin/troupe is not built";
  testing::serve_process serve(testing::seed_serve_args(model), "serve_tp2.log");
  ASSERT_NE(serve.port(), 0) << serve.log();
  http::testing::test_client client(serve.port());
  auto reply = client.post(R"({"model": "smol", "prompt": "The capital of France is",)"
                           R"( "max_tokens": 8, "temperature": 0})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  // Both ranks forget the request once the batcher goes idle (just after the reply).
  std::string body;
  for (int i = 0; i < 500; ++i) {
    body = client.request(http::testing::bhttp::verb::get, "/metrics").body;
    if (sample_value(body, "troupe_executor_sequences{rank=\"1\"}") == 0) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(sample_value(body, "troupe_executor_sequences{rank=\"1\"}"), 0) << body;
  EXPECT_TRUE(serve.stop()) << "troupe serve did not stop on SIGTERM";
  EXPECT_NE(serve.log().find("tensor-parallel rank 1"), std::string::npos) << serve.log();
}

}  // namespace
}  // namespace troupe
