// chat_responder with a forced tool call (tool_choice "required" or named): the answer's text
// becomes message.tool_calls, or tool-call deltas in a stream, shaped as vLLM 0.32 shapes them.
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/chat_responder.hpp"
#include "tests/http/fake_engine.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

const completion_meta meta{"chatcmpl-1", 1700000000, "m"};
const testing::byte_tokenizer tokenizer;
const std::string chunk_head =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m",)";

actors::generation_event event(int32_t index, std::string text, int32_t num_output,
                               std::string finish = "") {
  actors::generation_event e;
  e.index = index;
  e.text = std::move(text);
  e.num_prompt_tokens = 5;
  e.num_output_tokens = num_output;
  e.finished = !finish.empty();
  e.finish_reason = std::move(finish);
  return e;
}

chat_responder_options options(bool stream, tool_choice_mode mode, int32_t n = 1) {
  chat_responder_options o;
  o.response = responder_options{stream, /*include_usage=*/false, true, /*chunked=*/false};
  o.num_choices = n;
  o.logprobs = chat_logprobs_format{&tokenizer, -1};
  o.tool_choice = std::move(mode);
  return o;
}

const tool_choice_mode named{tool_choice_mode::kind::named, "get", true};
const tool_choice_mode required{tool_choice_mode::kind::required, "", true};

// The body (or SSE payloads) with every tool-call id replaced by "ID".
std::string without_ids(const std::string& text) {
  static const std::regex id("chatcmpl-tool-[0-9a-f]{16}");
  return std::regex_replace(text, id, "ID");
}

std::string body_of(const std::string& response) {
  return without_ids(response.substr(response.find("\r\n\r\n") + 4));
}

std::vector<std::string> payloads_of(chat_responder& r,
                                     const std::vector<actors::generation_event>& events) {
  std::string out;
  for (const auto& e : events)
    out += r.on_event(e);
  EXPECT_TRUE(r.done());
  return testing::sse_payloads(body_of(out));
}

TEST(chat_responder_tool_calls, a_named_answer_is_one_call_and_empty_content) {
  chat_responder r(meta, options(false, named));
  r.on_event(event(0, R"({"city": )", 3));
  std::string out = r.on_event(event(0, R"("Paris"})", 5, "stop"));
  EXPECT_EQ(r.finish_reason(), "stop");
  EXPECT_EQ(
      body_of(out),
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"",)"
      R"("refusal":null,"annotations":null,"audio":null,"function_call":null,)"
      R"("tool_calls":[{"id":"ID","type":"function","function":{"name":"get",)"
      R"("arguments":"{\"city\": \"Paris\"}"}}],"reasoning":null},)"
      R"("logprobs":null,"finish_reason":"stop","stop_reason":null,)"
      R"("token_ids":null,"routed_experts":null}],)"
      R"("service_tier":null,"system_fingerprint":null,)"
      R"("usage":{"prompt_tokens":5,"total_tokens":10,"completion_tokens":5,)"
      R"("prompt_tokens_details":null,"completion_tokens_details":null},"prompt_logprobs":null,)"
      R"("prompt_token_ids":null,"prompt_text":null,"kv_transfer_params":null,)"
      R"("ec_transfer_params":null,"metrics":null})");
}

TEST(chat_responder_tool_calls, required_answers_finish_with_tool_calls_per_choice) {
  chat_responder r(meta, options(false, required, 2));
  r.on_event(event(1, R"([{"name": "get", "parameters": {"a": 1E2}})", 4));
  r.on_event(event(0, R"([{"name": "ping", "parameters": {}}, )", 4));
  r.on_event(event(1, "]", 5, "stop"));
  std::string out = r.on_event(event(0, R"({"name": "get", "parameters": {"b": )", 9, "length"));
  auto doc = testing::parse_json(body_of(out));
  const auto& first = doc["choices"][0];
  EXPECT_STREQ(first["message"]["content"].GetString(), "");
  EXPECT_EQ(first["message"]["tool_calls"].Size(), 0u);  // cut short: no calls
  EXPECT_STREQ(first["finish_reason"].GetString(), "length");
  const auto& second = doc["choices"][1];
  ASSERT_EQ(second["message"]["tool_calls"].Size(), 1u);
  const auto& call = second["message"]["tool_calls"][0];
  EXPECT_STREQ(call["function"]["name"].GetString(), "get");
  EXPECT_STREQ(call["function"]["arguments"].GetString(), R"({"a": 100.0})");
  EXPECT_STREQ(second["finish_reason"].GetString(), "tool_calls");
  EXPECT_EQ(r.finish_reason(), "length");
}

