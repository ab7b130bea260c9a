// vLLM's batched /v1/completions: `prompt` as a list of strings or of token-id lists. Each prompt
// is its own engine request; prompt p's choices are numbered from p * n, the usage adds up the
// prompts, and a prompt that fails fails the request (the others are aborted).
#include <chrono>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "http/server.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using namespace std::chrono_literals;
using testing::parse_json;
using testing::test_client;

class batched_prompts : public testing::fake_engine_server {
 protected:
  void SetUp() override { start(); }
};

TEST_F(batched_prompts, each_prompt_is_a_request_and_its_choices_follow_the_previous_ones) {
  test_client client(server_->port());
  auto r = client.post(R"({"prompt": ["Hi", [72, 101, 121]], "max_tokens": 2, "n": 2,
                           "temperature": 1, "echo": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto doc = parse_json(r.body);
  ASSERT_EQ(doc["choices"].Size(), 4u);
  for (rapidjson::SizeType i = 0; i < 4; ++i) {
    EXPECT_EQ(doc["choices"][i]["index"].GetInt(), static_cast<int>(i));
    // Each choice echoes its own prompt (a token prompt decoded).
    EXPECT_STREQ(doc["choices"][i]["text"].GetString(), i < 2 ? "HiHello from" : "HeyHello from");
  }
  // Prompt tokens: "Hi" with BOS (3) and the three ids as given.
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3 + 3);
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 4 * 2);
  EXPECT_TRUE(doc["metrics"].IsNull());
  const auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].prompt, "Hi");
  EXPECT_EQ(requests[1].prompt_token_ids, (std::vector<int32_t>{72, 101, 121}));
  EXPECT_EQ(requests[0].n, 2);
  EXPECT_EQ(requests[1].n, 2);
  const std::string id = doc["id"].GetString();
  EXPECT_EQ(requests[0].request_id, id + "-0");
  EXPECT_EQ(requests[1].request_id, id + "-1");
}

TEST_F(batched_prompts, a_stream_interleaves_the_prompts_choices_and_sums_the_usage) {
  test_client client(server_->port());
  auto r = client.post(R"({"prompt": ["a", "bb", "ccc"], "max_tokens": 3, "stream": true,
                           "stream_options": {"include_usage": true}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto payloads = testing::sse_payloads(r.body);
  ASSERT_EQ(payloads.back(), "[DONE]");
  payloads.pop_back();
  std::map<int, std::string> texts;
  std::set<int> finished;
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    const auto chunk = parse_json(payloads[i]);
    const auto& c = chunk["choices"][0];
    texts[c["index"].GetInt()] += c["text"].GetString();
    if (c["finish_reason"].IsString()) finished.insert(c["index"].GetInt());
  }
  EXPECT_EQ(finished, (std::set<int>{0, 1, 2}));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(texts[i], "Hello from troupe") << i;
  const auto usage = parse_json(payloads.back());
  EXPECT_EQ(usage["usage"]["prompt_tokens"].GetInt(), 2 + 3 + 4);
  EXPECT_EQ(usage["usage"]["completion_tokens"].GetInt(), 9);
}

TEST_F(batched_prompts, a_failing_prompt_fails_the_request_and_aborts_the_others) {
  test_client client(server_->port());
  testing::expect_error_body(client.post(R"({"prompt": ["slow", "error-first"]})"), 400,
                             "BadRequestError");
  EXPECT_TRUE(engine_.wait_for_aborts(1, 5s));
  EXPECT_EQ(engine_.num_aborts(1), 1);  // "slow" would have run on for seconds
  EXPECT_EQ(client.post(R"({"prompt": ["Hi", "there"]})").status, 200);  // serving goes on
}

TEST_F(batched_prompts, an_echo_of_every_prompt_without_output) {
  test_client client(server_->port());
  auto r = client.post(R"({"prompt": ["Hi", "Hey"], "max_tokens": 0, "echo": true,
                           "return_token_ids": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto doc = parse_json(r.body);
  ASSERT_EQ(doc["choices"].Size(), 2u);
  // vLLM: return_token_ids leaves the echoed text out; the ids are there.
  EXPECT_STREQ(doc["choices"][1]["text"].GetString(), "");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3 + 4);
  EXPECT_EQ(engine_.num_submitted(), 2u);
}

}  // namespace
}  // namespace troupe::http
