// The engine around the real default model (SmolLM2-135M, CPU runner): greedy outputs are the same
// for a request alone and in a crowd that mixes prompt chunks and decodes. Skips without the model.
#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::actors {
namespace {

std::unique_ptr<engine> start_default_model_engine(const std::string& path) {
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

}  // namespace
}  // namespace troupe::actors
