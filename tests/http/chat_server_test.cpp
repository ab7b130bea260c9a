// /v1/chat/completions, /tokenize and /detokenize through the HTTP server, on the fake engine.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/server.hpp"
#include "runtime/grammar/grammar.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;
using testing::reply;
using testing::test_client;
using testing::bhttp::verb;

// The prompt is the last message's content, so the fake engine's scripts can be chosen by it.
const std::string last_content = "{{ messages[-1].content }}";

class chat_server : public testing::fake_engine_server {
 protected:
  void start(const std::string& template_text, bool prompt_tokens_details = false,
             const std::string& response_role = "assistant") {
    server_options options;
    options.enable_prompt_tokens_details = prompt_tokens_details;
    options.response_role = response_role;
    if (!template_text.empty()) {
      auto setup = load_chat_template_setup(template_text, "/nonexistent.gguf", nullptr);
      ASSERT_TRUE(setup.ok()) << setup.message();
      options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
    }
    fake_engine_server::start(options);
  }

  reply chat(const std::string& body) {
    test_client client(server_->port());
    return client.request(verb::post, "/v1/chat/completions", body);
  }
};

TEST_F(chat_server, a_chat_completion_renders_the_template_and_answers_in_chat_format) {
  start("<{{ messages[0].role }}>" + last_content);
  reply r = chat(R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  EXPECT_STREQ(doc["object"].GetString(), "chat.completion");
  EXPECT_EQ(std::string(doc["id"].GetString()).rfind("chatcmpl-", 0), 0u);
  EXPECT_STREQ(doc["model"].GetString(), "fake-model");
  const auto& choice = doc["choices"][0];
  EXPECT_STREQ(choice["message"]["role"].GetString(), "assistant");
  EXPECT_STREQ(choice["message"]["content"].GetString(), "Hello from troupe");
  EXPECT_STREQ(choice["finish_reason"].GetString(), "length");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 8);  // "<user>Hi", no special tokens
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 3);
  auto request = engine_.requests().back();
  EXPECT_EQ(request.prompt, "<user>Hi");
  EXPECT_FALSE(request.add_special_tokens);
  EXPECT_EQ(request.request_id, doc["id"].GetString());
}

