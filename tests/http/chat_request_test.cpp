#include "http/chat_request.hpp"

#include "http/chat_messages.hpp"

#include <string>

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

const completion_limits limits{"fake-model", 257};

chat_completion_request parse_ok(const std::string& body) {
  auto parsed = parse_chat_completion_request(body, limits, 42);
  if (auto* e = std::get_if<api_error>(&parsed)) {
    ADD_FAILURE() << body << " -> " << e->message;
    return {};
  }
  return std::get<chat_completion_request>(std::move(parsed));
}

api_error parse_error_of(const std::string& body) {
  auto parsed = parse_chat_completion_request(body, limits, 42);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  ADD_FAILURE() << body << " was accepted";
  return {};
}

TEST(chat_request, defaults_follow_vllm_chat) {
  auto r = parse_ok(R"({"model": "fake-model", "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.chat.messages_json, R"([{"role":"user","content":"Hi"}])");
  EXPECT_TRUE(r.chat.add_generation_prompt);
  EXPECT_FALSE(r.continue_final_message);
  EXPECT_FALSE(r.chat.tools_json);
  EXPECT_EQ(r.chat.extra_context_json, "");
  const auto& g = r.completion.generation;
  EXPECT_EQ(g.max_tokens, 0);  // up to the model's length
  EXPECT_FALSE(g.add_special_tokens);
  EXPECT_EQ(g.logprobs, -1);
  EXPECT_EQ(g.sampling.seed, 42u);
  EXPECT_FALSE(r.completion.stream);
  EXPECT_FALSE(r.completion.zero_max_tokens);
}

TEST(chat_request, return_fields_and_an_echos_prompt_logprobs) {
  const std::string hi = R"("messages": [{"role": "user", "content": "Hi"}])";
  const auto plain = parse_ok("{" + hi + "}");
  EXPECT_FALSE(plain.return_prompt_text);
  EXPECT_FALSE(plain.completion.return_token_ids);
  EXPECT_EQ(plain.completion.generation.sampling.num_prompt_logprobs, -1);
  const auto asked =
      parse_ok("{" + hi + R"(, "return_prompt_text": true, "return_token_ids": true})");
  EXPECT_TRUE(asked.return_prompt_text);
  EXPECT_TRUE(asked.completion.generation.return_prompt_token_ids);
  // vLLM: echo asks for the prompt's logprobs, top_logprobs of them, unless prompt_logprobs says.
  EXPECT_EQ(
      parse_ok("{" + hi + R"(, "echo": true})").completion.generation.sampling.num_prompt_logprobs,
      0);
  EXPECT_EQ(parse_ok("{" + hi + R"(, "echo": true, "logprobs": true, "top_logprobs": 3})")
                .completion.generation.sampling.num_prompt_logprobs,
            3);
  EXPECT_EQ(parse_ok("{" + hi + R"(, "echo": true, "prompt_logprobs": 2})")
                .completion.generation.sampling.num_prompt_logprobs,
            2);
  EXPECT_EQ(parse_ok("{" + hi + R"(, "echo": true, "stream": true})")
                .completion.generation.sampling.num_prompt_logprobs,
            -1);  // a stream would not report them
  EXPECT_EQ(parse_error_of("{" + hi + R"(, "return_prompt_text": "yes"})").param,
            "return_prompt_text");
}

