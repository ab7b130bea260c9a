// The engine around the real default model (SmolLM2-135M, CPU runner): greedy outputs are the same
// for a request alone and in a crowd that mixes prompt chunks and decodes, and every kind of
// sampling (seeded, penalties, logprobs) gives the same tokens with async scheduling as without.
// Skips without the model.
#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "tests/actors/default_model_engine.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::actors {
namespace {

std::unique_ptr<engine> start_default_model_engine(const std::string& path,
                                                   bool async_scheduling = false) {
  runtime::engine_config config;
  config.max_num_batched_tokens = 8;  // prompts are chunked, and chunks share steps with decodes
  config.async_scheduling = async_scheduling;
  return testing::start_default_model_engine(path, config, 64);
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

// Prompt logprobs through the engine, chunked 8 tokens a step beside another request: scoring
// the prompt extended by its own greedy continuation gives each continuation token back at rank
// 1 with the logprob it was sampled with, bit for bit (the prompt's last rows are the rows that
// sampled them). The scoring request computes its whole prompt although the first request left
// its blocks in the prefix cache.
TEST(EngineModel, PromptLogprobsOfAGreedyContinuationAreItsSampledLogprobs) {
  const std::string path = testing::default_model_gguf();
  if (path.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  auto e = start_default_model_engine(path);
  ASSERT_TRUE(e);
  generation_request first;
  first.prompt =
      "The capital of Germany is Berlin. The capital of Italy is Rome. The capital of "
      "France is";
  first.max_tokens = 3;
  first.logprobs = 0;
  first.sampling.temperature = 0.0f;
  auto sampled = std::make_shared<testing::collecting_sink>();
  e->submit(first, sampled);
  ASSERT_TRUE(sampled->wait_finished(std::chrono::seconds(120)));
  ASSERT_FALSE(sampled->last().error);
  std::vector<token_logprob> continuation;
  for (const auto& event : sampled->events())
    continuation.insert(continuation.end(), event.logprobs.begin(), event.logprobs.end());
  ASSERT_EQ(continuation.size(), 3u);

  generation_request scored;
  scored.prompt_token_ids = e->tokenizer().encode(first.prompt, true);
  const auto num_prompt = static_cast<int32_t>(scored.prompt_token_ids.size());
  for (const auto& t : continuation)
    scored.prompt_token_ids.push_back(t.token_id);
  scored.max_tokens = 1;
  scored.sampling.temperature = 0.0f;
  scored.sampling.num_prompt_logprobs = 2;
  auto sink = std::make_shared<testing::collecting_sink>();
  auto other = submit_greedy(*e, "Once upon a time, there was a little");
  e->submit(scored, sink);
  ASSERT_TRUE(sink->wait_finished(std::chrono::seconds(120)));
  ASSERT_TRUE(other->wait_finished(std::chrono::seconds(120)));
  const auto events = sink->events();
  ASSERT_FALSE(events.front().error);
  EXPECT_EQ(events.front().num_cached_tokens, 0);
  EXPECT_EQ(events.front().prompt_token_ids, scored.prompt_token_ids);
  const auto& plp = events.front().prompt_logprobs;
  ASSERT_EQ(plp.size(), scored.prompt_token_ids.size() - 1);
  for (size_t i = 0; i < plp.size(); ++i) {
    EXPECT_EQ(plp[i].token_id, scored.prompt_token_ids[i + 1]) << i;
    EXPECT_GE(plp[i].rank, 1) << i;
    ASSERT_EQ(plp[i].top.size(), 2u) << i;
    EXPECT_GE(plp[i].top[0].second, plp[i].logprob) << i;
  }
  for (size_t k = 0; k < continuation.size(); ++k) {
    const auto& entry = plp[static_cast<size_t>(num_prompt) - 1 + k];
    EXPECT_EQ(entry.token_id, continuation[k].token_id) << k;
    EXPECT_EQ(entry.rank, 1) << k;
    EXPECT_EQ(entry.logprob, continuation[k].logprob) << k;
    EXPECT_EQ(entry.top[0].first, continuation[k].token_id) << k;
  }
  for (size_t i = 1; i < events.size(); ++i)
    EXPECT_TRUE(events[i].prompt_logprobs.empty());
  // The control: the same prompt without prompt logprobs starts on the cached blocks.
  scored.sampling.num_prompt_logprobs = -1;
  auto control = std::make_shared<testing::collecting_sink>();
  e->submit(scored, control);
  ASSERT_TRUE(control->wait_finished(std::chrono::seconds(120)));
  EXPECT_GE(control->last().num_cached_tokens, 16);
  EXPECT_TRUE(control->events().front().prompt_logprobs.empty());
}

}  // namespace
}  // namespace troupe::actors
