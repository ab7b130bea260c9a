// The Anthropic Messages body translated into a chat completion body (http/anthropic_request.hpp),
// against what vLLM 0.32's AnthropicServingMessages builds, and the probes of the chat template.
#include "http/anthropic_request.hpp"

#include <string>

#include <gtest/gtest.h>

#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;

const anthropic_template_traits keep_inline_system{false, "none"};

// The chat body of an Anthropic one (or the test fails).
std::string chat_of(const std::string& body,
                    const anthropic_template_traits& traits = keep_inline_system,
                    anthropic_endpoint endpoint = anthropic_endpoint::messages) {
  auto translated = translate_anthropic_request(body, "application/json", endpoint, traits);
  if (auto* error = std::get_if<pydantic_error>(&translated)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  const auto& chat = std::get<anthropic_chat_request>(translated);
  EXPECT_FALSE(chat.refusal) << chat.refusal->message;
  return chat.chat_body;
}

pydantic_error refusal_of(const std::string& body,
                          std::string_view content_type = "application/json") {
  auto translated = translate_anthropic_request(body, content_type, anthropic_endpoint::messages,
                                                keep_inline_system);
  if (auto* error = std::get_if<pydantic_error>(&translated)) return *error;
  ADD_FAILURE() << "accepted: " << std::get<anthropic_chat_request>(translated).chat_body;
  return {};
}

TEST(anthropic_request, a_plain_request_becomes_vllms_chat_request) {
  EXPECT_EQ(chat_of(R"({"model": "m", "max_tokens": 16, "temperature": 0, "top_k": 1,
      "top_p": 0.5, "stop_sequences": ["world"], "cache_salt": "s", "metadata": {"user_id": "u"},
      "messages": [{"role": "user", "content": "Say hello."}]})"),
            R"({"model":"m","messages":[{"role":"user","content":"Say hello."}],)"
            R"("max_tokens":16,"max_completion_tokens":16,"stop":["world"],"temperature":0,)"
            R"("top_p":0.5,"top_k":1,"cache_salt":"s"})");
}

TEST(anthropic_request, a_stream_asks_for_usage_on_every_chunk) {
  EXPECT_EQ(chat_of(R"({"model": "m", "max_tokens": 4, "stream": true,
      "messages": [{"role": "user", "content": "x"}]})"),
            R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":4,)"
            R"("max_completion_tokens":4,"stream":true,)"
            R"("stream_options":{"include_usage":true,"continuous_usage_stats":true}})");
}

TEST(anthropic_request, system_blocks_lead_and_billing_headers_are_dropped) {
  auto chat = parse_json(chat_of(R"({"model": "m", "max_tokens": 4,
      "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1; h=abc"},
                 {"type": "text", "text": "Be brief."}, {"type": "text", "text": " Really."}],
      "messages": [{"role": "user", "content": "a"},
                   {"role": "system", "content": "Reminder."},
                   {"role": "user", "content": [{"type": "text", "text": "b"},
                                                {"type": "text", "text": "c"}]}]})"));
  const auto& messages = chat["messages"];
  ASSERT_EQ(messages.Size(), 4u);
  EXPECT_STREQ(messages[0]["role"].GetString(), "system");
  EXPECT_STREQ(messages[0]["content"].GetString(), "Be brief. Really.");
  EXPECT_STREQ(messages[2]["role"].GetString(), "system");
  EXPECT_STREQ(messages[2]["content"].GetString(), "Reminder.");
  // Two text blocks stay two parts (the template's content format joins them).
  ASSERT_TRUE(messages[3]["content"].IsArray());
  EXPECT_STREQ(messages[3]["content"][1]["text"].GetString(), "c");
}

TEST(anthropic_request, a_template_wanting_the_system_first_gets_inline_system_text_merged) {
  auto chat = parse_json(chat_of(R"({"model": "m", "max_tokens": 4, "system": "A.",
      "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "B."},
                   {"role": "user", "content": "b"}]})",
                                 anthropic_template_traits{true, "none"}));
  const auto& messages = chat["messages"];
  ASSERT_EQ(messages.Size(), 3u);
  EXPECT_STREQ(messages[0]["content"].GetString(), "A.B.");
  EXPECT_STREQ(messages[2]["content"].GetString(), "b");
}

