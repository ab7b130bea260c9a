// Data parallelism end to end on the embedded default model (SmolLM2-135M-Instruct): two engines
// (each its own batcher, KV allocator, cache and executor, one compute thread each) behind one
// HTTP server:
//  - 16 concurrent greedy streams spread over both engines and equal one engine's answers one
//    at a time; both engines end with nothing held;
//  - vLLM's X-data-parallel-rank header sends a request to the engine it names, a rank outside
//    [0, 2) is refused with vLLM's 400, a header that is not an integer is ignored;
//  - the seed's command line with `--data-parallel-size 2` (2 engines of 2 tensor-parallel
//    ranks) starts bin/troupe and serves.
// Skips when the model has not been fetched (tools/setup.sh --model).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/completions.hpp"
#include "tests/integration/serve_process.hpp"
#include "tests/integration/suite_server.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

using testing::sample_value;

const auto& prompts = testing::mixed_prompts;
constexpr int32_t max_tokens = 24;

// One engine's answers (`alone_`, one prompt at a time), then the suite's server over two.
class serving_data_parallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    runtime::engine_config config = testing::default_model_suite_config();
    config.model = testing::default_model_gguf();
    config.num_gpu_blocks_override = 32;
    config.num_compute_threads = 1;
    alone_ = testing::answers_one_at_a_time(runtime::build_engine(config), prompts, max_tokens);
    if (alone_.empty()) return;
    config.data_parallel_size = 2;
    config.num_compute_threads = 2;  // one a rank
    suite_.start(runtime::build_engine(config));
  }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override {
    if (suite_.engine() == nullptr)
      GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }

  static double generated_by(int32_t engine) {
    return sample_value(suite_.metrics(), "vllm:generation_tokens_total{model_name=\"" +
                                              suite_.engine()->info().served_model_name +
                                              "\",engine=\"" + std::to_string(engine) + "\"}");
  }
  static void expect_everything_released() { testing::expect_everything_released(suite_, 1, 2); }

  static inline testing::suite_server suite_;
  static inline std::vector<std::string> alone_;
};

TEST_F(serving_data_parallel, sixteen_concurrent_streams_spread_over_both_engines) {
  const double before[] = {generated_by(0), generated_by(1)};
  std::vector<std::string> together(16);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < together.size(); ++i) {
    clients.emplace_back([&, i] {
      together[i] =
          testing::stream_text(suite_.server().port(), prompts[i % prompts.size()], max_tokens);
    });
  }
  for (auto& c : clients)
    c.join();
  ASSERT_EQ(alone_.size(), prompts.size());
  for (size_t i = 0; i < together.size(); ++i) {
    EXPECT_FALSE(alone_[i % prompts.size()].empty());
    EXPECT_EQ(together[i], alone_[i % prompts.size()]) << prompts[i % prompts.size()];
  }
  EXPECT_GT(generated_by(0), before[0]);
  EXPECT_GT(generated_by(1), before[1]);
  expect_everything_released();
}

TEST_F(serving_data_parallel, the_rank_header_routes_and_a_rank_out_of_range_is_refused) {
  http::testing::test_client client(suite_.server().port());
  const std::string body =
      R"({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "ignore_eos": true})";
  auto post = [&](const std::string& rank) {
    return client.request(http::testing::bhttp::verb::post, "/v1/completions", body,
                          {{"X-data-parallel-rank", rank}});
  };
  for (int32_t engine : {1, 0}) {
    const double before[] = {generated_by(0), generated_by(1)};
    auto reply = post(std::to_string(engine));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(generated_by(engine), before[engine] + 8) << "engine " << engine;
    EXPECT_EQ(generated_by(1 - engine), before[1 - engine]) << "engine " << 1 - engine;
  }
  for (const char* bad : {"2", "-1"}) {
    auto refused = post(bad);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(
        refused.body.find("data_parallel_rank " + std::string(bad) + " is out of range [0, 2)."),
        std::string::npos)
        << refused.body;
  }
  EXPECT_EQ(post("one").status, 200);  // not an integer: no rank, as in vLLM
  expect_everything_released();
}

// The user's vLLM command line with two data-parallel engines: 2 x 2 ranks.
TEST(serve_command_line, the_seeds_line_with_two_data_parallel_engines_serves) {
  const std::string model = testing::default_model_gguf();
  if (model.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  if (!testing::serve_process::binary_built()) GTEST_SKIP() << "bin/troupe is not built";
  const std::string log =
      testing::serve_seed_line_once(model, " --data-parallel-size 2", "serve_tp2_dp2.log");
  EXPECT_NE(log.find("engine 1: tensor-parallel rank 1"), std::string::npos) << log;
  EXPECT_NE(log.find("2 data-parallel engines"), std::string::npos) << log;
}

}  // namespace
}  // namespace troupe
