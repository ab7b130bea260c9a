// A Responses API body checked as vLLM's pydantic model checks it and translated into the chat
// completion body that renders its conversation (http/responses_request.hpp), against what vLLM
// 0.32 builds.
#include "http/responses_request.hpp"

#include <string>

#include <gtest/gtest.h>

#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;

responses_context context_of(int32_t max_model_len = 2048) {
  responses_context c;
  c.max_model_len = max_model_len;
  c.auto_tools = true;
  return c;
}

responses_request translate_ok(const std::string& body,
                               const responses_context& context = context_of()) {
  auto checked = check_responses_request(body, "application/json");
  EXPECT_TRUE(std::holds_alternative<responses_lookup>(checked)) << body;
  auto translated = translate_responses_request(body, context);
  if (auto* e = std::get_if<api_error>(&translated)) {
    ADD_FAILURE() << body << " -> " << e->message;
    return {};
  }
  return std::get<responses_request>(std::move(translated));
}

api_error refused(const std::string& body, const responses_context& context = context_of()) {
  auto translated = translate_responses_request(body, context);
  if (auto* e = std::get_if<api_error>(&translated)) return *e;
  ADD_FAILURE() << body << " was translated";
  return {};
}

TEST(responses_request, a_string_input_is_one_user_message_after_the_instructions) {
  const responses_request r =
      translate_ok(R"({"model": "m", "input": "Hi", "instructions": "Be brief.",
      "max_output_tokens": 16, "temperature": 0, "stop": ["!"]})");
  EXPECT_EQ(
      r.chat_body,
      R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],)"
      R"("model":"m","stop":["!"],"temperature":0,"max_tokens":16})");
  EXPECT_TRUE(r.store);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.echo.id.size(), 21u);  // "resp_" + 16 hex digits
  EXPECT_EQ(*r.echo.instructions, "Be brief.");
  EXPECT_EQ(r.echo.temperature, 0.0);
  EXPECT_EQ(r.echo.top_p, 1.0);  // greedy
  EXPECT_EQ(r.echo.tool_choice, "\"none\"");
  EXPECT_EQ(r.messages_json,
            R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])");
}

TEST(responses_request, items_become_chat_messages_merged_into_assistant_turns) {
  const responses_request r = translate_ok(R"({"input": [
      {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
      {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "Need a tool."}]},
      {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"city\": \"Paris\"}"},
      {"type": "function_call", "call_id": "c2", "name": "get", "arguments": "{}"},
      {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sunny."}]},
      {"role": "developer", "content": "Answer in French."}]})");
  auto chat = parse_json(r.chat_body);
  const auto& messages = chat["messages"];
  ASSERT_EQ(messages.Size(), 5u) << r.chat_body;
  EXPECT_STREQ(messages[0]["content"][0]["type"].GetString(), "input_text");  // as given
  const auto& assistant = messages[1];
  EXPECT_STREQ(assistant["reasoning"].GetString(), "Need a tool.");
  ASSERT_EQ(assistant["tool_calls"].Size(), 2u);
  EXPECT_STREQ(assistant["tool_calls"][0]["id"].GetString(), "c1");
  EXPECT_STREQ(assistant["tool_calls"][0]["function"]["arguments"].GetString(),
               R"({"city": "Paris"})");
  EXPECT_STREQ(messages[2]["role"].GetString(), "tool");
  EXPECT_STREQ(messages[2]["tool_call_id"].GetString(), "c1");
  EXPECT_STREQ(messages[3]["content"].GetString(), "Sunny.");
  EXPECT_STREQ(messages[4]["role"].GetString(), "developer");
  EXPECT_FALSE(chat.HasMember("continue_final_message"));
}

TEST(responses_request, an_open_last_assistant_message_is_continued) {
  auto chat = parse_json(translate_ok(R"({"input": [{"role": "user", "content": "Hi"},
      {"type": "message", "role": "assistant", "status": "in_progress",
       "content": [{"type": "output_text", "text": "Ahoy"}]}]})")
                             .chat_body);
  EXPECT_FALSE(chat["add_generation_prompt"].GetBool());
  EXPECT_TRUE(chat["continue_final_message"].GetBool());
}