TEST(anthropic_request, tool_use_and_tool_result_blocks_become_tool_calls_and_tool_messages) {
  auto chat = parse_json(chat_of(R"({"model": "m", "max_tokens": 4, "messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": [
          {"type": "thinking", "thinking": "Need a tool.", "signature": "s"},
          {"type": "text", "text": "Let me check."},
          {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
      {"role": "user", "content": [
          {"type": "tool_result", "tool_use_id": "toolu_1",
           "content": [{"type": "text", "text": "Sunny"}, {"type": "text", "text": "21 C"}]},
          {"type": "text", "text": "Thanks."}]}]})"));
  const auto& messages = chat["messages"];
  ASSERT_EQ(messages.Size(), 4u);
  const auto& assistant = messages[1];
  EXPECT_STREQ(assistant["reasoning"].GetString(), "Need a tool.");
  EXPECT_STREQ(assistant["content"].GetString(), "Let me check.");
  EXPECT_STREQ(assistant["tool_calls"][0]["id"].GetString(), "toolu_1");
  EXPECT_STREQ(assistant["tool_calls"][0]["function"]["name"].GetString(), "get_weather");
  EXPECT_STREQ(assistant["tool_calls"][0]["function"]["arguments"].GetString(),
               R"({"city":"Paris"})");
  // The result comes as a "tool" message before what else the user's turn says.
  EXPECT_STREQ(messages[2]["role"].GetString(), "tool");
  EXPECT_STREQ(messages[2]["tool_call_id"].GetString(), "toolu_1");
  EXPECT_STREQ(messages[2]["content"].GetString(), "Sunny\n21 C");
  EXPECT_STREQ(messages[3]["content"].GetString(), "Thanks.");
}

TEST(anthropic_request, a_user_turn_of_tool_results_alone_leaves_only_the_tool_message) {
  auto chat = parse_json(chat_of(R"({"model": "m", "max_tokens": 4, "messages": [
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}]})"));
  const auto& messages = chat["messages"];
  ASSERT_EQ(messages.Size(), 2u);
  EXPECT_FALSE(messages[0].HasMember("content"));
  EXPECT_STREQ(messages[1]["role"].GetString(), "tool");
  EXPECT_STREQ(messages[1]["content"].GetString(), "ok");
}

TEST(anthropic_request, tool_choices_map_to_chats) {
  const std::string start = R"({"model": "m", "max_tokens": 4,
      "messages": [{"role": "user", "content": "x"}],
      "tools": [{"name": "f", "description": "F", "input_schema": {"properties": {}}}])";
  auto chat = parse_json(chat_of(start + "}"));
  EXPECT_STREQ(chat["tool_choice"].GetString(), "auto");
  EXPECT_FALSE(chat.HasMember("parallel_tool_calls"));
  const auto& function = chat["tools"][0]["function"];
  EXPECT_STREQ(function["description"].GetString(), "F");
  EXPECT_STREQ(function["parameters"]["type"].GetString(), "object");  // added, as vLLM does

  chat = parse_json(
      chat_of(start + R"(, "tool_choice": {"type": "any", "disable_parallel_tool_use": true}})"));
  EXPECT_STREQ(chat["tool_choice"].GetString(), "required");
  EXPECT_FALSE(chat["parallel_tool_calls"].GetBool());
  chat = parse_json(chat_of(start + R"(, "tool_choice": {"type": "tool", "name": "f"}})"));
  EXPECT_STREQ(chat["tool_choice"]["function"]["name"].GetString(), "f");
  EXPECT_TRUE(chat["parallel_tool_calls"].GetBool());
  chat = parse_json(chat_of(start + R"(, "tool_choice": {"type": "none"}})"));
  EXPECT_STREQ(chat["tool_choice"].GetString(), "none");
}

TEST(anthropic_request, system_tool_changes_resolve_the_tools_in_effect) {
  const std::string tools = R"("tools": [{"name": "a", "input_schema": {}, "defer_loading": true},
                                         {"name": "b", "input_schema": {}}])";
  auto chat = parse_json(chat_of(R"({"model": "m", "max_tokens": 4, )" + tools + R"(, "messages": [
      {"role": "system", "content": [
          {"type": "tool_addition", "tool": {"type": "tool_reference", "name": "a"}},
          {"type": "tool_removal", "tool": {"type": "tool_reference", "name": "b"}},
          {"type": "tool_addition", "tool": {"type": "tool_definition",
                                             "definition": {"name": "c", "input_schema": {}}}}]},
      {"role": "user", "content": "x"}]})"));
  const auto& list = chat["tools"];
  ASSERT_EQ(list.Size(), 2u);
  EXPECT_STREQ(list[0]["function"]["name"].GetString(), "a");
  EXPECT_FALSE(list[0]["function"].HasMember("defer_loading"));  // loaded now
  EXPECT_STREQ(list[1]["function"]["name"].GetString(), "c");

  auto refused = translate_anthropic_request(
      R"({"model": "m", "max_tokens": 4, "messages": [{"role": "system", "content": [
          {"type": "tool_removal", "tool": {"type": "tool_reference", "name": "zz"}}]}]})",
      "application/json", anthropic_endpoint::messages, keep_inline_system);
  const auto& chat_request = std::get<anthropic_chat_request>(refused);
  ASSERT_TRUE(chat_request.refusal);
  EXPECT_EQ(chat_request.refusal->message,
            "tool_removal references tool 'zz', which is not declared in tools");
}

