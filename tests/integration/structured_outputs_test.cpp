// Structured outputs end to end on the embedded default model (SmolLM2-135M-Instruct): whatever
// the model would rather say, every answer matches its constraint (a JSON schema, a regex, a
// choice, any JSON object), greedy or sampled, alone or sixteen at once: complete when it
// finished with "stop", the beginning of a match when max_tokens cut it; a chat's forced tool
// call (tool_choice) answers with calls of the given tools. Skips when the model has not been
// fetched (tools/setup.sh --model).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/chat_output_setup.hpp"
#include "http/chat_prompt.hpp"
#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"
#include "runtime/grammar/regex_grammar.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/suite_server.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

using http::testing::parse_json;
using http::testing::test_client;

const std::string person_schema =
    R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer"}, "city": {"enum": ["Paris", "Rome", "Oslo"]}},
        "required": ["name", "age", "city"]})";

const std::string chatml =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

class structured_outputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    // ChatML, SmolLM2's format, for the chat tests (the GGUF's own template is not loaded here).
    auto chat = http::load_chat_template_setup(chatml, "/nonexistent.gguf", nullptr);
    ASSERT_TRUE(chat) << chat.message();
    suite_.start(runtime::build_engine(testing::default_model_suite_config()),
                 std::make_shared<const http::chat_template_setup>(std::move(*chat)));
  }
  static void TearDownTestSuite() {
    auto_tools_.reset();
    suite_.stop();
  }

  // A second server on the same engine, as `--enable-auto-tool-choice --tool-call-parser hermes`.
  static uint16_t auto_tools_port() {
    if (!auto_tools_) {
      http::server_options options;
      options.port = 0;
      options.disable_log_requests = true;
      auto chat = http::load_chat_template_setup(chatml, "/nonexistent.gguf", nullptr);
      EXPECT_TRUE(chat) << chat.message();
      options.chat_template = std::make_shared<const http::chat_template_setup>(std::move(*chat));
      auto setup = http::make_chat_output_setup("", true, "hermes", suite_.engine()->tokenizer());
      EXPECT_TRUE(setup) << setup.message();
      options.chat_output = std::move(*setup);
      auto server = http::start_server(*suite_.engine(), options);
      EXPECT_TRUE(server) << server.message();
      auto_tools_ = std::move(*server);
    }
    return auto_tools_->port();
  }
  void SetUp() override {
    if (suite_.engine() == nullptr)
      GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }
  static uint16_t port() { return suite_.server().port(); }

  // The choices' (text, finish_reason) of a /v1/completions or chat answer.
  static std::vector<std::pair<std::string, std::string>> post(const std::string& target,
                                                               const std::string& body) {
    test_client client(port());
    auto reply = client.request(boost::beast::http::verb::post, target, body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    std::vector<std::pair<std::string, std::string>> out;
    if (reply.status != 200) return out;
    auto doc = parse_json(reply.body);
    for (const auto& c : doc["choices"].GetArray()) {
      const auto& text = c.HasMember("message") ? c["message"]["content"] : c["text"];
      out.emplace_back(text.GetString(), c["finish_reason"].GetString());
    }
    return out;
  }

  // A finished answer matches; one cut by max_tokens begins a match.
  static bool matches(const std::string& grammar, const std::string& text,
                      const std::string& finish = "stop") {
    auto r = finish == "length" ? runtime::grammar::accepts_prefix(grammar, text)
                                : runtime::grammar::accepts(grammar, text);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() && *r;
  }

  static inline testing::suite_server suite_;
  static inline std::unique_ptr<http::server> auto_tools_;
};

