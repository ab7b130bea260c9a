// /v1/completions end to end with the real engine and the real sampler: a model runner whose
// logits depend only on the last token feeds runtime::sample_token, so the test computes what
// every response must say (tokens, logprobs, stop reasons) from the same logits.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/model/sampler.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/http/test_client.hpp"

namespace troupe {
namespace {

using http::testing::parse_json;
using http::testing::test_client;

constexpr int32_t vocab = testing::fake_vocab_size;

// Printable tokens only (EOS = 0 never wins), a pattern that depends on the previous token.
std::vector<float> logits_after(int32_t last) {
  std::vector<float> row(vocab, -20.0f);
  for (int32_t v = 'a'; v <= 'z'; ++v)
    row[v] = static_cast<float>((last * 37 + v * 11) % 29) / 4.0f;
  return row;
}

class last_token_runner : public runtime::model_runner {
 public:
  std::vector<runtime::sampled_token> execute(const runtime::step_batch& batch) override {
    std::vector<runtime::sampled_token> out;
    size_t offset = 0;
    for (const auto& seq : batch.seqs) {
      offset += static_cast<size_t>(seq.num_tokens);
      if (!seq.sample) continue;
      const auto row = logits_after(batch.token_ids[offset - 1]);
      auto s = runtime::sample_token(row, seq.sampling, seq.output_index, seq.token_history);
      out.push_back({seq.seq_id, s.token_id, s.logprob, std::move(s.top_logprobs)});
    }
    return out;
  }
  int32_t vocab_size() const override { return vocab; }
  int32_t block_size() const override { return 16; }
  int32_t num_kv_blocks() const override { return 64; }
};

// Greedy continuation of `prompt` under logits_after, with each token's raw logprob.
std::vector<std::pair<int32_t, float>> greedy(const std::string& prompt, int32_t n) {
  std::vector<std::pair<int32_t, float>> out;
  int32_t last = static_cast<unsigned char>(prompt.back());
  for (int32_t i = 0; i < n; ++i) {
    const auto row = logits_after(last);
    last = runtime::argmax(row);
    out.emplace_back(last, runtime::log_softmax_at(row, last));
  }
  return out;
}

class sampling_http : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(runtime::sampling_defaults defaults) {
    server_.reset();
    engine_.reset();
    runtime::engine_config config;
    config.disable_log_requests = true;
    auto started = actors::start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                                        std::make_unique<last_token_runner>(), 512);
    ASSERT_TRUE(started.ok()) << started.message();
    engine_ = std::move(*started);
    http::server_options options;
    options.port = 0;
    options.disable_log_requests = true;
    options.sampling_defaults = std::move(defaults);
    auto server = http::start_server(*engine_, options);
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(*server);
  }

  rapidjson::Document complete(const std::string& body) {
    test_client client(server_->port());
    auto r = client.post(body);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse_json(r.body);
  }

  std::unique_ptr<actors::engine> engine_;
  std::unique_ptr<http::server> server_;
};

TEST_F(sampling_http, logprobs_are_the_raw_log_softmax_of_each_generated_token) {
  const auto expected = greedy("hello", 6);
  const auto doc =
      complete(R"({"prompt": "hello", "max_tokens": 6, "temperature": 0, "logprobs": 2})");
  const auto& choice = doc["choices"][0];
  const auto& lp = choice["logprobs"];
  ASSERT_TRUE(lp.IsObject()) << "no logprobs object";
  ASSERT_EQ(lp["tokens"].Size(), expected.size());
  std::string text;
  for (rapidjson::SizeType i = 0; i < lp["tokens"].Size(); ++i) {
    const std::string token(1, static_cast<char>(expected[i].first));
    EXPECT_EQ(std::string(lp["tokens"][i].GetString()), token);
    EXPECT_NEAR(lp["token_logprobs"][i].GetDouble(), expected[i].second, 1e-5);
    EXPECT_EQ(lp["text_offset"][i].GetInt(), static_cast<int>(i));
    const auto& top = lp["top_logprobs"][i];
    EXPECT_EQ(top.MemberCount(), 2u);  // greedy: the sampled token is the most likely
    EXPECT_EQ(std::string(top.MemberBegin()->name.GetString()), token);
    text += token;
  }
  EXPECT_EQ(std::string(choice["text"].GetString()), text);
  EXPECT_EQ(std::string(choice["finish_reason"].GetString()), "length");
  EXPECT_TRUE(choice["stop_reason"].IsNull());
}