TEST(chat_request, content_parts_are_joined_and_other_parts_refused) {
  auto r = parse_ok(R"({"messages": [
      {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "input_text", "text": "b"}]},
      {"role": "assistant", "content": null},
      {"role": "assistant", "content": [{"type": "output_text", "text": "c"}]},
      {"role": "developer", "content": "d", "name": "dev"}]})");
  EXPECT_EQ(r.chat.messages_json,
            R"([{"role":"system","content":"Be brief."},{"role":"user","content":"a\nb"},)"
            R"({"role":"assistant","content":""},{"role":"assistant","content":"c"},)"
            R"({"role":"developer","content":"d","name":"dev"}])");

  api_error image = parse_error_of(R"({"messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]})");
  EXPECT_EQ(image.status, 400);
  EXPECT_NE(image.message.find("image_url"), std::string::npos) << image.message;
  EXPECT_NE(parse_error_of(R"({"messages": [{"content": "no role"}]})").message.find("role"),
            std::string::npos);
  EXPECT_EQ(parse_error_of(R"({"model": "fake-model"})").message, "`messages` is required.");
  EXPECT_EQ(parse_error_of(R"({"messages": "Hi"})").param, "messages");
  EXPECT_EQ(parse_error_of(R"({"messages": [{"role": "user", "content": 5}]})").param, "content");
  EXPECT_EQ(parse_error_of("[1]").message, "The request body must be a JSON object.");
  EXPECT_EQ(parse_error_of("{").status, 400);
}

// An assistant's reasoning (a previous answer's message.reasoning) reaches the template as
// `reasoning` and `reasoning_content`, as vLLM 0.32 passes it; other roles' is dropped.
TEST(chat_request, an_assistants_reasoning_reaches_the_template_under_both_names) {
  auto r = parse_ok(R"({"messages": [{"role": "user", "content": "q", "reasoning": "x"},
      {"role": "assistant", "content": "a", "reasoning": "because"},
      {"role": "assistant", "content": "b", "reasoning": null}]})");
  EXPECT_EQ(r.chat.messages_json,
            R"([{"role":"user","content":"q"},)"
            R"({"role":"assistant","content":"a","reasoning":"because",)"
            R"("reasoning_content":"because"},{"role":"assistant","content":"b"}])");
}

TEST(chat_request, tool_calls_and_tool_messages_reach_the_template) {
  auto r = parse_ok(R"({"messages": [
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
          "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "2"}]})");
  EXPECT_EQ(r.chat.messages_json,
            R"([{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function",)"
            R"("function":{"name":"f","arguments":{"x":1}}}]},)"
            R"({"role":"tool","content":"2","tool_call_id":"c1"}])");
  EXPECT_EQ(parse_error_of(R"({"messages": [{"role": "assistant", "tool_calls": [
      {"function": {"name": "f", "arguments": "{oops"}}]}]})")
                .message,
            "A tool call's `arguments` is not valid JSON.");
}

TEST(chat_request, deeply_nested_json_is_a_400_not_a_stack_overflow) {
  const std::string deep(1000000, '[');
  EXPECT_EQ(parse_error_of(R"({"messages": [], "documents": )" + deep + "}").status, 400);
  std::string args = "\"" + std::string(300, '[') + std::string(300, ']') + "\"";
  EXPECT_NE(parse_error_of(R"({"messages": [{"role": "assistant", "tool_calls": [
      {"function": {"name": "f", "arguments": )" +
                           args + "}}]}]}")
                .message.find("nests deeper"),
            std::string::npos);
  // Brackets inside strings do not count.
  parse_ok(R"({"messages": [{"role": "user", "content": ")" + std::string(1000, '[') + R"("}]})");
  EXPECT_FALSE(check_json_depth("[[[]]]", 3));
  EXPECT_TRUE(check_json_depth("[[[[]]]]", 3));
  EXPECT_FALSE(check_json_depth(R"(["\"[[[[", [[]]])", 3));
}

TEST(chat_request, max_completion_tokens_wins_over_max_tokens) {
  EXPECT_EQ(parse_ok(R"({"messages": [], "max_tokens": 7})").completion.generation.max_tokens, 7);
  auto r = parse_ok(R"({"messages": [], "max_tokens": 7, "max_completion_tokens": 3})");
  EXPECT_EQ(r.completion.generation.max_tokens, 3);
  // vLLM 0.32 refuses 0 and below as its SamplingParams' max_tokens.
  EXPECT_EQ(parse_error_of(R"({"messages": [], "max_completion_tokens": 0})").message,
            "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "max_completion_tokens": -1})").param, "max_tokens");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "max_completion_tokens": "5"})").param,
            "max_completion_tokens");
  // The shared checks see max_completion_tokens as the limit.
  EXPECT_EQ(
      parse_error_of(R"({"messages": [], "max_completion_tokens": 2, "min_tokens": 3})").message,
      "min_tokens must be less than or equal to max_tokens=2, got 3.");
  // The model's length bounds it, named as the request named it.
  completion_limits with_length = limits;
  with_length.max_model_len = 100;
  auto too_long = parse_chat_completion_request(R"({"messages": [], "max_completion_tokens": 101})",
                                                with_length, 1);
  ASSERT_TRUE(std::holds_alternative<api_error>(too_long));
  EXPECT_EQ(std::get<api_error>(too_long).message,
            "max_completion_tokens=101 cannot be greater than max_model_len=100. Please request "
            "fewer output tokens. (parameter=max_completion_tokens, value=101)");
}

