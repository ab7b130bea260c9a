// chat_responder under the server's answer parsers (http/chat_output_setup.hpp): a reasoning
// parser splits message.reasoning off the content and counts reasoning tokens, include_reasoning
// false drops the reasoning and the logprobs, and an "auto" tool parser turns calls into
// message.tool_calls; whole and streamed. Marker token ids are made up (the parsers take them
// from the caller): <think> = 100, </think> = 101.
#include <memory>
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

actors::generation_event piece(std::string text, std::vector<int32_t> ids, int32_t num_output,
                               bool last = false) {
  actors::generation_event e;
  e.text = std::move(text);
  e.token_ids = std::move(ids);
  e.num_prompt_tokens = 5;
  e.num_output_tokens = num_output;
  if (last) {
    e.finished = true;
    e.finish_reason = "stop";
  }
  for (int32_t id : e.token_ids)
    e.logprobs.push_back({id, -0.5f, {}});
  return e;
}

// <think>plan</think>Answer: the reasoning is one token ("plan"), the content two.
std::vector<actors::generation_event> thinking_answer() {
  return {piece("<think>", {100}, 1), piece("plan", {5}, 2), piece("</think>", {101}, 3),
          piece("Answer", {6, 7}, 5, true)};
}

chat_responder_options with_reasoning(bool stream, bool include_reasoning) {
  chat_responder_options o;
  o.response = responder_options{stream, /*include_usage=*/stream, true, /*chunked=*/false};
  o.logprobs = chat_logprobs_format{&tokenizer, 0};
  o.make_parser = [include_reasoning] {
    reasoning_tokens markers;
    markers.start_id = 100;
    markers.end_id = 101;
    return std::make_unique<chat_output_parser>(
        reasoning_parser::make(reasoning_parser_kind::deepseek_r1, markers), nullptr,
        include_reasoning);
  };
  o.reasoning_tokens_details = true;
  o.hide_metadata = !include_reasoning;
  return o;
}

rapidjson::Document complete(chat_responder_options o,
                             const std::vector<actors::generation_event>& events) {
  chat_responder r(meta, std::move(o));
  std::string out;
  for (const auto& e : events)
    out += r.on_event(e);
  EXPECT_TRUE(r.done());
  return testing::parse_json(out.substr(out.find("\r\n\r\n") + 4));
}

// The stream's JSON chunks, [DONE] left out.
std::vector<rapidjson::Document> stream(chat_responder_options o,
                                        const std::vector<actors::generation_event>& events) {
  chat_responder r(meta, std::move(o));
  std::string out;
  for (const auto& e : events)
    out += r.on_event(e);
  std::vector<rapidjson::Document> chunks;
  for (const std::string& payload : testing::sse_payloads(out.substr(out.find("\r\n\r\n") + 4)))
    if (payload != "[DONE]") chunks.push_back(testing::parse_json(payload));
  return chunks;
}

TEST(chat_responder_parsers, a_reasoning_parser_splits_the_message_and_counts_its_tokens) {
  auto doc = complete(with_reasoning(false, true), thinking_answer());
  const auto& message = doc["choices"][0]["message"];
  EXPECT_STREQ(message["reasoning"].GetString(), "plan");
  EXPECT_STREQ(message["content"].GetString(), "Answer");
  EXPECT_FALSE(message.HasMember("tool_calls"));
  EXPECT_TRUE(doc["choices"][0]["logprobs"].IsObject());
  EXPECT_EQ(doc["usage"]["completion_tokens_details"]["reasoning_tokens"].GetInt(), 1);

  // include_reasoning false: no reasoning, and no logprobs (they would show it).
  auto hidden = complete(with_reasoning(false, false), thinking_answer());
  EXPECT_TRUE(hidden["choices"][0]["message"]["reasoning"].IsNull());
  EXPECT_STREQ(hidden["choices"][0]["message"]["content"].GetString(), "Answer");
  EXPECT_TRUE(hidden["choices"][0]["logprobs"].IsNull());
  EXPECT_EQ(hidden["usage"]["completion_tokens_details"]["reasoning_tokens"].GetInt(), 1);

  // Cut inside the reasoning: all reasoning, content null.
  auto cut = complete(with_reasoning(false, true),
                      {piece("<think>", {100}, 1), piece("plan", {5}, 2, true)});
  EXPECT_STREQ(cut["choices"][0]["message"]["reasoning"].GetString(), "plan");
  EXPECT_TRUE(cut["choices"][0]["message"]["content"].IsNull());
}

