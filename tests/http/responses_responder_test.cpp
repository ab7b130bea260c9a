// The chat answer written as vLLM 0.32's Responses API answers (http/responses_responder.hpp):
// the response object, and the numbered event stream.
#include "http/responses_responder.hpp"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tests/http/answer_events.hpp"
#include "tests/http/fake_engine.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;

const completion_meta meta{"resp_0123456789abcdef", 1700000000, "m"};
const testing::byte_tokenizer tokenizer;

chat_responder_options chat_options(bool stream) {
  chat_responder_options o = testing::unframed_chat_options(stream, tokenizer);
  o.response.prompt_tokens_details = true;
  return o;
}

responses_responder_options setup(bool parser = false) {
  responses_responder_options r;
  r.echo.id = meta.id;
  r.echo.temperature = 0.0;
  r.echo.max_output_tokens = 16;
  r.max_model_len = 2048;
  r.created_at = meta.created;
  r.answer_parser = parser;
  return r;
}

std::string masked(const std::string& text) {
  static const std::regex item(R"("(msg|fc|rs)_[0-9a-f]{16}")");
  static const std::regex call("chatcmpl-tool-[0-9a-f]{16}");
  return std::regex_replace(std::regex_replace(text, item, R"("$1_ID")"), call, "CALL");
}

std::string body_of(const std::string& response) {
  return masked(response.substr(response.find("\r\n\r\n") + 4));
}

std::string answer(responses_responder& r, const std::vector<actors::generation_event>& events) {
  std::string out;
  for (const auto& e : events)
    out += r.on_event(e);
  EXPECT_TRUE(r.done());
  return out;
}

// A stream's events as (type, data), split by hand (std::regex crawls over long lines).
std::vector<std::pair<std::string, std::string>> events_of(const std::string& response) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string body = body_of(response);
  for (size_t at = body.find("event: "); at != std::string::npos; at = body.find("event: ", at)) {
    const size_t type_end = body.find('\n', at);
    const size_t data = type_end + 7;  // "\ndata: "
    const size_t end = body.find("\n\n", data);
    out.emplace_back(body.substr(at + 7, type_end - at - 7), body.substr(data, end - data));
    at = end;
  }
  return out;
}

const std::string echo_tail =
    R"("parallel_tool_calls":true,"temperature":0.0,"tool_choice":"none","tools":[],"top_p":1.0,)"
    R"("background":false,"max_output_tokens":16,"max_tool_calls":null,"previous_response_id":null,)"
    R"("prompt":null,"reasoning":null,"service_tier":"auto",)";

TEST(responses_responder, a_complete_answer_is_vllms_response_object) {
  responses_responder r(meta, chat_options(false), setup());
  const std::string out =
      answer(r, {testing::answer_piece("Hel", 1), testing::answer_piece("lo", 2, "stop")});
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(body_of(out),
            R"({"id":"resp_0123456789abcdef","created_at":1700000000,"incomplete_details":null,)"
            R"("instructions":null,"metadata":null,"model":"m","object":"response","output":[)"
            R"({"id":"msg_ID","content":[{"annotations":[],"text":"Hello","type":"output_text",)"
            R"("logprobs":null}],"role":"assistant","status":"completed","type":"message",)"
            R"("phase":null}],)" +
                echo_tail +
                R"("status":"completed","text":null,"top_logprobs":null,"truncation":"disabled",)"
                R"("usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":0,)"
                R"("cache_write_tokens":0,"input_tokens_per_turn":[],"cached_tokens_per_turn":[]},)"
                R"("output_tokens":2,"output_tokens_details":{"reasoning_tokens":0,)"
                R"("tool_output_tokens":0,"output_tokens_per_turn":[],)"
                R"("tool_output_tokens_per_turn":[]},"total_tokens":7},"user":null,)"
                R"("presence_penalty":0.0,"frequency_penalty":0.0,"kv_transfer_params":null,)"
                R"("ec_transfer_params":null,"input_messages":null,"output_messages":null})");
  EXPECT_EQ(masked(r.response_json()), body_of(out));
  EXPECT_EQ(masked(r.output_json()).rfind(R"([{"id":"msg_ID")", 0), 0u);
}