TEST(anthropic_request, output_config_and_thinking_set_the_format_and_the_effort) {
  const std::string start = R"({"model": "m", "max_tokens": 2000,
      "messages": [{"role": "user", "content": "x"}], )";
  auto chat = parse_json(chat_of(start + R"("output_config": {"effort": "high",
      "format": {"type": "json_schema", "schema": {"type": "object"}}}})"));
  EXPECT_STREQ(chat["reasoning_effort"].GetString(), "high");
  EXPECT_STREQ(chat["response_format"]["type"].GetString(), "json_schema");
  EXPECT_STREQ(chat["response_format"]["json_schema"]["name"].GetString(), "json_schema");
  EXPECT_STREQ(chat["response_format"]["json_schema"]["schema"]["type"].GetString(), "object");

  // thinking "disabled" wins over the effort, with the template's disabled effort.
  chat = parse_json(chat_of(start + R"("output_config": {"effort": "high"},
      "thinking": {"type": "disabled"}})",
                            anthropic_template_traits{false, "low"}));
  EXPECT_STREQ(chat["reasoning_effort"].GetString(), "low");
  chat = parse_json(chat_of(start + R"("thinking": {"type": "enabled", "budget_tokens": 1024}})"));
  EXPECT_EQ(chat["thinking_token_budget"].GetInt(), 1024);  // which the chat path refuses
  chat = parse_json(chat_of(start + R"("thinking": {"type": "adaptive"}})"));
  EXPECT_FALSE(chat.HasMember("reasoning_effort"));
}

TEST(anthropic_request, count_tokens_carries_no_sampling) {
  EXPECT_EQ(
      chat_of(R"({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]})",
              keep_inline_system, anthropic_endpoint::count_tokens),
      R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  // max_tokens is not required there.
  EXPECT_FALSE(chat_of(R"({"model": "m", "messages": []})", keep_inline_system,
                       anthropic_endpoint::count_tokens)
                   .empty());
}

TEST(anthropic_request, the_body_is_checked_as_vllms_pydantic_models_check_it) {
  const std::string messages = R"("messages": [{"role": "user", "content": "x"}])";
  struct refusal {
    std::string body;
    std::string param;
  };
  const refusal cases[] = {
      {R"({"model": "m", )" + messages + "}", "body.max_tokens"},
      {R"({"model": "m", "max_tokens": 0, )" + messages + "}", "body.max_tokens"},
      {R"({"model": "m", "max_tokens": 1})", "body.messages"},
      {R"({"max_tokens": 1, )" + messages + "}", "body.model"},
      {R"({"model": "", "max_tokens": 1, )" + messages + "}", "body.model"},
      {R"({"model": "m", "max_tokens": 1, "messages": [{"role": "tool", "content": "x"}]})",
       "body.messages.0.role"},
      {R"({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [{"type": "video"}]}]})",
       "body.messages.0.content"},
      {R"({"model": "m", "max_tokens": 1, "stop_sequences": "x", )" + messages + "}",
       "body.stop_sequences"},
      {R"({"model": "m", "max_tokens": 1, "tool_choice": {"type": "tool"}, )" + messages + "}",
       "body.tool_choice"},
      {R"({"model": "m", "max_tokens": 1, "tool_choice": {"type": "some"}, )" + messages + "}",
       "body.tool_choice.type"},
      {R"({"model": "m", "max_tokens": 1, "tools": [{"name": "f"}], )" + messages + "}",
       "body.tools.0.input_schema"},
      {R"({"model": "m", "max_tokens": 1, "thinking": {"type": "on"}, )" + messages + "}",
       "body.thinking"},
      {R"({"model": "m", "max_tokens": 9999, "thinking": {"type": "enabled", "budget_tokens": 10}, )" +
           messages + "}",
       "body.thinking.enabled.budget_tokens"},
      {R"({"model": "m", "max_tokens": 1024, "thinking": {"type": "enabled", "budget_tokens": 1024}, )" +
           messages + "}",
       "body"},
      {R"({"model": "m", "max_tokens": 1, "output_config": {"effort": "huge"}, )" + messages + "}",
       "body.output_config.effort"},
      {R"({"model": "m", "max_tokens": 1, "cache_salt": "", )" + messages + "}", "body.cache_salt"},
      {R"({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
          {"type": "tool_addition", "tool": {"type": "tool_reference", "name": "f"}}]}]})",
       "body.messages.0"},
      {R"({"model": "m", "messages": [)", "body.28"},  // the offset where the JSON breaks
  };
  for (const auto& c : cases) {
    pydantic_error error = refusal_of(c.body);
    EXPECT_EQ(error.param.value_or("null"), c.param) << c.body;
    EXPECT_TRUE(error.message.starts_with("1 validation error:\n  " + c.param + ": "))
        << error.message;
  }
}

