// The chat answer rewritten as the Anthropic Messages API's (http/anthropic_responder.hpp): the
// message object and the event stream as vLLM 0.32's converter writes them.
#include "http/anthropic_responder.hpp"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/http/answer_events.hpp"
#include "tests/http/fake_engine.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

const completion_meta meta{"chatcmpl-1", 1700000000, "m"};
const testing::byte_tokenizer tokenizer;

// A chat request's options as /v1/messages makes them (streams report usage on every chunk).
chat_responder_options options(bool stream) {
  chat_responder_options o = testing::unframed_chat_options(stream, tokenizer);
  o.response.continuous_usage = stream;
  return o;
}

chat_responder_options with_reasoning(bool stream) {
  chat_responder_options o = options(stream);
  testing::add_reasoning_parser(o);
  return o;
}

// Random parts (tool-call ids, thinking signatures) as fixed text.
std::string masked(const std::string& text) {
  static const std::regex id("chatcmpl-tool-[0-9a-f]{16}");
  static const std::regex signature(R"("signature":"[0-9a-f]{32}")");
  return std::regex_replace(std::regex_replace(text, id, "ID"), signature, R"("signature":"SIG")");
}

std::string body_of(const std::string& response) {
  return masked(response.substr(response.find("\r\n\r\n") + 4));
}

std::string answer(anthropic_responder& r, const std::vector<actors::generation_event>& events) {
  std::string out;
  for (const auto& e : events)
    out += r.on_event(e);
  EXPECT_TRUE(r.done());
  return out;
}

// A stream's events as "type data" lines.
std::vector<std::string> events_of(const std::string& response) {
  std::vector<std::string> out;
  std::string body = body_of(response);
  static const std::regex event("event: ([a-z_]+)\ndata: ([^\n]*)\n\n");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), event);
       it != std::sregex_iterator(); ++it) {
    EXPECT_NE((*it)[2].str().find("\"type\":\"" + (*it)[1].str() + "\""), std::string::npos);
    out.push_back((*it)[2].str());
  }
  return out;
}

TEST(anthropic_responder, a_complete_answer_is_a_message) {
  anthropic_responder r(meta, options(false));
  actors::generation_event last = testing::answer_piece("lo", 2, "stop");
  last.stop_string = "!";
  const std::string out = answer(r, {testing::answer_piece("Hel", 1), last});
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(body_of(out), R"({"id":"chatcmpl-1","type":"message","role":"assistant",)"
                          R"("content":[{"type":"text","text":"Hello"}],"model":"m",)"
                          R"("stop_reason":"stop_sequence","stop_sequence":"!",)"
                          R"("usage":{"input_tokens":5,"output_tokens":2}})");
}

TEST(anthropic_responder, stop_reasons_follow_vllms_rule) {
  struct c {
    std::string finish;
    std::optional<int32_t> stop_token;
    std::string expected;
  };
  for (const c& k : {c{"length", {}, R"("stop_reason":"max_tokens","usage")"},
                     c{"stop", 2, R"("stop_reason":"end_turn","usage")"},
                     c{"abort", {}, R"("stop_reason":null,"usage")"}}) {
    anthropic_responder r(meta, options(false));
    actors::generation_event last = testing::answer_piece("x", 1, k.finish);
    last.stop_token_id = k.stop_token;
    EXPECT_NE(answer(r, {last}).find(k.expected), std::string::npos) << k.finish;
  }
}

TEST(anthropic_responder, an_empty_answer_is_one_empty_text_block) {
  anthropic_responder r(meta, options(false));
  EXPECT_NE(answer(r, {testing::answer_piece("", 1, "stop")})
                .find(R"("content":[{"type":"text","text":""}])"),
            std::string::npos);
}

