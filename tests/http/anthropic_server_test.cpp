// POST /v1/messages and /v1/messages/count_tokens through the HTTP server, on the fake engine:
// the Anthropic request served as a chat completion, its answer and errors in vLLM's shapes.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/server.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;
using testing::reply;
using testing::test_client;
using testing::bhttp::verb;

class anthropic_server : public testing::fake_engine_server {
 protected:
  // The prompt is "<role>content" of each message, so the fake engine's scripts can be chosen by
  // the last one.
  void SetUp() override {
    server_options options;
    auto setup = load_chat_template_setup(
        "{% for m in messages %}{% if m.role != 'user' %}<{{ m.role }}>{% endif %}"
        "{{ m.content }}{% endfor %}",
        "/nonexistent.gguf", nullptr);
    ASSERT_TRUE(setup.ok()) << setup.message();
    options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
    start(options);
  }

  reply post(const std::string& target, const std::string& body,
             const test_client::header_list& headers = {}) {
    test_client client(server_->port());
    return client.request(verb::post, target, body, headers);
  }
  reply messages(const std::string& body) { return post("/v1/messages", body); }
};

TEST_F(anthropic_server, a_message_is_served_as_a_chat_completion) {
  reply r = messages(R"({"model": "fake-model", "max_tokens": 3,
      "system": "S", "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  auto doc = parse_json(r.body);
  EXPECT_EQ(std::string(doc["id"].GetString()).rfind("chatcmpl-", 0), 0u);
  EXPECT_STREQ(doc["type"].GetString(), "message");
  EXPECT_STREQ(doc["role"].GetString(), "assistant");
  EXPECT_STREQ(doc["content"][0]["text"].GetString(), "Hello from troupe");
  EXPECT_STREQ(doc["model"].GetString(), "fake-model");
  EXPECT_STREQ(doc["stop_reason"].GetString(), "max_tokens");
  EXPECT_FALSE(doc.HasMember("stop_sequence"));
  EXPECT_EQ(doc["usage"]["input_tokens"].GetInt(), 11);  // "<system>SHi", no special tokens
  EXPECT_EQ(doc["usage"]["output_tokens"].GetInt(), 3);
  const actors::generation_request request = engine_.requests().back();
  EXPECT_EQ(request.prompt, "<system>SHi");
  EXPECT_EQ(request.max_tokens, 3);
}

TEST_F(anthropic_server, sampling_and_stop_sequences_reach_the_engine) {
  reply r = messages(R"({"model": "fake-model", "max_tokens": 8, "temperature": 0.5,
      "top_p": 0.75, "top_k": 3, "stop_sequences": ["!"],
      "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const actors::generation_request request = engine_.requests().back();
  EXPECT_FLOAT_EQ(request.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(request.sampling.top_p, 0.75f);
  EXPECT_EQ(request.sampling.top_k, 3);
  EXPECT_EQ(request.stop, std::vector<std::string>{"!"});
}

TEST_F(anthropic_server, a_stream_is_anthropics_events_ending_with_message_stop) {
  reply r = messages(R"({"model": "fake-model", "max_tokens": 2, "stream": true,
      "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/event-stream; charset=utf-8");
  EXPECT_TRUE(r.chunked);
  std::vector<std::string> names;
  for (size_t at = r.body.find("event: "); at != std::string::npos;
       at = r.body.find("event: ", at + 1)) {
    names.push_back(r.body.substr(at + 7, r.body.find('\n', at) - at - 7));
  }
  const std::vector<std::string> expected = {
      "message_start",      "content_block_start", "content_block_delta", "content_block_delta",
      "content_block_stop", "message_delta",       "message_stop"};
  EXPECT_EQ(names, expected);
  EXPECT_NE(r.body.find(R"("delta":{"stop_reason":"max_tokens","stop_sequence":null},)"
                        R"("usage":{"input_tokens":2,"output_tokens":2}})"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("[DONE]"), std::string::npos);
}

TEST_F(anthropic_server, count_tokens_counts_the_rendered_prompt) {
  reply r = post("/v1/messages/count_tokens", R"({"model": "fake-model",
      "system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"input_tokens":19,"context_management":{"original_input_tokens":19}})");
  EXPECT_TRUE(engine_.requests().empty());  // nothing generated
}

TEST_F(anthropic_server, the_anthropic_body_is_refused_as_vllms_validation_handler_refuses_it) {
  reply r = messages(R"({"model": "fake-model", "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"error":{"message":"1 validation error:\n  body.max_tokens: Field required",)"
            R"("type":"Bad Request","param":"body.max_tokens","code":400}})");
  r = post(
      "/v1/messages",
      R"({"model": "fake-model", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]})",
      {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Unsupported Media Type"), std::string::npos);
  EXPECT_TRUE(engine_.requests().empty());
}

TEST_F(anthropic_server, what_the_chat_path_refuses_comes_back_in_anthropics_shape) {
  reply r = messages(
      R"({"model": "other", "max_tokens": 2, "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            R"({"type":"error","error":{"type":"NotFoundError",)"
            R"("message":"The model `other` does not exist. Valid aliases: fake-model."}})");
  r = post("/v1/messages/count_tokens",
           R"({"model": "other", "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.status, 404);
  r = messages(R"({"model": "fake-model", "max_tokens": 2, "top_p": 2,
      "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(parse_json(r.body)["error"]["type"].GetString(), "BadRequestError");
  // thinking "enabled" asks for a reasoning budget (and this server has no reasoning parser).
  r = messages(R"({"model": "fake-model", "max_tokens": 2000,
      "thinking": {"type": "enabled", "budget_tokens": 1024},
      "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("thinking_token_budget is set but reasoning_config is not configured"),
            std::string::npos);
  EXPECT_TRUE(engine_.requests().empty());
}

TEST_F(anthropic_server, an_engine_error_keeps_its_status) {
  reply r = messages(R"({"model": "fake-model", "max_tokens": 2,
      "messages": [{"role": "user", "content": "error-first"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"type":"error","error":{"type":"BadRequestError","message":"scripted failure"}})");
  r = messages(R"({"model": "fake-model", "max_tokens": 2, "stream": true,
      "messages": [{"role": "user", "content": "error-later"}]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"InternalServerError\",\"message\":\"scripted failure\"}}"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("message_stop"), std::string::npos);
}

TEST_F(anthropic_server, the_routes_answer_post_only) {
  test_client client(server_->port());
  EXPECT_EQ(client.request(verb::get, "/v1/messages").status, 405);
  EXPECT_EQ(client.request(verb::get, "/v1/messages/count_tokens").status, 405);
}

}  // namespace
}  // namespace troupe::http