TEST_F(structured_outputs, json_schema_answers_parse_and_follow_the_schema) {
  const auto grammar = runtime::grammar::json_schema_to_grammar(person_schema);
  ASSERT_TRUE(grammar.ok()) << grammar.message();
  // Greedy, then sampled four times: every answer is complete JSON of the schema.
  for (const std::string& sampling : {std::string(R"("temperature": 0)"),
                                      std::string(R"("temperature": 1.0, "n": 4, "seed": 3)")}) {
    const auto answers = post(
        "/v1/completions",
        R"({"prompt": "<|im_start|>user\nDescribe a person as JSON.<|im_end|>\n<|im_start|>assistant\n",
                                  "max_tokens": 96, )" +
            sampling +
            R"(, "response_format": {"type": "json_schema",
                                  "json_schema": {"name": "person", "schema": )" +
            person_schema + "}}}");
    ASSERT_FALSE(answers.empty());
    for (const auto& [text, finish] : answers) {
      EXPECT_EQ(finish, "stop") << text;
      EXPECT_TRUE(matches(*grammar, text)) << text;
      rapidjson::Document doc;
      doc.Parse(text.c_str());
      ASSERT_FALSE(doc.HasParseError()) << text;
      EXPECT_TRUE(doc["name"].IsString() && doc["age"].IsInt64()) << text;
    }
  }
}

TEST_F(structured_outputs, completions_follow_a_regex_a_choice_and_any_json_object) {
  const auto regex = runtime::grammar::regex_to_grammar("[0-9]{3}-[0-9]{4}");
  const auto choice = runtime::grammar::choice_to_grammar({"yes", "no", "maybe not"});
  const std::string object = runtime::grammar::json_object_grammar();
  ASSERT_TRUE(regex.ok() && choice.ok());
  const std::pair<std::string, std::string> cases[] = {
      {R"("structured_outputs": {"regex": "[0-9]{3}-[0-9]{4}"})", *regex},
      {R"("structured_outputs": {"choice": ["yes", "no", "maybe not"]})", *choice},
      {R"("response_format": {"type": "json_object"})", object},
  };
  for (const auto& [field, grammar] : cases) {
    const auto answers = post("/v1/completions", R"({"prompt": "Q: Is the sky green?\nA: ",
                                                     "max_tokens": 48, "temperature": 0.8,
                                                     "seed": 11, "n": 3, )" +
                                                     field + "}");
    ASSERT_EQ(answers.size(), 3u) << field;
    for (const auto& [text, finish] : answers)
      EXPECT_TRUE(matches(grammar, text, finish)) << field << ": " << finish << " " << text;
  }
}

// Sixteen constrained requests at once share steps (and the grammar's cached masks) with
// unconstrained ones; each answer still matches its own constraint.
TEST_F(structured_outputs, concurrent_constrained_and_free_requests_keep_their_own_rules) {
  const auto regex = runtime::grammar::regex_to_grammar("(ab|cd){2,5}");
  ASSERT_TRUE(regex.ok());
  std::vector<std::thread> clients;
  std::vector<std::vector<std::pair<std::string, std::string>>> answers(16);
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      const std::string field =
          i % 2 == 0 ? R"(, "structured_outputs": {"regex": "(ab|cd){2,5}"})" : "";
      answers[static_cast<size_t>(i)] =
          post("/v1/completions", R"({"prompt": "Letters: ", "max_tokens": 24, "seed": )" +
                                      std::to_string(i) + field + "}");
    });
  }
  for (auto& c : clients)
    c.join();
  for (int i = 0; i < 16; i += 2) {
    ASSERT_EQ(answers[static_cast<size_t>(i)].size(), 1u);
    const auto& [text, finish] = answers[static_cast<size_t>(i)][0];
    EXPECT_TRUE(matches(*regex, text, finish)) << finish << " " << text;
  }
}