TEST(anthropic_responder, reasoning_becomes_a_signed_thinking_block) {
  anthropic_responder r(meta, with_reasoning(false));
  const std::string out = answer(
      r, {testing::answer_piece("<think>", 1, "", {100}), testing::answer_piece("plan", 2, "", {5}),
          testing::answer_piece("</think>", 3, "", {101}),
          testing::answer_piece("Answer", 4, "stop", {6})});
  EXPECT_EQ(body_of(out),
            R"({"id":"chatcmpl-1","type":"message","role":"assistant","content":[)"
            R"({"type":"thinking","thinking":"plan","signature":"SIG"},)"
            R"({"type":"text","text":"Answer"}],"model":"m","stop_reason":"end_turn",)"
            R"("usage":{"input_tokens":5,"output_tokens":4}})");
}

TEST(anthropic_responder, forced_calls_become_tool_use_blocks) {
  chat_responder_options o = options(false);
  o.tool_choice = tool_choice_mode{tool_choice_mode::kind::named, "get", true};
  anthropic_responder r(meta, std::move(o));
  const std::string out = answer(r, {testing::answer_piece(R"({"city": )", 3),
                                     testing::answer_piece(R"("Paris"})", 5, "stop")});
  EXPECT_EQ(
      body_of(out),
      R"({"id":"chatcmpl-1","type":"message","role":"assistant","content":[)"
      R"({"type":"tool_use","id":"ID","name":"get","input":{"city":"Paris"}}],)"
      R"("model":"m","stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":5}})");
}

TEST(anthropic_responder, a_call_whose_arguments_are_no_object_is_refused) {
  chat_responder_options o = options(false);
  o.tool_choice = tool_choice_mode{tool_choice_mode::kind::named, "get", true};
  anthropic_responder r(meta, std::move(o));
  const std::string out = answer(r, {testing::answer_piece(R"("Paris")", 3, "stop")});
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(body_of(out).find(R"({"type":"error","error":{"type":"BadRequestError","message":)"),
            std::string::npos);
}

TEST(anthropic_responder, an_error_before_the_answer_keeps_its_status_in_anthropics_shape) {
  for (bool stream : {false, true}) {
    anthropic_responder r(meta, options(stream));
    actors::generation_event error = testing::answer_piece("", 0);
    error.error = "prompt too long";
    error.error_status = 400;
    const std::string out = answer(r, {error});
    EXPECT_EQ(r.status(), 400);
    EXPECT_EQ(body_of(out),
              R"({"type":"error","error":{"type":"BadRequestError","message":"prompt too long"}})");
  }
}

TEST(anthropic_responder, a_stream_is_anthropics_event_sequence) {
  anthropic_responder r(meta, options(true));
  actors::generation_event last = testing::answer_piece("lo", 2, "stop");
  last.stop_token_id = 2;
  const std::string out = answer(r, {testing::answer_piece("Hel", 1), last});
  EXPECT_NE(out.find("Content-Type: text/event-stream; charset=utf-8"), std::string::npos);
  const std::vector<std::string> expected = {
      R"({"type":"message_start","message":{"id":"chatcmpl-1","type":"message","role":"assistant",)"
      R"("content":[],"model":"m","stop_reason":null,"stop_sequence":null,)"
      R"("usage":{"input_tokens":5,"output_tokens":0}}})",
      R"({"type":"content_block_start","content_block":{"type":"text","text":""},"index":0})",
      R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"Hel"},"index":0})",
      R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"lo"},"index":0})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"input_tokens":5,"output_tokens":2}})",
      R"({"type":"message_stop"})"};
  EXPECT_EQ(events_of(out), expected);
}