TEST(anthropic_request, the_body_must_be_sent_as_json) {
  const std::string body =
      R"({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]})";
  for (std::string_view type : {"text/plain", "", "application/jsonx"}) {
    pydantic_error error = refusal_of(body, type);
    EXPECT_FALSE(error.param) << type;
    EXPECT_EQ(error.message,
              "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed");
  }
  EXPECT_FALSE(chat_of(body).empty());
  auto translated = translate_anthropic_request(body, "Application/JSON; charset=utf-8",
                                                anthropic_endpoint::messages, keep_inline_system);
  EXPECT_TRUE(std::holds_alternative<anthropic_chat_request>(translated));
}

TEST(anthropic_request, errors_have_both_of_vllms_shapes) {
  EXPECT_EQ(pydantic_error_json(
                {"1 validation error:\n  body.max_tokens: Field required", "body.max_tokens"}),
            R"({"error":{"message":"1 validation error:\n  body.max_tokens: Field required",)"
            R"("type":"Bad Request","param":"body.max_tokens","code":400}})");
  EXPECT_EQ(
      anthropic_error_json(api_error{404, "The model `x` does not exist.", "model"}),
      R"({"type":"error","error":{"type":"NotFoundError","message":"The model `x` does not exist."}})");
}

chat_template_setup setup_of(const std::string& source) {
  chat_template_setup setup;
  auto tpl = runtime::chat_template::parse(source);
  EXPECT_TRUE(tpl.ok()) << tpl.message();
  setup.tpl = std::move(*tpl);
  return setup;
}

TEST(anthropic_request, the_probes_read_the_templates_behaviour) {
  // A template refusing a system message after the first, and one taking it.
  const chat_template_setup strict = setup_of(
      "{% for m in messages %}{% if m.role == 'system' and not loop.first %}"
      "{{ raise_exception('System message must be at the beginning.') }}{% endif %}"
      "{{ m.content }}{% endfor %}");
  const chat_template_setup lenient =
      setup_of("{% for m in messages %}{{ m.content }}{% endfor %}");
  EXPECT_TRUE(probe_anthropic_traits(&strict, "auto").merge_inline_system);
  EXPECT_FALSE(probe_anthropic_traits(&lenient, "auto").merge_inline_system);
  EXPECT_TRUE(probe_anthropic_traits(nullptr, "auto").merge_inline_system);

  // "none" renders like the efforts: the template cannot turn thinking off, so "low".
  EXPECT_EQ(probe_anthropic_traits(&lenient, "auto").disabled_thinking_effort, "low");
  // A template that honours enable_thinking: "none".
  const chat_template_setup thinking = setup_of(
      "{% for m in messages %}{{ m.content }}{% endfor %}"
      "{% if enable_thinking %}<think>{% endif %}");
  EXPECT_EQ(probe_anthropic_traits(&thinking, "auto").disabled_thinking_effort, "none");
  // One that refuses "none".
  const chat_template_setup refusing =
      setup_of("{% if reasoning_effort == 'none' %}{{ raise_exception('no') }}{% endif %}x");
  EXPECT_EQ(probe_anthropic_traits(&refusing, "auto").disabled_thinking_effort, "low");
  // The flag's own value wins.
  EXPECT_EQ(probe_anthropic_traits(&thinking, "medium").disabled_thinking_effort, "medium");
}

}  // namespace
}  // namespace troupe::http