// tool_choice on chat: a named function's answer is one call of it with JSON-object arguments; a
// "required" answer is calls of the tools, finishing with "tool_calls", streamed or not.
TEST_F(structured_outputs, forced_tool_calls_are_calls_of_the_given_tools) {
  const std::string request = R"({"messages": [
      {"role": "system", "content": "You can call get_weather(city) and get_time()."},
      {"role": "user", "content": "What is the weather in Paris?"}],
    "max_completion_tokens": 64, "seed": 5,
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters":
                {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
                 "required": ["city"]}}},
              {"type": "function", "function": {"name": "get_time"}}], )";
  const std::string sampled = request + R"("temperature": 0.8, "n": 3, )";
  test_client client(port());
  auto named = client.request(
      boost::beast::http::verb::post, "/v1/chat/completions",
      sampled + R"("tool_choice": {"type": "function", "function": {"name": "get_weather"}}})");
  ASSERT_EQ(named.status, 200) << named.body;
  for (const auto& c : parse_json(named.body)["choices"].GetArray()) {
    EXPECT_STREQ(c["finish_reason"].GetString(), "stop");
    EXPECT_STREQ(c["message"]["content"].GetString(), "");
    ASSERT_EQ(c["message"]["tool_calls"].Size(), 1u) << named.body;
    const auto& call = c["message"]["tool_calls"][0];
    EXPECT_STREQ(call["function"]["name"].GetString(), "get_weather");
    auto args = parse_json(call["function"]["arguments"].GetString());
    EXPECT_TRUE(args["city"].IsString()) << call["function"]["arguments"].GetString();
  }

  auto required = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                                 sampled + R"("tool_choice": "required"})");
  ASSERT_EQ(required.status, 200) << required.body;
  const std::set<std::string> names = {"get_weather", "get_time"};
  for (const auto& c : parse_json(required.body)["choices"].GetArray()) {
    if (std::string(c["finish_reason"].GetString()) == "length") continue;  // cut: maybe no calls
    EXPECT_STREQ(c["finish_reason"].GetString(), "tool_calls");
    ASSERT_GE(c["message"]["tool_calls"].Size(), 1u) << required.body;
    for (const auto& call : c["message"]["tool_calls"].GetArray()) {
      EXPECT_EQ(std::string(call["id"].GetString()).rfind("chatcmpl-tool-", 0), 0u);
      EXPECT_TRUE(names.count(call["function"]["name"].GetString())) << required.body;
      EXPECT_TRUE(parse_json(call["function"]["arguments"].GetString()).IsObject());
    }
  }

  // Streamed, greedy: each call's argument deltas add up to a JSON object.
  auto streamed = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                                 R"({"stream": true, "temperature": 0, )" + request.substr(1) +
                                     R"("tool_choice": "required"})");
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  std::vector<std::string> arguments;
  std::string finish;
  for (const std::string& payload : http::testing::sse_payloads(streamed.body)) {
    if (payload == "[DONE]") break;
    auto chunk = parse_json(payload);
    if (chunk["choices"].Empty()) continue;
    const auto& c = chunk["choices"][0];
    if (c["index"].GetInt() != 0) continue;
    if (c["delta"].HasMember("tool_calls")) {
      for (const auto& d : c["delta"]["tool_calls"].GetArray()) {
        arguments.resize(std::max(arguments.size(), size_t(d["index"].GetInt()) + 1));
        arguments[size_t(d["index"].GetInt())] += d["function"]["arguments"].GetString();
      }
    }
    if (c["finish_reason"].IsString()) finish = c["finish_reason"].GetString();
  }
  ASSERT_EQ(finish, "tool_calls") << streamed.body;
  ASSERT_FALSE(arguments.empty());
  for (const std::string& a : arguments)
    EXPECT_TRUE(parse_json(a).IsObject()) << a;
}

