// Speculative decoding (--speculative-config ngram) through the engine around the real default
// model: every kind of request samples exactly the tokens it samples without drafts (greedy,
// seeded with penalties, logprobs, min_tokens, a grammar, a stop string, max_tokens inside a
// draft), alone and together with prompt chunks in the same steps, while drafts are in fact
// proposed and accepted (the engine's vllm:spec_decode_* counters). Skips without the model.
#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "runtime/telemetry/metrics.hpp"
#include "tests/actors/default_model_engine.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::actors {
namespace {

std::unique_ptr<engine> start_engine_with(const std::string& path,
                                          runtime::speculative_config speculative) {
  runtime::engine_config config;
  config.max_num_batched_tokens = 12;  // prompts are chunked beside the decodes and their drafts
  config.speculative = speculative;
  return testing::start_default_model_engine(path, config, 128);
}

std::vector<generation_request> mixed_requests() {
  const std::string repeated =
      "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. "
      "The quick brown fox";
  std::vector<generation_request> requests(7);
  requests[0].prompt = repeated;
  requests[0].sampling.temperature = 0.0f;
  requests[1].prompt = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,";
  requests[1].sampling.temperature = 0.8f;
  requests[1].sampling.top_p = 0.9f;
  requests[1].sampling.seed = 11;
  requests[2].prompt = repeated;
  requests[2].sampling.temperature = 0.0f;
  requests[2].sampling.repetition_penalty = 1.2f;
  requests[2].sampling.frequency_penalty = 0.2f;
  requests[3].prompt = "a b c a b c a b c a b";
  requests[3].sampling.temperature = 1.0f;
  requests[3].sampling.seed = 5;
  requests[3].sampling.presence_penalty = 0.5f;
  requests[3].logprobs = 2;
  requests[3].sampling.logprobs = true;
  requests[3].sampling.num_top_logprobs = 2;
  requests[4].prompt = "Water boils at 100 degrees. Water boils at";
  requests[4].sampling.temperature = 0.0f;
  requests[4].sampling.min_tokens = 4;
  requests[5].prompt = "1, 2, 3, 1, 2, 3, 1, 2,";
  requests[5].sampling.temperature = 0.0f;
  requests[5].sampling.grammar = R"(root ::= (" " [0-9] ",")+)";
  requests[6].prompt = repeated;
  requests[6].sampling.temperature = 0.0f;
  requests[6].stop = {"lazy"};
  for (auto& r : requests)
    r.max_tokens = 24;
  requests[4].max_tokens = 7;  // ends inside a step's drafts
  return requests;
}

struct run_result {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<float>> logprobs;
  std::vector<std::string> texts;
  std::string metrics;
};

run_result run_all(engine& e, const std::vector<generation_request>& requests, bool together) {
  run_result out;
  std::vector<std::shared_ptr<testing::collecting_sink>> sinks;
  for (const auto& r : requests) {
    sinks.push_back(std::make_shared<testing::collecting_sink>());
    e.submit(r, sinks.back());
    if (!together) EXPECT_TRUE(sinks.back()->wait_finished(std::chrono::seconds(120)));
  }
  for (const auto& sink : sinks) {
    EXPECT_TRUE(sink->wait_finished(std::chrono::seconds(120)));
    EXPECT_FALSE(sink->last().error) << *sink->last().error;
    out.tokens.push_back(sink->token_ids());
    out.texts.push_back(sink->text());
    std::vector<float> values;
    for (const auto& event : sink->events()) {
      for (const auto& lp : event.logprobs)
        values.push_back(lp.logprob);
    }
    out.logprobs.push_back(values);
  }
  out.metrics = e.metrics().prometheus_text();
  return out;
}

// The value of the first sample `name{labels} value` in Prometheus text, -1 when absent.
double counter(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + "{");
  if (at == std::string::npos) return -1;
  const auto value = text.find("} ", at);
  return std::stod(text.substr(value + 2));
}

