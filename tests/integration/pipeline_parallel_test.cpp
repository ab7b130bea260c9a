// Pipeline parallelism end to end on the embedded default model (SmolLM2-135M-Instruct, 30
// layers), two stages of 15 layers each on its own executor actor, through the HTTP server:
//  - 16 concurrent greedy streams, with ngram speculative decoding, equal one runner's answers
//    without drafts to the same requests one at a time, on a KV cache small enough to preempt
//    (stage 0 takes back the drafts only stage 1 saw rejected); every block and every stage's
//    sequences are released;
//  - a stage that throws fails its step's requests with a 500 (the cause named, the stage after
//    it abandoned), the server keeps serving and releases everything;
//  - the seed's command line with `--pipeline-parallel-size 2` (4 ranks: 2 stages of 2
//    tensor-parallel ranks) starts bin/troupe and serves.
// Skips when the model has not been fetched (tools/setup.sh --model).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "runtime/model/pipeline_parallel.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "runtime/serving/model_files.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/completions.hpp"
#include "tests/integration/serve_process.hpp"
#include "tests/integration/suite_server.hpp"
#include "tests/runtime/model/failing_backend.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

using namespace std::chrono_literals;
using testing::sample_value;

const auto& prompts = testing::mixed_prompts;
constexpr int32_t max_tokens = 24;

// One engine at PP=2 for the suite, stage 0 on a backend the tests can make fail; 16 blocks of
// 16 tokens, too few for 16 streams at once; speculative decoding on (ngram, 3 drafts). `alone_`:
// one runner's answers (PP=1, no drafts), one prompt at a time.
class serving_pipeline_parallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    runtime::engine_config config;
    config.model = testing::default_model_gguf();
    config.num_gpu_blocks_override = 16;
    config.max_num_batched_tokens = 64;
    config.disable_log_requests = true;
    alone_ = testing::answers_one_at_a_time(runtime::build_engine(config), prompts, max_tokens);
    if (alone_.empty()) return;
    config.pipeline_parallel_size = 2;
    config.speculative = {3, 2, 4};
    auto files = runtime::load_model_files(config);
    ASSERT_TRUE(files) << files.message();
    const auto& weights = files->weights;
    const auto layers = runtime::pipeline_layer_ranges(weights.hparams.num_layers, 2);
    ASSERT_TRUE(layers.ok()) << layers.message();
    std::vector<std::unique_ptr<runtime::model_runner>> runners;
    std::shared_ptr<runtime::stage_link> into;
    for (int32_t s = 0; s < 2; ++s) {
      std::unique_ptr<backend::cpu_backend> compute;
      if (s == 0) {
        auto failing = std::make_unique<testing::failing_backend>(1);
        failing_ = failing.get();
        compute = std::move(failing);
      } else {
        compute = std::make_unique<backend::cpu_backend>(1);
      }
      auto shard = runtime::make_llama_shard(weights.hparams, 0, 1);
      std::tie(shard.first_layer, shard.end_layer) = (*layers)[static_cast<size_t>(s)];
      auto runner = runtime::llama_runner::create_shard(
          std::move(compute), weights, shard, config.num_gpu_blocks_override, config.block_size);
      ASSERT_TRUE(runner) << runner.message();
      auto out = s == 0 ? std::make_shared<runtime::stage_link>() : nullptr;
      runners.push_back(std::make_unique<runtime::pipeline_stage_runner>(s, 2, nullptr, 0, into,
                                                                         out, std::move(*runner)));
      into = out;
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
  static inline testing::failing_backend* failing_ = nullptr;  // stage 0's
  static inline std::vector<std::string> alone_;
};

TEST_F(serving_pipeline_parallel, sixteen_concurrent_streams_equal_one_runner_one_at_a_time) {
  const uint16_t port = suite_.server().port();
  const int64_t preempted_before = suite_.engine()->stats().num_preemptions;
  std::vector<std::string> together(16);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < together.size(); ++i) {
    clients.emplace_back([&, i] {
      together[i] = testing::stream_text(port, prompts[i % prompts.size()], max_tokens);
    });
  }
  for (auto& c : clients)
    c.join();
  ASSERT_EQ(alone_.size(), prompts.size());
  for (size_t i = 0; i < together.size(); ++i) {
    EXPECT_FALSE(alone_[i % prompts.size()].empty());
    EXPECT_EQ(together[i], alone_[i % prompts.size()]) << prompts[i % prompts.size()];
  }
  EXPECT_GT(suite_.engine()->stats().num_preemptions, preempted_before)
      << "the cache was never tight";
  http::testing::test_client client(port);
  const std::string text = client.request(http::testing::bhttp::verb::get, "/metrics").body;
  const auto drafts = text.find("\nvllm:spec_decode_num_draft_tokens_total{");
  const auto accepted = text.find("\nvllm:spec_decode_num_accepted_tokens_total{");
  ASSERT_NE(accepted, std::string::npos);
  ASSERT_NE(drafts, std::string::npos);
  const double num_accepted = std::stod(text.substr(text.find("} ", accepted) + 2));
  EXPECT_GT(num_accepted, 0) << "no draft accepted";
  EXPECT_LT(num_accepted, std::stod(text.substr(text.find("} ", drafts) + 2)))
      << "no draft rejected";
  // Stage 1 waited for stage 0 at times (its first step at least); stage 0 has no input to wait
  // for.
  EXPECT_GT(sample_value(text, "troupe_executor_input_wait_seconds_total{rank=\"1\"}"), 0);
  EXPECT_EQ(text.find("troupe_executor_input_wait_seconds_total{rank=\"0\"}"), std::string::npos);
  expect_everything_released();
}

TEST_F(serving_pipeline_parallel, a_stage_that_throws_fails_its_step_and_the_server_keeps_serving) {
  http::testing::test_client client(suite_.server().port());
  failing_->fail_in = 20;  // a matmul of stage 0's layer 5, in the next step
  auto failed = client.post(testing::greedy_completion_body(prompts[0], 8, false));
  EXPECT_EQ(failed.status, 500) << failed.body;
  EXPECT_NE(failed.body.find("rank 0: injected matmul failure"), std::string::npos) << failed.body;
  EXPECT_NE(failed.body.find("rank 1: step aborted by another rank"), std::string::npos)
      << failed.body;
  expect_everything_released();
  auto after = client.post(testing::greedy_completion_body(prompts[0], max_tokens, false));
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(http::testing::parse_json(after.body)["choices"][0]["text"].GetString(), alone_[0]);
  expect_everything_released();
}

// The user's vLLM command line with two pipeline stages: 2 x 2 ranks.
TEST(serve_command_line, the_seeds_line_with_two_pipeline_stages_serves) {
  const std::string model = testing::default_model_gguf();
  if (model.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  if (!testing::serve_process::binary_built()) GTEST_SKIP() << "bin/troupe is not built";
  const std::string log =
      testing::serve_seed_line_once(model, " --pipeline-parallel-size 2", "serve_tp2_pp2.log");
  EXPECT_NE(log.find("pipeline stage 1 (layers 15-29), tensor-parallel rank 1"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace troupe