TEST(anthropic_responder, a_streamed_thinking_block_ends_with_its_signature) {
  anthropic_responder r(meta, with_reasoning(true));
  const std::string out = answer(
      r, {testing::answer_piece("<think>", 1, "", {100}), testing::answer_piece("plan", 2, "", {5}),
          testing::answer_piece("</think>", 3, "", {101}),
          testing::answer_piece("Answer", 4, "length", {6})});
  const std::vector<std::string> events = events_of(out);
  const std::vector<std::string> blocks(events.begin() + 1, events.end() - 2);
  const std::vector<std::string> expected = {
      R"({"type":"content_block_start","content_block":{"type":"thinking","thinking":""},"index":0})",
      R"({"type":"content_block_delta","delta":{"type":"thinking_delta","thinking":"plan"},"index":0})",
      R"({"type":"content_block_delta","delta":{"type":"signature_delta","signature":"SIG"},"index":0})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"content_block_start","content_block":{"type":"text","text":""},"index":1})",
      R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"Answer"},"index":1})",
      R"({"type":"content_block_stop","index":1})"};
  EXPECT_EQ(blocks, expected);
  EXPECT_NE(events[events.size() - 2].find(R"("stop_reason":"max_tokens")"), std::string::npos);
}

TEST(anthropic_responder, a_streamed_call_is_a_tool_use_block_of_json_deltas) {
  chat_responder_options o = options(true);
  o.tool_choice = tool_choice_mode{tool_choice_mode::kind::named, "get", true};
  anthropic_responder r(meta, std::move(o));
  const std::string out = answer(r, {testing::answer_piece(R"({"city": )", 3),
                                     testing::answer_piece(R"("Paris"})", 5, "stop")});
  const std::vector<std::string> events = events_of(out);
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events[1],
            R"({"type":"content_block_start","content_block":{"type":"tool_use","id":"ID",)"
            R"("name":"get","input":{}},"index":0})");
  std::string json;
  for (size_t i = 2; i + 3 < events.size(); ++i) {
    auto doc = testing::parse_json(events[i]);
    ASSERT_STREQ(doc["delta"]["type"].GetString(), "input_json_delta") << events[i];
    json += doc["delta"]["partial_json"].GetString();
  }
  EXPECT_EQ(json, R"({"city": "Paris"})");
  EXPECT_NE(events[events.size() - 2].find(R"("stop_reason":"tool_use")"), std::string::npos);
}

TEST(anthropic_responder, a_call_cut_by_a_stop_string_keeps_stop_sequence) {
  // The arguments are no complete JSON: the call must not run.
  chat_responder_options o = options(true);
  o.tool_choice = tool_choice_mode{tool_choice_mode::kind::named, "get", true};
  anthropic_responder r(meta, std::move(o));
  actors::generation_event last = testing::answer_piece(R"("Par)", 5, "stop");
  last.stop_string = "is";
  const std::vector<std::string> events =
      events_of(answer(r, {testing::answer_piece(R"({"city": )", 3), last}));
  EXPECT_NE(events[events.size() - 2].find(R"("stop_reason":"stop_sequence","stop_sequence":"is")"),
            std::string::npos)
      << events[events.size() - 2];
}

TEST(anthropic_responder, an_error_during_a_stream_is_an_error_event_that_ends_it) {
  anthropic_responder r(meta, options(true));
  actors::generation_event error = testing::answer_piece("", 1);
  error.error = "engine failed";
  error.error_status = 500;
  const std::string out = answer(r, {testing::answer_piece("Hi", 1), error});
  EXPECT_EQ(r.status(), 200);
  const std::vector<std::string> events = events_of(out);
  const std::vector<std::string> tail(events.end() - 2, events.end());
  const std::vector<std::string> expected = {
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"error","error":{"type":"InternalServerError","message":"engine failed"}})"};
  EXPECT_EQ(tail, expected);
}

TEST(anthropic_responder, a_chunked_stream_is_framed_and_closed) {
  chat_responder_options o = options(true);
  o.response.chunked = true;
  anthropic_responder r(meta, std::move(o));
  const std::string out = answer(r, {testing::answer_piece("Hi", 1, "length")});
  EXPECT_NE(out.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n0\r\n\r\n"));
  EXPECT_TRUE(r.keep_alive());
}

}  // namespace
}  // namespace troupe::http