TEST(chat_responder_tool_calls, a_named_stream_sends_arguments_deltas) {
  chat_responder r(meta, options(true, named));
  auto payloads = payloads_of(
      r, {event(0, R"({"city")", 2), event(0, R"(: "Oslo"})", 4), event(0, "", 5, "stop")});
  ASSERT_EQ(payloads.size(), 5u);
  EXPECT_EQ(payloads[0], chunk_head + R"("choices":[{"index":0,"delta":{"role":"assistant",)"
                                      R"("content":""},"logprobs":null,"finish_reason":null}],)"
                                      R"("prompt_token_ids":null,"prompt_text":null})");
  EXPECT_EQ(payloads[1], chunk_head +
                             R"("choices":[{"index":0,"delta":{"tool_calls":[{"id":"ID",)"
                             R"("type":"function","index":0,"function":{"name":"get",)"
                             R"("arguments":"{\"city\""}}]},"logprobs":null,"finish_reason":null,)"
                             R"("token_ids":null}]})");
  EXPECT_EQ(payloads[2], chunk_head + R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
                                      R"("function":{"arguments":": \"Oslo\"}"}}]},)"
                                      R"("logprobs":null,"finish_reason":null,)"
                                      R"("token_ids":null}]})");
  EXPECT_EQ(payloads[3], chunk_head + R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
                                      R"("function":{"arguments":""}}]},"logprobs":null,)"
                                      R"("finish_reason":"stop","stop_reason":null,)"
                                      R"("token_ids":null}]})");
  EXPECT_EQ(payloads[4], "[DONE]");
}

TEST(chat_responder_tool_calls, a_required_stream_sends_calls_as_they_become_ready) {
  chat_responder r(meta, options(true, required));
  auto payloads =
      payloads_of(r, {event(0, R"([{"name": "ping", "para)", 3), event(0, R"(meters": {"x)", 4),
                      event(0, R"(": 1}})", 5), event(0, "]", 6), event(0, "", 7, "stop")});
  ASSERT_EQ(payloads.size(), 5u);  // nothing new: no chunk, until the last
  EXPECT_EQ(payloads[1], chunk_head +
                             R"("choices":[{"index":0,"delta":{"tool_calls":[{"id":"ID",)"
                             R"("type":"function","index":0,"function":{"name":"ping",)"
                             R"("arguments":"{\"x"}}]},"logprobs":null,"finish_reason":null,)"
                             R"("token_ids":null}]})");
  EXPECT_EQ(payloads[2], chunk_head + R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
                                      R"("function":{"name":null,"arguments":"\": 1}"}}]},)"
                                      R"("logprobs":null,"finish_reason":null,)"
                                      R"("token_ids":null}]})");
  EXPECT_EQ(payloads[3], chunk_head + R"("choices":[{"index":0,"delta":{},"logprobs":null,)"
                                      R"("finish_reason":"tool_calls","stop_reason":null,)"
                                      R"("token_ids":null}]})");
  EXPECT_EQ(r.finish_reason(), "tool_calls");
}

TEST(chat_responder_tool_calls, a_required_stream_without_a_call_keeps_the_engines_reason) {
  chat_responder r(meta, options(true, required, 2));
  auto payloads = payloads_of(r, {event(1, R"([{"name": "ping", "parameters": {}}])", 9, "stop"),
                                  event(0, R"([{"na)", 3, "length")});
  ASSERT_EQ(payloads.size(), 5u);
  auto second = testing::parse_json(payloads[2]);
  EXPECT_EQ(second["choices"][0]["index"].GetInt(), 1);
  EXPECT_STREQ(second["choices"][0]["finish_reason"].GetString(), "tool_calls");
  EXPECT_EQ(payloads[3], chunk_head + R"("choices":[{"index":0,"delta":{},"logprobs":null,)"
                                      R"("finish_reason":"length","stop_reason":null,)"
                                      R"("token_ids":null}]})");
}

}  // namespace
}  // namespace troupe::http