TEST(responses_responder, a_cut_answer_is_incomplete_and_max_output_tokens_is_the_samplings) {
  responses_responder_options o = setup();
  o.echo.max_output_tokens.reset();  // then what the model's length leaves: 2048 - 5
  responses_responder r(meta, chat_options(false), o);
  const auto doc = parse_json(body_of(answer(r, {testing::answer_piece("x", 1, "length")})));
  EXPECT_STREQ(doc["status"].GetString(), "incomplete");
  EXPECT_STREQ(doc["incomplete_details"]["reason"].GetString(), "max_output_tokens");
  EXPECT_EQ(doc["max_output_tokens"].GetInt(), 2043);
}

TEST(responses_responder, an_empty_answer_has_an_empty_message_only_without_a_parser) {
  responses_responder plain(meta, chat_options(false), setup(false));
  EXPECT_EQ(parse_json(body_of(
                answer(plain, {testing::answer_piece("", 1, "stop")})))["output"][0]["content"]
                .Size(),
            0u);
  responses_responder parsed(meta, chat_options(false), setup(true));
  EXPECT_EQ(
      parse_json(body_of(answer(parsed, {testing::answer_piece("", 1, "stop")})))["output"].Size(),
      0u);
}

TEST(responses_responder, forced_calls_are_function_call_items) {
  chat_responder_options o = chat_options(false);
  o.tool_choice = tool_choice_mode{tool_choice_mode::kind::named, "get", true};
  responses_responder r(meta, std::move(o), setup(true));
  const auto doc =
      parse_json(body_of(answer(r, {testing::answer_piece(R"({"city": "Paris"})", 4, "stop")})));
  ASSERT_EQ(doc["output"].Size(), 1u);
  rapidjson::StringBuffer item;
  rapidjson::Writer<rapidjson::StringBuffer> w(item);
  doc["output"][0].Accept(w);
  EXPECT_EQ(std::string(item.GetString()),
            R"({"arguments":"{\"city\": \"Paris\"}","call_id":"CALL","name":"get",)"
            R"("type":"function_call","id":"fc_ID","async":null,"caller":null,"namespace":null,)"
            R"("status":"completed"})");
}

TEST(responses_responder, an_engine_error_before_the_answer_is_the_chat_error) {
  responses_responder r(meta, chat_options(false), setup());
  actors::generation_event error = testing::answer_piece("", 0);
  error.error = "prompt too long";
  error.error_status = 400;
  const std::string out = answer(r, {error});
  EXPECT_EQ(r.status(), 400);
  EXPECT_STREQ(parse_json(body_of(out))["error"]["message"].GetString(), "prompt too long");
  EXPECT_TRUE(r.response_json().empty());  // nothing to store
}

TEST(responses_responder, a_stream_is_the_numbered_event_sequence) {
  responses_responder r(meta, chat_options(true), setup());
  const auto events = events_of(
      answer(r, {testing::answer_piece("Hel", 1), testing::answer_piece("lo", 2, "length")}));
  std::vector<std::string> types;
  for (size_t i = 0; i < events.size(); ++i) {
    types.push_back(events[i].first);
    const auto doc = parse_json(events[i].second);
    EXPECT_EQ(doc["sequence_number"].GetInt64(), static_cast<int64_t>(i));
    EXPECT_STREQ(doc["type"].GetString(), events[i].first.c_str());
  }
  const std::vector<std::string> expected = {
      "response.created",           "response.in_progress",
      "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.output_text.delta",
      "response.output_text.done",  "response.content_part.done",
      "response.output_item.done",  "response.completed"};
  EXPECT_EQ(types, expected);
  EXPECT_EQ(events[4].second,
            R"({"content_index":0,"delta":"Hel","item_id":"msg_ID","logprobs":[],"output_index":0,)"
            R"("sequence_number":4,"type":"response.output_text.delta"})");
  EXPECT_EQ(events[6].second,
            R"({"content_index":0,"item_id":"msg_ID","logprobs":[],"output_index":0,)"
            R"("sequence_number":6,"text":"Hello","type":"response.output_text.done"})");
  const auto created = parse_json(events[0].second);
  EXPECT_STREQ(created["response"]["status"].GetString(), "in_progress");
  EXPECT_TRUE(created["response"]["usage"].IsNull());
  const auto completed = parse_json(events.back().second);
  EXPECT_STREQ(completed["response"]["status"].GetString(), "incomplete");
  EXPECT_STREQ(completed["response"]["output"][0]["content"][0]["text"].GetString(), "Hello");
  EXPECT_EQ(completed["response"]["usage"]["output_tokens"].GetInt(), 2);
}