TEST(chat_responder_parsers, a_reasoning_stream_sends_reasoning_then_content_deltas) {
  auto chunks = stream(with_reasoning(true, true), thinking_answer());
  std::string reasoning, content;
  for (size_t i = 1; i < chunks.size(); ++i) {  // after the role chunk
    if (chunks[i]["choices"].Empty()) continue;
    const auto& delta = chunks[i]["choices"][0]["delta"];
    if (delta.HasMember("reasoning") && delta["reasoning"].IsString())
      reasoning += delta["reasoning"].GetString();
    if (delta.HasMember("content") && delta["content"].IsString())
      content += delta["content"].GetString();
    // vLLM's DeltaMessage: a reasoning delta sets no content key.
    if (delta.HasMember("reasoning")) EXPECT_FALSE(delta.HasMember("content"));
  }
  EXPECT_EQ(reasoning, "plan");
  EXPECT_EQ(content, "Answer");
  const auto& usage = chunks.back()["usage"];
  EXPECT_EQ(usage["completion_tokens_details"]["reasoning_tokens"].GetInt(), 1);

  // include_reasoning false: reasoning-only steps send nothing; no logprobs anywhere.
  for (const auto& chunk : stream(with_reasoning(true, false), thinking_answer())) {
    if (chunk["choices"].Empty()) continue;
    const auto& c = chunk["choices"][0];
    EXPECT_TRUE(c["logprobs"].IsNull());
    if (c["delta"].HasMember("reasoning")) EXPECT_TRUE(c["delta"]["reasoning"].IsNull());
  }
}

chat_responder_options with_hermes(bool stream, bool parallel = true) {
  chat_responder_options o;
  o.response = responder_options{stream, false, true, /*chunked=*/false};
  o.logprobs = chat_logprobs_format{&tokenizer, -1};
  o.tool_choice.parse_auto = true;
  o.tool_choice.parallel_tool_calls = parallel;
  o.make_parser = [] {
    return std::make_unique<chat_output_parser>(nullptr,
                                                tool_parser::make(tool_parser_kind::hermes), true);
  };
  return o;
}

const std::string two_calls =
    "Sure. <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1E2}}\n</tool_call>\n"
    "<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>";