TEST(SpeculativeDecoding, DraftsNeverChangeWhatIsSampled) {
  const std::string path = testing::default_model_gguf();
  if (path.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  const auto requests = mixed_requests();
  auto plain = start_engine_with(path, {});
  ASSERT_TRUE(plain);
  const run_result expected = run_all(*plain, requests, false);
  plain.reset();
  EXPECT_EQ(counter(expected.metrics, "vllm:spec_decode_num_drafts_total"), -1);
  for (const bool together : {false, true}) {
    auto e = start_engine_with(path, {4, 2, 4});
    ASSERT_TRUE(e);
    const run_result got = run_all(*e, requests, together);
    for (size_t i = 0; i < requests.size(); ++i) {
      EXPECT_FALSE(expected.tokens[i].empty()) << i;
      EXPECT_EQ(got.tokens[i], expected.tokens[i]) << "request " << i << " together " << together;
      EXPECT_EQ(got.logprobs[i], expected.logprobs[i]) << i;
      EXPECT_EQ(got.texts[i], expected.texts[i]) << i;
    }
    const double drafts = counter(got.metrics, "vllm:spec_decode_num_drafts_total");
    const double drafted = counter(got.metrics, "vllm:spec_decode_num_draft_tokens_total");
    const double accepted = counter(got.metrics, "vllm:spec_decode_num_accepted_tokens_total");
    EXPECT_GT(drafts, 0);
    EXPECT_GT(accepted, 0);  // the repeated text's drafts are the model's own continuation
    EXPECT_LT(accepted, drafted);
  }
  EXPECT_EQ(expected.logprobs[3].size(), expected.tokens[3].size());
  EXPECT_EQ(expected.tokens[4].size(), 7u);
}

// A stop string completed by a token inside a step's accepted drafts ends the request there: the
// tokens after it are dropped (as vLLM's detokenizer drops them), so tokens, text and the output
// count equal plain decoding's.
TEST(SpeculativeDecoding, AStopStringInsideAcceptedDraftsDropsTheTokensAfterIt) {
  const std::string path = testing::default_model_gguf();
  if (path.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  generation_request request;
  request.prompt =
      "Alphabet: alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima. "
      "Alphabet: alpha bravo charlie";
  request.sampling.temperature = 0.0f;
  request.max_tokens = 24;
  auto spec = start_engine_with(path, {4, 2, 4});
  ASSERT_TRUE(spec);
  auto probe = std::make_shared<testing::collecting_sink>();
  spec->submit(request, probe);
  ASSERT_TRUE(probe->wait_finished(std::chrono::seconds(120)));
  // A token in the middle of an event of several whose text first appears there.
  std::string stop;
  std::string before;
  for (const auto& event : probe->events()) {
    if (stop.empty() && event.token_ids.size() >= 3) {
      std::string prefix = before;
      for (size_t i = 0; i + 1 < event.token_ids.size() && stop.empty(); ++i) {
        const std::string piece =
            spec->tokenizer().decode(std::span(event.token_ids).subspan(i, 1), true);
        if (i > 0 && piece.size() >= 3 && (prefix + piece).find(piece) == prefix.size())
          stop = piece;
        prefix += piece;
      }
    }
    before += event.text;
  }
  ASSERT_FALSE(stop.empty()) << "no step accepted three or more drafts";
  request.stop = {stop};
  auto with_drafts = std::make_shared<testing::collecting_sink>();
  spec->submit(request, with_drafts);
  ASSERT_TRUE(with_drafts->wait_finished(std::chrono::seconds(120)));
  spec.reset();
  auto plain = start_engine_with(path, {});
  ASSERT_TRUE(plain);
  auto expected = std::make_shared<testing::collecting_sink>();
  plain->submit(request, expected);
  ASSERT_TRUE(expected->wait_finished(std::chrono::seconds(120)));
  EXPECT_EQ(expected->last().finish_reason, "stop");
  EXPECT_EQ(with_drafts->token_ids(), expected->token_ids()) << stop;
  EXPECT_EQ(with_drafts->text(), expected->text());
  EXPECT_EQ(with_drafts->last().num_output_tokens, expected->last().num_output_tokens);
  EXPECT_EQ(with_drafts->last().stop_string, expected->last().stop_string);
}

}  // namespace
}  // namespace troupe::actors
