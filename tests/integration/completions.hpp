#pragma once
// Completion requests for the end-to-end tests: the body of a greedy /v1/completions request and
// the text of its streamed answer.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/http/test_client.hpp"

namespace troupe::testing {

// Prompts of every kind the default model meets: prose, code, a list, a chat turn, French.
inline const std::vector<std::string> mixed_prompts = {
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time",
    "1, 2, 3, 4,",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "The three primary colors are",
    "Les fleurs du printemps",
    "In 1969, astronauts"};

// A greedy completion request; `cache_salt` (when not empty) keeps it off other requests' cached
// prefixes.
inline std::string greedy_completion_body(const std::string& prompt, int32_t max_tokens,
                                          bool stream, const std::string& cache_salt = {}) {
  rapidjson::StringBuffer body;
  rapidjson::Writer<rapidjson::StringBuffer> w(body);
  w.StartObject();
  w.Key("prompt");
  w.String(prompt.c_str());
  w.Key("max_tokens");
  w.Int(max_tokens);
  w.Key("temperature");
  w.Int(0);
  w.Key("stream");
  w.Bool(stream);
  if (!cache_salt.empty()) {
    w.Key("cache_salt");
    w.String(cache_salt.c_str());
  }
  w.EndObject();
  return body.GetString();
}

// The text of a streamed greedy completion of `prompt` (expects status 200).
inline std::string stream_text(uint16_t port, const std::string& prompt, int32_t max_tokens = 16) {
  http::testing::test_client client(port);
  auto reply = client.post(greedy_completion_body(prompt, max_tokens, true));
  EXPECT_EQ(reply.status, 200) << reply.body;
  std::string text;
  for (const auto& payload : http::testing::sse_payloads(reply.body)) {
    if (payload == "[DONE]") continue;
    auto chunk = http::testing::parse_json(payload);
    for (const auto& choice : chunk["choices"].GetArray())
      text += choice["text"].GetString();
  }
  return text;
}

}  // namespace troupe::testing