TEST_F(sampling_http, stop_string_and_stop_token_id_are_the_stop_reason) {
  const auto expected = greedy("abc", 20);
  std::string full;
  for (const auto& [id, lp] : expected)
    full += static_cast<char>(id);
  const std::string stop = full.substr(3, 2);
  auto doc = complete(R"({"prompt": "abc", "max_tokens": 20, "temperature": 0, "stop": [")" + stop +
                      R"("]})");
  EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()), full.substr(0, full.find(stop)));
  EXPECT_EQ(std::string(doc["choices"][0]["finish_reason"].GetString()), "stop");
  EXPECT_EQ(std::string(doc["choices"][0]["stop_reason"].GetString()), stop);

  const int32_t stop_id = expected[4].first;
  doc = complete(R"({"prompt": "abc", "max_tokens": 20, "temperature": 0, "stop_token_ids": [)" +
                 std::to_string(stop_id) + "]}");
  EXPECT_EQ(doc["choices"][0]["stop_reason"].GetInt(), stop_id);
  EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()),
            full.substr(0, full.find(static_cast<char>(stop_id))));
}

TEST_F(sampling_http, logit_bias_and_penalties_steer_greedy_decoding) {
  auto doc = complete(R"({"prompt": "abc", "max_tokens": 5, "temperature": 0,
      "logit_bias": {"113": 100}, "logprobs": 0})");
  EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()), "qqqqq");
  // Logprobs stay those of the raw distribution: 'q' is not certain there.
  EXPECT_LT(doc["choices"][0]["logprobs"]["token_logprobs"][0].GetDouble(), -0.01);
  doc = complete(R"({"prompt": "abc", "max_tokens": 12, "temperature": 0,
      "logit_bias": {"113": 5}, "presence_penalty": 2, "frequency_penalty": 2})");
  const std::string text = doc["choices"][0]["text"].GetString();
  EXPECT_LE(std::count(text.begin(), text.end(), 'q'), 3) << text;
}

TEST_F(sampling_http, allowed_token_ids_and_bad_words_bound_what_is_generated) {
  // Only 'x' (120) and 'y' (121), sampled at temperature 1.
  auto doc = complete(R"({"prompt": "abc", "max_tokens": 24, "seed": 5,
      "allowed_token_ids": [120, 121]})");
  std::string text = doc["choices"][0]["text"].GetString();
  ASSERT_EQ(text.size(), 24u);
  EXPECT_EQ(text.find_first_not_of("xy"), std::string::npos) << text;
  // The bias makes 'q' the argmax everywhere; the bad word "q" forbids it.
  doc = complete(R"({"prompt": "abc", "max_tokens": 12, "temperature": 0,
      "logit_bias": {"113": 100}, "bad_words": ["q"]})");
  text = doc["choices"][0]["text"].GetString();
  EXPECT_EQ(text.find('q'), std::string::npos) << text;
  // A two-token word: its second token is forbidden right after its first only.
  const auto plain = greedy("abc", 2);
  const std::string word = {static_cast<char>(plain[0].first), static_cast<char>(plain[1].first)};
  doc = complete(R"({"prompt": "abc", "max_tokens": 12, "temperature": 0, "bad_words": [")" + word +
                 R"("]})");
  text = doc["choices"][0]["text"].GetString();
  EXPECT_EQ(text[0], word[0]) << text;
  EXPECT_NE(text[1], word[1]) << text;
  EXPECT_EQ(text.find(word), std::string::npos) << text;
}

// vLLM's truncate_prompt_tokens: the last tokens by default (vLLM's left side for generative
// models), the first with truncation_side "right"; the model here reads only the last prompt
// token.
TEST_F(sampling_http, truncate_prompt_tokens_keeps_the_first_or_the_last_tokens) {
  const auto text = [](const rapidjson::Document& d) {
    return std::string(d["choices"][0]["text"].GetString());
  };
  const auto short_prompt = complete(R"({"prompt": "abc", "max_tokens": 4, "temperature": 0})");
  auto doc = complete(R"({"prompt": "abcdefgh", "max_tokens": 4, "temperature": 0,
      "truncate_prompt_tokens": 3, "truncation_side": "right"})");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3);
  EXPECT_EQ(text(doc), text(short_prompt));
  const auto whole = complete(R"({"prompt": "abcdefgh", "max_tokens": 4, "temperature": 0})");
  doc = complete(R"({"prompt": "abcdefgh", "max_tokens": 4, "temperature": 0,
      "truncate_prompt_tokens": 3})");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3);
  EXPECT_EQ(text(doc), text(whole));
  EXPECT_NE(text(whole), text(short_prompt));  // the test can tell the sides apart
  doc = complete(R"({"prompt": "abcdefgh", "max_tokens": 4, "truncate_prompt_tokens": -1})");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 8);
  test_client client(server_->port());
  auto r = client.post(R"({"prompt": "abc", "truncate_prompt_tokens": 100000})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("truncate_prompt_tokens=100000 cannot be greater than max_model_len = 512"),
            std::string::npos)
      << r.body;
  r = client.post(R"({"prompt": "abc", "truncation_side": "middle"})");
  EXPECT_EQ(r.status, 400);
}