TEST(responses_request, a_previous_response_comes_before_the_input_without_its_system_messages) {
  const std::string messages =
      R"([{"role":"system","content":"Old."},{"role":"user","content":"My name is Ann."}])";
  const std::string output =
      R"([{"id":"rs_1","type":"reasoning","summary":[]},)"
      R"({"id":"msg_1","type":"message","content":[{"type":"output_text","text":"Hi Ann."}]}])";
  responses_context context = context_of();
  context.previous_messages = &messages;
  context.previous_output = &output;
  const responses_request r = translate_ok(
      R"({"input": "What is my name?", "instructions": "New.", "previous_response_id": "resp_1"})",
      context);
  EXPECT_EQ(
      r.messages_json,
      R"([{"role":"system","content":"New."},{"role":"user","content":"My name is Ann."},)"
      R"({"role":"assistant","content":"Hi Ann."},{"role":"user","content":"What is my name?"}])");
  EXPECT_EQ(*r.echo.previous_response_id, "resp_1");
}

TEST(responses_request, function_tools_and_choices_map_to_chats_and_are_echoed) {
  const std::string tools = R"("tools": [{"type": "function", "name": "get", "description": "G",
      "parameters": {"type": "object"}, "strict": true}])";
  auto r = translate_ok(R"({"input": "x", )" + tools + "}");
  auto chat = parse_json(r.chat_body);
  EXPECT_STREQ(chat["tool_choice"].GetString(), "auto");
  EXPECT_STREQ(chat["tools"][0]["function"]["name"].GetString(), "get");
  EXPECT_TRUE(chat["tools"][0]["function"]["strict"].GetBool());
  EXPECT_EQ(r.echo.tools,
            R"([{"name":"get","parameters":{"type":"object"},"strict":true,"type":"function",)"
            R"("allowed_callers":null,"async":null,"defer_loading":null,"description":"G",)"
            R"("output_schema":null}])");
  EXPECT_EQ(r.echo.tool_choice, "\"auto\"");
  // Without an auto tool parser, "auto" is answered as text.
  responses_context plain = context_of();
  plain.auto_tools = false;
  EXPECT_STREQ(
      parse_json(translate_ok(R"({"input": "x", )" + tools + "}", plain).chat_body)["tool_choice"]
          .GetString(),
      "none");
  r = translate_ok(R"({"input": "x", "tool_choice": {"type": "function", "name": "get"}, )" +
                   tools + "}");
  EXPECT_STREQ(parse_json(r.chat_body)["tool_choice"]["function"]["name"].GetString(), "get");
  EXPECT_EQ(r.echo.tool_choice, R"({"name":"get","type":"function"})");

  EXPECT_EQ(
      refused(R"({"input": "x", "tool_choice": "required"})").message,
      "Tool choice 'required' must be specified with 'tools' parameter. (parameter=tool_choice)");
  EXPECT_EQ(
      refused(R"({"input": "x", "tool_choice": {"type": "function", "name": "zz"}, )" + tools + "}")
          .message,
      "Tool choice 'function' not found in 'tools' parameter. (parameter=tool_choice)");
  EXPECT_EQ(refused(R"({"input": "x", "tools": [{"type": "web_search_preview"}]})").param, "tools");
}