TEST(chat_responder_parsers, auto_tool_calls_become_message_tool_calls) {
  auto doc = complete(with_hermes(false), {piece(two_calls, {1}, 1, true)});
  const auto& c = doc["choices"][0];
  EXPECT_STREQ(c["finish_reason"].GetString(), "tool_calls");
  EXPECT_STREQ(c["message"]["content"].GetString(), "Sure. ");
  ASSERT_EQ(c["message"]["tool_calls"].Size(), 2u);
  EXPECT_STREQ(c["message"]["tool_calls"][0]["function"]["name"].GetString(), "f");
  EXPECT_STREQ(c["message"]["tool_calls"][0]["function"]["arguments"].GetString(),
               R"({"a": 100.0})");
  EXPECT_STREQ(c["message"]["tool_calls"][1]["function"]["name"].GetString(), "g");

  auto first_only = complete(with_hermes(false, false), {piece(two_calls, {1}, 1, true)});
  EXPECT_EQ(first_only["choices"][0]["message"]["tool_calls"].Size(), 1u);

  auto plain = complete(with_hermes(false), {piece("No tools needed.", {1}, 1, true)});
  EXPECT_STREQ(plain["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_STREQ(plain["choices"][0]["message"]["content"].GetString(), "No tools needed.");
  EXPECT_FALSE(plain["choices"][0]["message"].HasMember("tool_calls"));
}

TEST(chat_responder_parsers, streamed_auto_tool_calls_are_name_then_argument_deltas) {
  std::vector<actors::generation_event> events;
  for (size_t i = 0; i < two_calls.size(); i += 3)
    events.push_back(piece(two_calls.substr(i, 3), {1}, static_cast<int32_t>(i / 3 + 1)));
  events.push_back(piece("", {2}, static_cast<int32_t>(events.size() + 1), true));
  std::string content, finish;
  std::vector<std::string> names, arguments;
  for (const auto& chunk : stream(with_hermes(true), events)) {
    const auto& c = chunk["choices"][0];
    const auto& delta = c["delta"];
    if (delta.HasMember("content") && delta["content"].IsString())
      content += delta["content"].GetString();
    if (delta.HasMember("tool_calls")) {
      EXPECT_TRUE(delta["content"].IsNull());  // hermes sets content to None beside calls
      for (const auto& t : delta["tool_calls"].GetArray()) {
        const auto index = static_cast<size_t>(t["index"].GetInt());
        names.resize(std::max(names.size(), index + 1));
        arguments.resize(std::max(arguments.size(), index + 1));
        if (t.HasMember("id")) names[index] += t["function"]["name"].GetString();
        if (t["function"].HasMember("arguments"))
          arguments[index] += t["function"]["arguments"].GetString();
      }
    }
    if (c["finish_reason"].IsString()) finish = c["finish_reason"].GetString();
  }
  EXPECT_EQ(content, "Sure. ");
  EXPECT_EQ(names, (std::vector<std::string>{"f", "g"}));
  EXPECT_EQ(arguments, (std::vector<std::string>{R"({"a": 1E2})", "{}"}));
  EXPECT_EQ(finish, "tool_calls");
}

// A forced call in hermes' format (tool_parser's parser_format): read back by the parser;
// content "" rather than null; "required" finishes with "tool_calls", a named choice with the
// engine's reason; a stream's deltas are the parser's.
TEST(chat_responder_parsers, a_forced_call_in_the_parsers_format_is_read_back_by_it) {
  const std::string call = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
  for (auto type : {tool_choice_mode::kind::required, tool_choice_mode::kind::named}) {
    for (bool streamed : {false, true}) {
      chat_responder_options o = with_hermes(streamed);
      o.tool_choice.parse_auto = false;
      o.tool_choice.type = type;
      o.tool_choice.function_name = "f";
      o.tool_choice.parser_format = true;
      const std::string expected = type == tool_choice_mode::kind::named ? "stop" : "tool_calls";
      if (!streamed) {
        auto doc = complete(std::move(o), {piece(call, {1}, 1, true)});
        const auto& c = doc["choices"][0];
        EXPECT_STREQ(c["message"]["content"].GetString(), "");
        ASSERT_EQ(c["message"]["tool_calls"].Size(), 1u);
        EXPECT_STREQ(c["message"]["tool_calls"][0]["function"]["arguments"].GetString(), "{}");
        EXPECT_EQ(c["finish_reason"].GetString(), expected);
        continue;
      }
      std::string finish, name;
      for (const auto& chunk :
           stream(std::move(o), {piece(call, {1}, 1), piece("", {2}, 2, true)})) {
        const auto& c = chunk["choices"][0];
        if (c["delta"].HasMember("tool_calls") && c["delta"]["tool_calls"][0].HasMember("id"))
          name = c["delta"]["tool_calls"][0]["function"]["name"].GetString();
        if (c["finish_reason"].IsString()) finish = c["finish_reason"].GetString();
      }
      EXPECT_EQ(name, "f");
      EXPECT_EQ(finish, expected);
    }
  }
}

}  // namespace
}  // namespace troupe::http