TEST(responses_responder, a_streamed_call_is_an_item_of_argument_deltas) {
  chat_responder_options o = chat_options(true);
  o.tool_choice = tool_choice_mode{tool_choice_mode::kind::named, "get", true};
  responses_responder r(meta, std::move(o), setup(true));
  const auto events = events_of(answer(r, {testing::answer_piece(R"({"city": )", 3),
                                           testing::answer_piece(R"("Paris"})", 5, "stop")}));
  ASSERT_GE(events.size(), 7u);
  EXPECT_EQ(events[2].first, "response.output_item.added");
  EXPECT_NE(events[2].second.find(R"("arguments":"","call_id":"CALL","name":"get")"),
            std::string::npos);
  std::string arguments;
  size_t i = 3;
  for (; events[i].first == "response.function_call_arguments.delta"; ++i)
    arguments += parse_json(events[i].second)["delta"].GetString();
  EXPECT_EQ(arguments, R"({"city": "Paris"})");
  EXPECT_EQ(events[i].first, "response.function_call_arguments.done");
  EXPECT_TRUE(
      events[i].second.ends_with(R"("type":"response.function_call_arguments.done","name":"get"})"))
      << events[i].second;
  EXPECT_EQ(events[i + 1].first, "response.output_item.done");
  EXPECT_EQ(events[i + 2].first, "response.completed");
}

TEST(responses_responder, reasoning_streams_as_a_reasoning_item_before_the_message) {
  chat_responder_options o = chat_options(true);
  testing::add_reasoning_parser(o);
  responses_responder r(meta, std::move(o), setup(true));
  const auto events = events_of(answer(
      r, {testing::answer_piece("<think>", 1, "", {100}), testing::answer_piece("plan", 2, "", {5}),
          testing::answer_piece("</think>", 3, "", {101}),
          testing::answer_piece("Go", 4, "stop", {6})}));
  std::vector<std::string> types;
  for (const auto& [type, data] : events)
    types.push_back(type);
  const std::vector<std::string> expected = {"response.created",
                                             "response.in_progress",
                                             "response.output_item.added",
                                             "response.content_part.added",
                                             "response.reasoning_text.delta",
                                             "response.reasoning_text.done",
                                             "response.content_part.done",
                                             "response.output_item.done",
                                             "response.output_item.added",
                                             "response.content_part.added",
                                             "response.output_text.delta",
                                             "response.output_text.done",
                                             "response.content_part.done",
                                             "response.output_item.done",
                                             "response.completed"};
  EXPECT_EQ(types, expected);
  const auto completed = parse_json(events.back().second);
  EXPECT_STREQ(completed["response"]["output"][0]["content"][0]["text"].GetString(), "plan");
  EXPECT_STREQ(completed["response"]["output"][1]["content"][0]["text"].GetString(), "Go");
}

TEST(responses_responder, an_error_during_a_stream_is_an_error_event_that_ends_it) {
  responses_responder r(meta, chat_options(true), setup());
  actors::generation_event error = testing::answer_piece("", 1);
  error.error = "engine failed";
  error.error_status = 500;
  const auto events = events_of(answer(r, {testing::answer_piece("Hi", 1), error}));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().first, "error");
  const auto doc = parse_json(events.back().second);
  EXPECT_STREQ(doc["message"].GetString(), "engine failed");
  EXPECT_STREQ(doc["code"].GetString(), "InternalServerError");
}

}  // namespace
}  // namespace troupe::http