TEST(chat_request, server_defaults_and_limits_apply) {
  completion_limits with_defaults = limits;
  with_defaults.defaults.temperature = 0.25f;
  with_defaults.max_logprobs = 3;
  auto parsed = parse_chat_completion_request(R"({"messages": [], "logprobs": true,
      "top_logprobs": 3})",
                                              with_defaults, 1);
  ASSERT_TRUE(std::holds_alternative<chat_completion_request>(parsed));
  const auto& r = std::get<chat_completion_request>(parsed);
  EXPECT_FLOAT_EQ(r.completion.generation.sampling.temperature, 0.25f);
  EXPECT_EQ(r.completion.generation.logprobs, 3);
  auto too_many = parse_chat_completion_request(
      R"({"messages": [], "logprobs": true, "top_logprobs": 4})", with_defaults, 1);
  ASSERT_TRUE(std::holds_alternative<api_error>(too_many));
  EXPECT_EQ(std::get<api_error>(too_many).message,
            "Requested sample logprobs of 4, which is greater than max allowed: 3 "
            "(parameter=logprobs, value=4)");
}

TEST(chat_request, logprobs_is_a_flag_with_top_logprobs) {
  EXPECT_EQ(parse_ok(R"({"messages": [], "logprobs": true})").completion.generation.logprobs, 0);
  EXPECT_EQ(parse_ok(R"({"messages": [], "logprobs": true, "top_logprobs": 5})")
                .completion.generation.logprobs,
            5);
  EXPECT_EQ(parse_ok(R"({"messages": [], "logprobs": false, "top_logprobs": 0})")
                .completion.generation.logprobs,
            -1);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "top_logprobs": 2})").message,
            "when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "logprobs": true, "top_logprobs": 21})").message,
            "Requested sample logprobs of 21, which is greater than max allowed: 20 "
            "(parameter=logprobs, value=21)");
  // -1: the whole vocabulary (257 here).
  EXPECT_EQ(parse_error_of(R"({"messages": [], "logprobs": true, "top_logprobs": -1})").message,
            "Requested sample logprobs of 257, which is greater than max allowed: 20 "
            "(parameter=logprobs, value=257)");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "logprobs": true, "top_logprobs": -2})").param,
            "top_logprobs");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "logprobs": 3})").param, "logprobs");
}