TEST_F(chat_server, a_stream_sends_role_deltas_finish_and_done) {
  start(last_content);
  reply r = chat(R"({"messages": [{"role": "user", "content": "Hi"}], "stream": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.chunked);
  auto payloads = testing::sse_payloads(r.body);
  ASSERT_EQ(payloads.size(), 1 + testing::fake_words.size() + 1);
  EXPECT_EQ(payloads.back(), "[DONE]");
  auto first = parse_json(payloads[0]);
  EXPECT_STREQ(first["object"].GetString(), "chat.completion.chunk");
  EXPECT_STREQ(first["choices"][0]["delta"]["role"].GetString(), "assistant");
  std::string text;
  for (size_t i = 1; i + 1 < payloads.size(); ++i) {
    auto chunk = parse_json(payloads[i]);
    text += chunk["choices"][0]["delta"]["content"].GetString();
    EXPECT_EQ(chunk["choices"][0]["finish_reason"].IsNull(), i + 2 < payloads.size());
  }
  EXPECT_EQ(text, "Hello from troupe, the actor runtime.");
  EXPECT_EQ(engine_.requests().back().max_tokens, 0);  // chat's default: up to max_model_len
}

// --response-role names the answer's role after a generation prompt; without one the answer
// continues the last message, in its role (vLLM's get_chat_request_role).
TEST_F(chat_server, the_response_role_names_the_message_and_the_first_delta) {
  start(last_content, false, "bot");
  reply r = chat(R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ(parse_json(r.body)["choices"][0]["message"]["role"].GetString(), "bot");
  r = chat(R"({"messages": [{"role": "user", "content": "Hi"}], "stream": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto first = parse_json(testing::sse_payloads(r.body)[0]);
  EXPECT_STREQ(first["choices"][0]["delta"]["role"].GetString(), "bot");
  r = chat(R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2,
               "add_generation_prompt": false})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ(parse_json(r.body)["choices"][0]["message"]["role"].GetString(), "user");
}

TEST_F(chat_server, cache_salt_reaches_the_engine_and_a_bad_one_is_a_400) {
  start(last_content);
  ASSERT_EQ(chat(R"({"messages": [{"role": "user", "content": "Hi"}], "cache_salt": "s"})").status,
            200);
  EXPECT_EQ(engine_.requests().back().cache_salt, "s");
  EXPECT_EQ(testing::expect_error_body(
                chat(R"({"messages": [{"role": "user", "content": "Hi"}], "cache_salt": ""})"), 400,
                "BadRequestError"),
            "Parameter 'cache_salt' must be a non-empty string if provided. "
            "(parameter=cache_salt)");
  EXPECT_EQ(engine_.num_submitted(), 1u);
}

// The prompt is "cached prompt" (13 tokens, no special tokens): the fake engine reports 12 cached.
TEST_F(chat_server, prompt_tokens_details_only_with_the_option_and_cached_tokens) {
  const std::string cached = R"({"messages": [{"role": "user", "content": "cached prompt"}],
                                 "max_tokens": 2)";
  const std::string plain = R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2)";
  const std::string streamed = R"(, "stream": true, "stream_options": {"include_usage": true}})";
  // The usage chunk's payload (second to last, before [DONE]).
  auto usage_chunk = [&](const std::string& body) {
    auto payloads = testing::sse_payloads(chat(body).body);
    return payloads.size() >= 2 ? payloads[payloads.size() - 2] : std::string();
  };

  start(last_content);
  EXPECT_TRUE(parse_json(chat(cached + "}").body)["usage"]["prompt_tokens_details"].IsNull());
  EXPECT_EQ(usage_chunk(cached + streamed).find("prompt_tokens_details"), std::string::npos);

  start(last_content, /*prompt_tokens_details=*/true);
  auto doc = parse_json(chat(cached + "}").body);
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 13);
  EXPECT_EQ(doc["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 12);
  auto chunk = parse_json(usage_chunk(cached + streamed));
  EXPECT_EQ(chunk["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 12);
  EXPECT_TRUE(parse_json(chat(plain + "}").body)["usage"]["prompt_tokens_details"].IsNull());
  EXPECT_EQ(usage_chunk(plain + streamed).find("prompt_tokens_details"), std::string::npos);
}

TEST_F(chat_server, without_a_template_chat_is_a_400_but_completions_work) {
  start("");
  reply r = chat(R"({"messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(testing::expect_error_body(r, 400, "BadRequestError"), no_chat_template_message);
  test_client client(server_->port());
  EXPECT_EQ(client.post(R"({"prompt": "Hi", "max_tokens": 2})").status, 200);
  EXPECT_EQ(engine_.num_submitted(), 1u);
}

TEST_F(chat_server, template_and_request_errors_are_400s) {
  start("{% if messages | length > 1 %}{{ raise_exception('One message only') }}{% endif %}" +
        last_content);
  EXPECT_EQ(testing::expect_error_body(chat(R"({"messages": [{"role": "user", "content": "a"},
                                       {"role": "user", "content": "b"}]})"),
                                       400, "BadRequestError"),
            "One message only");
  EXPECT_EQ(testing::expect_error_body(chat(R"({"messages": [{"role": "user", "content": "Hi"}],
                                       "tool_choice": "required", "tools": []})"),
                                       400, "BadRequestError"),
            "`tools` must not be an empty array. Either provide at least one tool or omit the "
            "field entirely. (parameter=tools)");
  // An engine error before any output is a plain JSON error.
  testing::expect_error_body(chat(R"({"messages": [{"role": "user", "content": "error-first"}]})"),
                             400, "BadRequestError");
  EXPECT_EQ(engine_.num_submitted(), 1u);
  test_client client(server_->port());
  EXPECT_EQ(client.request(verb::get, "/v1/chat/completions").status, 405);
}

// --trust-request-chat-template, --default-chat-template-kwargs and
// --exclude-tools-when-tool-choice-none on the chat path.
TEST_F(chat_server, request_templates_default_kwargs_and_hidden_tools) {
  const std::string tools =
      R"("tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}])";
  const std::string own_template = R"("chat_template": "own:{{ messages[-1].content }}")";
  const std::string hi = R"("messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1)";
  start("{{ greeting }}:{% if tools %}tools:{% endif %}" + last_content);
  EXPECT_EQ(testing::expect_error_body(chat("{" + hi + ", " + own_template + "}"), 400,
                                       "BadRequestError"),
            "Chat template is passed with request, but --trust-request-chat-template is not set. "
            "Refused request with untrusted chat template.");
  EXPECT_EQ(engine_.num_submitted(), 0u);

  auto setup =
      load_chat_template_setup("{{ greeting }}:{% if tools %}tools:{% endif %}" + last_content,
                               "/nonexistent.gguf", nullptr);
  ASSERT_TRUE(setup.ok()) << setup.message();
  setup->trust_request_template = true;
  setup->default_kwargs_json = R"({"greeting": "hello", "add_generation_prompt": false})";
  server_options options;
  options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
  options.exclude_tools_when_tool_choice_none = true;
  fake_engine_server::start(options);
  ASSERT_EQ(chat("{" + hi + ", " + own_template + "}").status, 200);
  EXPECT_EQ(engine_.requests().back().prompt, "own:Hi");
  ASSERT_EQ(chat("{" + hi + "}").status, 200);
  EXPECT_EQ(engine_.requests().back().prompt, "hello:Hi");
  ASSERT_EQ(chat("{" + hi + R"(, "chat_template_kwargs": {"greeting": "hey"}})").status, 200);
  EXPECT_EQ(engine_.requests().back().prompt, "hey:Hi");
  ASSERT_EQ(chat("{" + hi + ", " + tools + "}").status, 200);
  EXPECT_EQ(engine_.requests().back().prompt, "hello:tools:Hi");
  ASSERT_EQ(chat("{" + hi + ", " + tools + R"(, "tool_choice": "none"})").status, 200);
  EXPECT_EQ(engine_.requests().back().prompt, "hello:Hi");
  // A request template that does not parse is the request's error.
  EXPECT_EQ(chat("{" + hi + R"(, "chat_template": "{% if %}"})").status, 400);
}