TEST(responses_request, sampling_formats_and_logprobs_follow_vllms_rules) {
  auto r = translate_ok(R"({"input": "x", "temperature": 0.5, "top_p": 0.75,
      "include": ["message.output_text.logprobs"], "top_logprobs": 2,
      "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}, "strict": true}},
      "reasoning": {"effort": "low"}, "stream": true})");
  auto chat = parse_json(r.chat_body);
  EXPECT_TRUE(chat["logprobs"].GetBool());
  EXPECT_EQ(chat["top_logprobs"].GetInt(), 2);
  EXPECT_STREQ(chat["response_format"]["json_schema"]["name"].GetString(), "p");
  EXPECT_STREQ(chat["reasoning_effort"].GetString(), "low");
  EXPECT_TRUE(chat["stream"].GetBool());
  EXPECT_TRUE(chat["stream_options"]["include_usage"].GetBool());
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.echo.top_p, 0.75);
  EXPECT_EQ(*r.echo.top_logprobs, 2);
  EXPECT_EQ(r.echo.text, R"({"format":{"name":"p","schema":{"type":"object"},"type":"json_schema",)"
                         R"("description":null,"strict":true},"verbosity":null})");
  EXPECT_EQ(
      r.echo.reasoning,
      R"({"context":null,"effort":"low","generate_summary":null,"mode":null,"summary":null})");
  // top_logprobs without the include: no logprobs, echoed null.
  r = translate_ok(R"({"input": "x", "top_logprobs": 2})");
  EXPECT_FALSE(parse_json(r.chat_body).HasMember("logprobs"));
  EXPECT_FALSE(r.echo.top_logprobs);

  EXPECT_EQ(
      refused(R"({"input": "x", "max_output_tokens": 4096})").message,
      "max_output_tokens=4096 cannot be greater than max_model_len=2048. Please request fewer "
      "output tokens. (parameter=max_output_tokens, value=4096)");
  EXPECT_EQ(
      refused(R"({"input": "x", "include": ["message.output_text.logprobs"], "top_logprobs": 50})")
          .message,
      "Requested sample logprobs of 50, which is greater than max allowed: 20 "
      "(parameter=logprobs, value=50)");
  EXPECT_EQ(
      refused(R"({"input": [{"type": "reasoning", "summary": [], "encrypted_content": "x"}]})")
          .param,
      "input");
}

TEST(responses_request, the_body_is_checked_as_vllms_model_checks_it) {
  struct c {
    std::string body;
    std::string param;
  };
  for (const c& k :
       {c{R"({"model": "m"})", "body.input"}, c{R"({"input": 3})", "body.input"},
        c{R"({"input": [{"type": "video"}]})", "body.input"},
        c{R"({"input": [{"role": "tool", "content": "x"}]})", "body.input"},
        c{R"({"input": "x", "include": ["everything"]})", "body.include.0"},
        c{R"({"input": "x", "reasoning": {"effort": "huge"}})", "body.reasoning.effort"},
        c{R"({"input": "x", "service_tier": "gold"})", "body.service_tier"},
        c{R"({"input": "x", "truncation": "middle"})", "body.truncation"},
        c{R"({"input": "x", "metadata": {"k": 1}})", "body.metadata.k"},
        c{R"({"input": "x", "tool_choice": "sometimes"})", "body.tool_choice"},
        c{R"({"input": "x", "tools": [{"type": "function"}]})", "body.tools.0.FunctionTool.name"},
        c{R"({"input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}})",
          "body.text.format.ResponseFormatText.type"}}) {
    auto checked = check_responses_request(k.body, "application/json");
    ASSERT_TRUE(std::holds_alternative<pydantic_error>(checked)) << k.body;
    EXPECT_EQ(std::get<pydantic_error>(checked).param.value_or("null"), k.param) << k.body;
  }
  // vLLM's before-validators: BadRequestErrors, not pydantic's.
  for (const auto& [body, param] :
       {std::pair{R"({"input": "x", "prompt": {"id": "p"}})", "prompt"},
        std::pair{R"({"input": "x", "background": true, "store": false})", "background"},
        std::pair{R"({"input": "x", "cache_salt": ""})", "cache_salt"}}) {
    auto checked = check_responses_request(body, "application/json");
    ASSERT_TRUE(std::holds_alternative<api_error>(checked)) << body;
    EXPECT_EQ(std::get<api_error>(checked).param, param);
  }
  auto lookup = std::get<responses_lookup>(check_responses_request(
      R"({"input": "x", "previous_response_id": "resp_1", "store": false})", "application/json"));
  EXPECT_EQ(*lookup.previous_response_id, "resp_1");
  EXPECT_FALSE(lookup.store);
  EXPECT_TRUE(std::holds_alternative<pydantic_error>(
      check_responses_request(R"({"input": "x"})", "text/plain")));
}

}  // namespace
}  // namespace troupe::http