// vLLM's chat echo: the last message's content, when it has the response's role.
TEST(chat_request, echo_takes_the_last_message_when_it_has_the_responses_role) {
  EXPECT_TRUE(parse_ok(R"({"messages": [], "echo": false})").echo_text.empty());
  EXPECT_EQ(parse_error_of(R"({"messages": [], "echo": "yes"})").param, "echo");
  // With the generation prompt the response is the assistant's: a user's last message is not
  // echoed, an assistant's is.
  EXPECT_TRUE(parse_ok(R"({"messages": [{"role": "user", "content": "Hi"}], "echo": true})")
                  .echo_text.empty());
  EXPECT_EQ(parse_ok(R"({"messages": [{"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "The answer is"}], "echo": true,
                "add_generation_prompt": false, "continue_final_message": true})")
                .echo_text,
            "The answer is");
  EXPECT_EQ(parse_ok(R"({"messages": [{"role": "assistant", "content": [
                {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}], "echo": true})")
                .echo_text,
            "a\nb");
  // Without it the response continues the last message, whatever its role.
  EXPECT_EQ(parse_ok(R"({"messages": [{"role": "user", "content": "Hi"}], "echo": true,
                "add_generation_prompt": false})")
                .echo_text,
            "Hi");
}

// vLLM's get_chat_request_role: --response-role after a generation prompt, else the last
// message's role; echo follows it.
TEST(chat_request, the_answers_role_is_the_response_role_or_the_last_messages) {
  const std::string user = R"("messages": [{"role": "user", "content": "Hi"}])";
  EXPECT_EQ(parse_ok("{" + user + "}").role, "assistant");
  EXPECT_EQ(parse_ok("{" + user + R"(, "add_generation_prompt": false})").role, "user");
  completion_limits bot = limits;
  bot.response_role = "bot";
  auto parse_bot = [&](const std::string& body) {
    auto parsed = parse_chat_completion_request(body, bot, 42);
    EXPECT_TRUE(std::holds_alternative<chat_completion_request>(parsed)) << body;
    return std::get<chat_completion_request>(std::move(parsed));
  };
  EXPECT_EQ(parse_bot("{" + user + "}").role, "bot");
  EXPECT_EQ(parse_bot("{" + user + R"(, "add_generation_prompt": false})").role, "user");
  const std::string by_bot =
      R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "So"}],
          "echo": true})";
  EXPECT_EQ(parse_bot(by_bot).echo_text, "So");
  EXPECT_TRUE(parse_ok(by_bot).echo_text.empty());  // not the assistant's
}

TEST(chat_request, generation_prompt_flags_conflict_as_in_vllm) {
  EXPECT_EQ(parse_error_of(R"({"messages": [], "continue_final_message": true})").message,
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
  auto r = parse_ok(
      R"({"messages": [], "continue_final_message": true, "add_generation_prompt": false})");
  EXPECT_TRUE(r.continue_final_message);
  EXPECT_FALSE(r.chat.add_generation_prompt);
}

TEST(chat_request, tools_are_normalized_and_tool_choice_checked) {
  const std::string tools =
      R"("tools": [{"type": "function", "function": {"name": "get", "parameters": {}}}])";
  auto r = parse_ok(R"({"messages": [], )" + tools + "}");
  EXPECT_EQ(
      *r.chat.tools_json,
      R"([{"type":"function","function":{"name":"get","description":null,"parameters":{}}}])");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "tool_choice": "auto", )" + tools + "}").message,
            "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to "
            "be set");
  parse_ok(R"({"messages": [], "tool_choice": "none"})");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "tool_choice": "auto"})").message,
            "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)");
  // "required" and named choices constrain the answer (tests/http/tool_choice_test.cpp).
  EXPECT_FALSE(parse_ok(R"({"messages": [], "tool_choice": "required", )" + tools + "}")
                   .completion.generation.sampling.grammar.empty());
  EXPECT_EQ(parse_error_of(R"({"messages": [], )" + tools +
                           R"(, "tool_choice": {"type": "function", "function": {"name": "x"}}})")
                .param,
            "tool_choice");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "tools": [{"type": "function"}]})").param, "tools");
}