// vLLM 0.32 refuses max_tokens 0 (an echo of a completion excepted) and an empty conversation.
TEST_F(chat_server, nothing_to_generate_or_render_is_vllms_400) {
  start(last_content);
  EXPECT_EQ(testing::expect_error_body(chat(R"({"messages": [{"role": "user", "content": "Hi"}],
                         "max_completion_tokens": 0})"),
                                       400, "BadRequestError"),
            "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)");
  EXPECT_EQ(testing::expect_error_body(chat(R"({"messages": []})"), 400, "BadRequestError"),
            "Cannot apply chat template to an empty conversation. Provide at least one message.");
  test_client client(server_->port());
  testing::expect_error_body(client.post(R"({"prompt": "Hi", "max_tokens": 0, "n": 2,
                                             "temperature": 1})"),
                             400, "BadRequestError");
  EXPECT_EQ(engine_.num_submitted(), 0u);
}

TEST_F(chat_server, a_forced_tool_call_is_constrained_and_answered_as_tool_calls) {
  start(last_content);
  const std::string answer = R"([{"name": "get", "parameters": {"city": "Paris"}}])";
  rapidjson::StringBuffer quoted;
  rapidjson::Writer<rapidjson::StringBuffer> w(quoted);
  w.String(("say:" + answer).c_str());
  const std::string request = R"({"messages": [{"role": "user", "content": )" +
                              std::string(quoted.GetString()) +
                              R"(}], "tool_choice": "required", "tools": [{"type": "function",
      "function": {"name": "get", "parameters": {"type": "object",
                   "properties": {"city": {"type": "string"}}}}}])";
  reply r = chat(request + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  const auto& choice = doc["choices"][0];
  EXPECT_STREQ(choice["message"]["content"].GetString(), "");
  ASSERT_EQ(choice["message"]["tool_calls"].Size(), 1u);
  EXPECT_STREQ(choice["message"]["tool_calls"][0]["function"]["name"].GetString(), "get");
  EXPECT_STREQ(choice["message"]["tool_calls"][0]["function"]["arguments"].GetString(),
               R"({"city": "Paris"})");
  EXPECT_STREQ(choice["finish_reason"].GetString(), "tool_calls");
  const std::string grammar = engine_.requests().back().sampling.grammar;
  auto accepted = runtime::grammar::accepts(grammar, answer);
  EXPECT_TRUE(accepted.ok() && *accepted) << grammar;

  // Streamed: the deltas' arguments add up to the parameters' text as generated.
  reply streamed = chat(request + R"(, "stream": true})");
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  std::string arguments, finish;
  for (const std::string& payload : testing::sse_payloads(streamed.body)) {
    if (payload == "[DONE]") break;
    auto chunk = parse_json(payload);
    const auto& c = chunk["choices"][0];
    if (c["delta"].HasMember("tool_calls")) {
      for (const auto& call : c["delta"]["tool_calls"].GetArray())
        arguments += call["function"]["arguments"].GetString();
    }
    if (c["finish_reason"].IsString()) finish = c["finish_reason"].GetString();
  }
  EXPECT_EQ(arguments, R"({"city": "Paris"})");
  EXPECT_EQ(finish, "tool_calls");
}

TEST_F(chat_server, deeply_nested_bodies_are_400s_on_every_endpoint) {
  start(last_content);
  const std::string deep = std::string(1 << 20, '[');
  test_client client(server_->port());
  for (const char* target : {"/v1/completions", "/v1/chat/completions", "/tokenize"}) {
    reply r = client.request(verb::post, target, R"({"prompt": )" + deep + "}");
    EXPECT_NE(testing::expect_error_body(r, 400, "BadRequestError").find("nests deeper"),
              std::string::npos)
        << target;
  }
  EXPECT_EQ(client.request(verb::get, "/health").status, 200);
}

TEST_F(chat_server, tokenize_and_detokenize_over_http) {
  start(last_content);
  test_client client(server_->port());
  reply r = client.request(verb::post, "/tokenize", R"({"prompt": "Hi"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"count":3,"max_model_len":2048,"tokens":[256,72,105],"token_strs":null})");
  r = client.request(verb::get, "/tokenize",
                     R"({"messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.body, R"({"count":2,"max_model_len":2048,"tokens":[72,105],"token_strs":null})");
  r = client.request(verb::post, "/detokenize", R"({"tokens": [72, 105]})");
  EXPECT_EQ(r.body, R"({"prompt":"Hi"})");
  testing::expect_error_body(client.request(verb::post, "/detokenize", R"({"tokens": [999]})"), 400,
                             "BadRequestError");
  EXPECT_EQ(client.request(verb::put, "/tokenize", "{}").status, 405);
}

}  // namespace
}  // namespace troupe::http
