// The engine around the real default model (SmolLM2-135M, CPU runner): greedy outputs are the same
// for a request alone and in a crowd that mixes prompt chunks and decodes, and every kind of
// sampling (seeded, penalties, logprobs) gives the same tokens with async scheduling as without.
// Skips without the model.
#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::actors {
namespace {

std::unique_ptr<engine> start_default_model_engine(const std::string& path,
                                                   bool async_scheduling = false) {
  auto file = runtime::gguf_file::open(path);
  if (!file) ADD_FAILURE() << file.message();
  if (!file) return nullptr;
  auto vocab = runtime::vocab_from_gguf(**file);
  auto hparams = runtime::llama_hparams_from_gguf(**file);
  auto weights = runtime::load_llama_gguf(**file, 2);
  if (!vocab || !hparams || !weights) ADD_FAILURE() << "cannot load " << path;
  if (!vocab || !hparams || !weights) return nullptr;
  auto tokenizer = runtime::make_bpe_tokenizer(std::move(*vocab));
  auto runner = runtime::cpu_llama_runner::create(std::move(*weights), 64, 16, 2);
  if (!tokenizer || !runner) ADD_FAILURE() << "cannot build the tokenizer or the runner";
  if (!tokenizer || !runner) return nullptr;
  runtime::engine_config config;
  config.max_num_batched_tokens = 8;  // prompts are chunked, and chunks share steps with decodes
  config.disable_log_requests = true;
  config.async_scheduling = async_scheduling;
  auto started = start_engine(config, std::move(*tokenizer), std::move(*runner),
                              hparams->max_position_embeddings);
  if (!started) ADD_FAILURE() << started.message();
  return started ? std::move(*started) : nullptr;
}

std::shared_ptr<testing::collecting_sink> submit_greedy(engine& e, const std::string& prompt) {
  generation_request request;
  request.prompt = prompt;
  request.max_tokens = 6;
  request.sampling.temperature = 0.0f;
  auto sink = std::make_shared<testing::collecting_sink>();
  e.submit(request, sink);
  return sink;
}

TEST(EngineModel, GreedyOutputAloneEqualsOutputInACrowd) {
  const std::string path = testing::default_model_gguf();
  if (path.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  auto e = start_default_model_engine(path);
  ASSERT_TRUE(e);
  const std::vector<std::string> prompts{"The capital of France is",
                                         "Once upon a time, there was a little", "1, 2, 3, 4,"};
  std::vector<std::vector<int32_t>> alone;
  for (const auto& prompt : prompts) {
    auto sink = submit_greedy(*e, prompt);
    ASSERT_TRUE(sink->wait_finished(std::chrono::seconds(120)));
    ASSERT_FALSE(sink->last().error) << *sink->last().error;
    EXPECT_EQ(sink->last().num_output_tokens, 6);
    alone.push_back(sink->token_ids());
  }
  std::vector<std::shared_ptr<testing::collecting_sink>> crowd;
  for (const auto& prompt : prompts)
    crowd.push_back(submit_greedy(*e, prompt));
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(crowd[i]->wait_finished(std::chrono::seconds(120)));
    EXPECT_EQ(crowd[i]->token_ids(), alone[i]) << prompts[i];
    EXPECT_EQ(crowd[i]->text(), e->tokenizer().decode(alone[i], true));
  }
  EXPECT_FALSE(crowd[0]->text().empty());
}

// Placeholders reach the model as the tokens they stand for: in the input, and in the history
// the penalties read. Requests run together, with prompt chunks sharing steps with decodes.
TEST(EngineModel, AsyncSchedulingSamplesWhatSynchronousSchedulingDoes) {
  const std::string path = testing::default_model_gguf();
  if (path.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  std::vector<generation_request> requests(5);
  requests[0].prompt = "The capital of France is";
  requests[0].sampling.temperature = 0.0f;
  requests[1].prompt = "Once upon a time, there was a little";
  requests[1].sampling.temperature = 0.8f;
  requests[1].sampling.top_p = 0.9f;
  requests[1].sampling.seed = 11;
  requests[2].prompt = "1, 2, 3, 4,";
  requests[2].sampling.temperature = 0.0f;
  requests[2].sampling.repetition_penalty = 1.5f;
  requests[2].sampling.frequency_penalty = 0.5f;
  requests[3].prompt = "My favourite colour is";
  requests[3].sampling.temperature = 1.0f;
  requests[3].sampling.seed = 5;
  requests[3].sampling.presence_penalty = 1.0f;
  requests[3].logprobs = 2;
  requests[3].sampling.logprobs = true;
  requests[3].sampling.num_top_logprobs = 2;
  requests[4].prompt = "Water boils at";
  requests[4].sampling.temperature = 0.0f;
  requests[4].sampling.min_tokens = 4;
  for (auto& r : requests)
    r.max_tokens = 10;
  std::vector<std::vector<std::vector<int32_t>>> tokens(2);
  std::vector<std::vector<std::vector<float>>> logprobs(2);
  for (const bool async : {false, true}) {
    auto e = start_default_model_engine(path, async);
    ASSERT_TRUE(e);
    std::vector<std::shared_ptr<testing::collecting_sink>> sinks;
    for (const auto& r : requests) {
      sinks.push_back(std::make_shared<testing::collecting_sink>());
      e->submit(r, sinks.back());
    }
    for (const auto& sink : sinks) {
      ASSERT_TRUE(sink->wait_finished(std::chrono::seconds(120)));
      ASSERT_FALSE(sink->last().error) << *sink->last().error;
      tokens[async].push_back(sink->token_ids());
      std::vector<float> values;
      for (const auto& event : sink->events()) {
        for (const auto& lp : event.logprobs)
          values.push_back(lp.logprob);
      }
      logprobs[async].push_back(values);
    }
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_FALSE(tokens[0][i].empty()) << requests[i].prompt;
    EXPECT_EQ(tokens[1][i], tokens[0][i]) << requests[i].prompt;
    EXPECT_EQ(logprobs[1][i], logprobs[0][i]) << requests[i].prompt;
  }
  EXPECT_EQ(logprobs[0][3].size(), tokens[0][3].size());
}

}  // namespace
}  // namespace troupe::actors