TEST_F(sampling_http, streamed_logprobs_cover_every_token_once) {
  test_client client(server_->port());
  auto r = client.post(
      R"({"prompt": "zz", "max_tokens": 7, "temperature": 0, "logprobs": 1, "stream": true})");
  ASSERT_EQ(r.status, 200);
  auto payloads = http::testing::sse_payloads(r.body);
  ASSERT_FALSE(payloads.empty());
  EXPECT_EQ(payloads.back(), "[DONE]");
  std::string text, tokens;
  int32_t offset = 0;
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    auto chunk = parse_json(payloads[i]);
    const auto& choice = chunk["choices"][0];
    text += choice["text"].GetString();
    for (rapidjson::SizeType k = 0; k < choice["logprobs"]["tokens"].Size(); ++k) {
      EXPECT_EQ(choice["logprobs"]["text_offset"][k].GetInt(), offset++);
      tokens += choice["logprobs"]["tokens"][k].GetString();
    }
  }
  EXPECT_EQ(text.size(), 7u);
  EXPECT_EQ(tokens, text);
}

TEST_F(sampling_http, server_defaults_apply_where_the_request_is_silent) {
  const auto expected = greedy("abc", 10);
  ASSERT_NE(expected[0].first, expected[1].first);
  runtime::sampling_defaults defaults;
  defaults.temperature = 0.0f;
  defaults.max_tokens = 3;  // generation_config's max_new_tokens caps max_tokens
  defaults.eos_token_ids = {expected[1].first};
  start(defaults);
  auto doc = complete(R"({"prompt": "abc", "max_tokens": 10})");
  EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()),
            std::string(1, static_cast<char>(expected[0].first)));
  EXPECT_EQ(doc["choices"][0]["stop_reason"].GetInt(), expected[1].first);
  doc = complete(R"({"prompt": "abc", "max_tokens": 10, "ignore_eos": true})");
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 3);
}

// vLLM's beam search through the whole server: at width 1 it is greedy decoding (EOS never wins
// here); at width 3 the choices are distinct and ranked by cumulative logprob (all as long).
TEST_F(sampling_http, beam_search_ranks_distinct_beams_and_at_width_one_is_greedy) {
  for (const char* prompt : {"hello", "beam", "q"}) {
    std::string greedy_text;
    for (const auto& [token, logprob] : greedy(prompt, 7))
      greedy_text += static_cast<char>(token);
    const auto doc = complete(std::string(R"({"prompt": ")") + prompt +
                              R"(", "max_tokens": 7, "temperature": 0, "use_beam_search": true})");
    ASSERT_EQ(doc["choices"].Size(), 1u);
    EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()), greedy_text) << prompt;
  }
  const auto doc = complete(
      R"({"prompt": "hello", "max_tokens": 5, "n": 3, "use_beam_search": true, "temperature": 0,
          "return_token_ids": true})");
  ASSERT_EQ(doc["choices"].Size(), 3u);
  std::vector<double> scores;
  std::vector<std::string> texts;
  for (const auto& choice : doc["choices"].GetArray()) {
    double cum = 0.0;
    int32_t last = 'o';
    ASSERT_EQ(choice["token_ids"].Size(), 5u);
    for (const auto& id : choice["token_ids"].GetArray()) {
      cum += runtime::log_softmax_at(logits_after(last), id.GetInt());
      last = id.GetInt();
    }
    scores.push_back(cum);
    texts.emplace_back(choice["text"].GetString());
    EXPECT_EQ(std::string(choice["finish_reason"].GetString()), "length");
  }
  EXPECT_GE(scores[0], scores[1]);
  EXPECT_GE(scores[1], scores[2]);
  EXPECT_NE(texts[0], texts[1]);
  EXPECT_NE(texts[1], texts[2]);
  EXPECT_NE(texts[0], texts[2]);
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 15);
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 5);
}

// A client that leaves mid-search stops it (the session aborts it and drops it): no round is
// submitted after that, and the engine drains.
TEST_F(sampling_http, a_disconnect_stops_a_beam_search) {
  {
    test_client client(server_->port());
    client.send(http::testing::bhttp::verb::post, "/v1/completions",
                R"({"prompt": "hello", "n": 8, "max_tokens": 480, "temperature": 0,
                    "use_beam_search": true})");
    for (int i = 0; i < 200 && engine_->stats().num_steps < 20; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GE(engine_->stats().num_steps, 20) << "the search did not start";
  }  // the connection closes
  auto idle = [&] { return engine_->stats().num_live_requests == 0; };
  for (int i = 0; i < 400 && !idle(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(idle());
  const int64_t steps = engine_->stats().num_steps;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(idle());
  EXPECT_EQ(engine_->stats().num_steps, steps) << "rounds went on after the abort";
}

}  // namespace
}  // namespace troupe