TEST(chat_request, kwargs_and_documents_become_template_variables) {
  auto r = parse_ok(R"({"messages": [], "documents": [{"title": "t"}],
      "chat_template_kwargs": {"enable_thinking": false, "add_generation_prompt": false}})");
  EXPECT_EQ(r.chat.extra_context_json, R"({"documents":[{"title":"t"}],"enable_thinking":false})");
  EXPECT_FALSE(r.chat.add_generation_prompt);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "chat_template_kwargs": 3})").param,
            "chat_template_kwargs");
  // A request's own template is kept for the render, which trusts it or not (chat_prompt).
  EXPECT_EQ(parse_ok(R"({"messages": [], "chat_template": "{{ 1 }}"})").chat_template, "{{ 1 }}");
  EXPECT_FALSE(parse_ok(R"({"messages": [], "chat_template": null})").chat_template);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "chat_template": 3})").param, "chat_template");
}

TEST(chat_request, reasoning_effort_is_a_template_variable_that_sets_enable_thinking) {
  auto r = parse_ok(R"({"messages": [], "reasoning_effort": "none",
      "chat_template_kwargs": {"reasoning_effort": "high"}})");
  EXPECT_EQ(r.chat.extra_context_json, R"({"reasoning_effort":"none","enable_thinking":false})");
  EXPECT_FALSE(r.enable_thinking);
  r = parse_ok(R"({"messages": [], "reasoning_effort": "low"})");
  EXPECT_EQ(r.chat.extra_context_json, R"({"reasoning_effort":"low","enable_thinking":true})");
  EXPECT_TRUE(r.enable_thinking);
  // The request's own enable_thinking stays.
  r = parse_ok(R"({"messages": [], "reasoning_effort": "high",
      "chat_template_kwargs": {"enable_thinking": false}})");
  EXPECT_EQ(r.chat.extra_context_json, R"({"enable_thinking":false,"reasoning_effort":"high"})");
  EXPECT_FALSE(r.enable_thinking);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "reasoning_effort": "extreme"})").param,
            "reasoning_effort");
}

TEST(chat_request, a_thinking_token_budget_is_refused_with_vllms_reasons) {
  EXPECT_NE(parse_error_of(R"({"messages": [], "thinking_token_budget": 64})")
                .message.find("reasoning_config is not configured"),
            std::string::npos);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "thinking_token_budget": 1.5})").message,
            "`thinking_token_budget` must be a non-negative integer or -1 for unlimited. "
            "(parameter=thinking_token_budget, value=1.5)");
  completion_limits with_parser = limits;
  with_parser.reasoning_parser = true;
  auto parsed = parse_chat_completion_request(R"({"messages": [], "thinking_token_budget": 64})",
                                              with_parser, 1);
  ASSERT_TRUE(std::holds_alternative<api_error>(parsed));
  EXPECT_EQ(std::get<api_error>(parsed).param, "thinking_token_budget");
  parse_ok(R"({"messages": [], "thinking_token_budget": -1})");  // unlimited: none
}

TEST(chat_request, shared_fields_are_read_as_for_completions) {
  auto r = parse_ok(
      R"({"messages": [], "temperature": 0.5, "top_k": 3, "seed": 9, "stream": true,
          "stream_options": {"include_usage": true}, "add_special_tokens": true})");
  EXPECT_FLOAT_EQ(r.completion.generation.sampling.temperature, 0.5f);
  EXPECT_EQ(r.completion.generation.sampling.top_k, 3);
  EXPECT_EQ(r.completion.generation.sampling.seed, 9u);
  EXPECT_TRUE(r.completion.stream);
  EXPECT_TRUE(r.completion.include_usage);
  EXPECT_TRUE(r.completion.generation.add_special_tokens);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "model": "other"})").status, 404);
  EXPECT_EQ(parse_error_of(R"({"messages": [], "temperature": -1})").param, "temperature");
  EXPECT_EQ(parse_ok(R"({"messages": [], "cache_salt": "s1"})").completion.generation.cache_salt,
            "s1");
  EXPECT_EQ(parse_error_of(R"({"messages": [], "cache_salt": ""})").message,
            "Parameter 'cache_salt' must be a non-empty string if provided. "
            "(parameter=cache_salt)");
}

}  // namespace
}  // namespace troupe::http