// tool_choice "auto" under --enable-auto-tool-choice --tool-call-parser hermes: an answer that
// writes <tool_call> JSON (held to it here by a regex, which a tiny model needs) becomes
// message.tool_calls with finish_reason "tool_calls", streamed as name then argument deltas; a
// free answer stays content; a server without the flag refuses "auto".
TEST_F(structured_outputs, auto_tool_calls_are_parsed_from_a_hermes_answer) {
  const std::string request = R"({"messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters":
      {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "temperature": 0, "max_completion_tokens": 120, "tool_choice": "auto")";
  const std::string call_regex =
      R"(, "structured_outputs": {"regex": "Let me check\\. <tool_call>\\n\\{\"name\": )"
      R"(\"get_weather\", \"arguments\": \\{\"city\": \"P[a-z]{2,6}\"\\}\\}\\n)"
      R"(</tool_call>"})";
  test_client client(auto_tools_port());
  auto whole = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                              request + call_regex + "}");
  ASSERT_EQ(whole.status, 200) << whole.body;
  auto doc = parse_json(whole.body);
  const auto& c = doc["choices"][0];
  EXPECT_STREQ(c["finish_reason"].GetString(), "tool_calls") << whole.body;
  EXPECT_STREQ(c["message"]["content"].GetString(), "Let me check. ");
  ASSERT_TRUE(c["message"].HasMember("tool_calls")) << whole.body;
  ASSERT_EQ(c["message"]["tool_calls"].Size(), 1u);
  const auto& call = c["message"]["tool_calls"][0];
  EXPECT_STREQ(call["function"]["name"].GetString(), "get_weather");
  const std::string arguments = call["function"]["arguments"].GetString();
  auto args = parse_json(arguments);
  ASSERT_TRUE(args.IsObject() && args.HasMember("city")) << arguments;
  EXPECT_EQ(args["city"].GetString()[0], 'P');

  // Streamed: the content first, then the call's name, then its arguments in pieces.
  auto streamed = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                                 R"({"stream": true, )" + request.substr(1) + call_regex + "}");
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  std::string content, name, streamed_arguments, finish;
  for (const std::string& payload : http::testing::sse_payloads(streamed.body)) {
    if (payload == "[DONE]") break;
    const auto& d = parse_json(payload)["choices"][0];
    const auto& delta = d["delta"];
    if (delta.HasMember("content") && delta["content"].IsString())
      content += delta["content"].GetString();
    if (delta.HasMember("tool_calls")) {
      for (const auto& t : delta["tool_calls"].GetArray()) {
        if (t["function"].HasMember("name")) name += t["function"]["name"].GetString();
        if (t["function"].HasMember("arguments"))
          streamed_arguments += t["function"]["arguments"].GetString();
      }
    }
    if (d["finish_reason"].IsString()) finish = d["finish_reason"].GetString();
  }
  EXPECT_EQ(content, "Let me check. ");
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(streamed_arguments, arguments);
  EXPECT_EQ(finish, "tool_calls");

  // A free answer is content, without tool_calls.
  auto free = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                             request + R"(, "max_completion_tokens": 12})");
  ASSERT_EQ(free.status, 200) << free.body;
  auto free_doc = parse_json(free.body);
  EXPECT_TRUE(free_doc["choices"][0]["message"]["content"].IsString()) << free.body;
  EXPECT_FALSE(free_doc["choices"][0]["message"].HasMember("tool_calls")) << free.body;

  test_client plain(port());
  auto refused =
      plain.request(boost::beast::http::verb::post, "/v1/chat/completions", request + "}");
  EXPECT_EQ(refused.status, 400) << refused.body;
}

// The Anthropic Messages API is chat completions underneath: the same greedy answer, whole or
// streamed; tool_choice "any" gives tool_use blocks whose input is an object.
TEST_F(structured_outputs, anthropic_messages_answer_as_chat_completions_do) {
  const std::string conversation = R"("messages": [{"role": "user", "content": "Name a city."}],
      "temperature": 0, )";
  test_client client(port());
  const std::string model =
      parse_json(client.request(boost::beast::http::verb::get, "/v1/models").body)["data"][0]["id"]
          .GetString();
  const std::string head = R"({"model": ")" + model + R"(", )";
  auto chat = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                             "{" + conversation + R"("max_completion_tokens": 12})");
  ASSERT_EQ(chat.status, 200) << chat.body;
  const std::string expected =
      parse_json(chat.body)["choices"][0]["message"]["content"].GetString();
  auto message = client.request(boost::beast::http::verb::post, "/v1/messages",
                                head + conversation + R"("max_tokens": 12})");
  ASSERT_EQ(message.status, 200) << message.body;
  auto doc = parse_json(message.body);
  EXPECT_EQ(doc["content"][0]["text"].GetString(), expected);
  EXPECT_STREQ(doc["stop_reason"].GetString(), "max_tokens");

  auto streamed = client.request(boost::beast::http::verb::post, "/v1/messages",
                                 head + conversation + R"("max_tokens": 12, "stream": true})");
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  std::string text;
  for (size_t at = streamed.body.find("\"text_delta\",\"text\":"); at != std::string::npos;
       at = streamed.body.find("\"text_delta\",\"text\":", at + 1)) {
    const size_t start = at + 20;
    text +=
        parse_json("[" +
                   streamed.body.substr(start, streamed.body.find("},\"index\"", start) - start) +
                   "]")[0]
            .GetString();
  }
  EXPECT_EQ(text, expected);

  auto tool = client.request(boost::beast::http::verb::post, "/v1/messages", head + R"(
      "max_tokens": 64, "temperature": 0,
      "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
      "tools": [{"name": "get_weather", "input_schema": {"type": "object",
                 "properties": {"city": {"type": "string", "maxLength": 12}}, "required": ["city"]}}],
      "tool_choice": {"type": "any"}})");
  ASSERT_EQ(tool.status, 200) << tool.body;
  auto called = parse_json(tool.body);
  const auto& block = called["content"][0];
  EXPECT_STREQ(called["stop_reason"].GetString(), "tool_use") << tool.body;
  EXPECT_STREQ(block["type"].GetString(), "tool_use") << tool.body;
  EXPECT_STREQ(block["name"].GetString(), "get_weather");
  EXPECT_TRUE(block["input"]["city"].IsString()) << tool.body;
}

// The Responses API is chat completions underneath too: the same greedy answer, whole or
// streamed; a named function tool choice gives a function_call item with JSON arguments.
TEST_F(structured_outputs, responses_answer_as_chat_completions_do) {
  test_client client(port());
  auto chat = client.request(boost::beast::http::verb::post, "/v1/chat/completions",
                             R"({"messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Name a city."}],
                                 "temperature": 0, "max_completion_tokens": 12})");
  ASSERT_EQ(chat.status, 200) << chat.body;
  const std::string expected =
      parse_json(chat.body)["choices"][0]["message"]["content"].GetString();
  const std::string request = R"({"instructions": "Be brief.", "input": "Name a city.",
      "temperature": 0, "max_output_tokens": 12)";
  auto whole = client.request(boost::beast::http::verb::post, "/v1/responses", request + "}");
  ASSERT_EQ(whole.status, 200) << whole.body;
  auto doc = parse_json(whole.body);
  EXPECT_STREQ(doc["output"][0]["content"][0]["text"].GetString(), expected.c_str());
  EXPECT_EQ(doc["usage"]["output_tokens"].GetInt(), 12);

  auto streamed = client.request(boost::beast::http::verb::post, "/v1/responses",
                                 request + R"(, "stream": true})");
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  const size_t done = streamed.body.find("event: response.output_text.done\ndata: ");
  ASSERT_NE(done, std::string::npos) << streamed.body;
  const size_t data = done + 39;
  EXPECT_STREQ(parse_json(streamed.body.substr(data, streamed.body.find('\n', data) - data))["text"]
                   .GetString(),
               expected.c_str());

  auto call = client.request(boost::beast::http::verb::post, "/v1/responses", R"({
      "input": "What is the weather in Paris?", "temperature": 0, "max_output_tokens": 64,
      "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object",
                 "properties": {"city": {"type": "string", "maxLength": 12}}, "required": ["city"]}}],
      "tool_choice": {"type": "function", "name": "get_weather"}})");
  ASSERT_EQ(call.status, 200) << call.body;
  auto called = parse_json(call.body);
  const auto& item = called["output"][0];
  EXPECT_STREQ(item["type"].GetString(), "function_call") << call.body;
  EXPECT_STREQ(item["name"].GetString(), "get_weather");
  EXPECT_TRUE(parse_json(item["arguments"].GetString())["city"].IsString()) << call.body;
}

}  // namespace
}  // namespace troupe
