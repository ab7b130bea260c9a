// POST /v1/responses, GET /v1/responses/{id} and POST /v1/responses/{id}/cancel through the HTTP
// server on the fake engine: the request served as a chat completion, its answer a response
// object or event stream, stored under VLLM_ENABLE_RESPONSES_API_STORE's switch.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

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

class responses_server : public testing::fake_engine_server {
 protected:
  // The prompt is "<role>content" of each message but the user's, so the fake engine's scripts
  // can be chosen by the last one.
  void start_with(bool store) {
    server_options options;
    options.enable_responses_store = store;
    auto setup = load_chat_template_setup(
        "{% for m in messages %}{% if m.role != 'user' %}<{{ m.role }}>{% endif %}"
        "{{ m.content }}{% endfor %}",
        "/nonexistent.gguf", nullptr);
    ASSERT_TRUE(setup.ok()) << setup.message();
    options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
    start(options);
  }

  reply request(verb method, const std::string& target, const std::string& body = {}) {
    test_client client(server_->port());
    return client.request(method, target, body);
  }
  reply create(const std::string& body) { return request(verb::post, "/v1/responses", body); }
};

TEST_F(responses_server, a_response_is_served_as_a_chat_completion) {
  start_with(false);
  reply r = create(R"({"model": "fake-model", "input": "Hi", "instructions": "S",
      "max_output_tokens": 3})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  EXPECT_EQ(std::string(doc["id"].GetString()).rfind("resp_", 0), 0u);
  EXPECT_STREQ(doc["object"].GetString(), "response");
  EXPECT_STREQ(doc["status"].GetString(), "incomplete");
  EXPECT_STREQ(doc["output"][0]["content"][0]["text"].GetString(), "Hello from troupe");
  EXPECT_STREQ(doc["instructions"].GetString(), "S");
  EXPECT_EQ(doc["usage"]["input_tokens"].GetInt(), 11);  // "<system>SHi"
  EXPECT_EQ(doc["usage"]["output_tokens"].GetInt(), 3);
  EXPECT_EQ(doc["max_output_tokens"].GetInt(), 3);
  EXPECT_EQ(engine_.requests().back().prompt, "<system>SHi");
  EXPECT_EQ(engine_.requests().back().max_tokens, 3);
}

TEST_F(responses_server, a_stream_ends_with_response_completed) {
  start_with(false);
  reply r = create(R"({"input": "Hi", "max_output_tokens": 2, "stream": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/event-stream; charset=utf-8");
  EXPECT_EQ(r.body.rfind("event: response.created\n", 0), 0u);
  EXPECT_NE(r.body.find("event: response.output_text.delta\n"), std::string::npos);
  const size_t last = r.body.rfind("event: ");
  EXPECT_EQ(r.body.substr(last, 27), "event: response.completed\nd");
  EXPECT_EQ(r.body.find("[DONE]"), std::string::npos);
}

TEST_F(responses_server, without_the_store_nothing_is_found_and_background_is_refused) {
  start_with(false);
  reply r = create(R"({"input": "Hi", "max_output_tokens": 2})");
  ASSERT_EQ(r.status, 200);
  const std::string id = parse_json(r.body)["id"].GetString();
  reply got = request(verb::get, "/v1/responses/" + id);
  EXPECT_EQ(got.status, 404);
  EXPECT_EQ(got.body, R"({"error":{"message":"Response with id ')" + id +
                          R"(' not found.","type":"invalid_request_error","param":"response_id",)"
                          R"("code":404}})");
  EXPECT_EQ(create(R"({"input": "Hi", "previous_response_id": ")" + id + "\"}").status, 404);
  reply background = create(R"({"input": "Hi", "background": true})");
  EXPECT_EQ(background.status, 400);
  EXPECT_NE(background.body.find("VLLM_ENABLE_RESPONSES_API_STORE=1"), std::string::npos);
}

TEST_F(responses_server, the_store_keeps_responses_for_get_and_follow_ups) {
  start_with(true);
  reply first =
      create(R"({"input": "My name is Ann.", "instructions": "Old.", "max_output_tokens": 2})");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string id = parse_json(first.body)["id"].GetString();
  reply got = request(verb::get, "/v1/responses/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, first.body);  // as it was answered

  reply second = create(R"({"input": "Name?", "previous_response_id": ")" + id + "\"}");
  ASSERT_EQ(second.status, 200) << second.body;
  // The earlier conversation without its instructions, its answer, then the new input.
  EXPECT_EQ(engine_.requests().back().prompt, "My name is Ann.<assistant>Hello fromName?");
  EXPECT_STREQ(parse_json(second.body)["previous_response_id"].GetString(), id.c_str());

  // A streamed response is stored too, as its final object; store false is not.
  reply streamed = create(R"({"input": "Hi", "max_output_tokens": 2, "stream": true})");
  const size_t at = streamed.body.find("\"id\":\"resp_");
  ASSERT_NE(at, std::string::npos);
  const std::string streamed_id = streamed.body.substr(at + 6, 21);
  EXPECT_EQ(request(verb::get, "/v1/responses/" + streamed_id).status, 200);
  reply unstored = create(R"({"input": "Hi", "max_output_tokens": 2, "store": false})");
  EXPECT_EQ(request(verb::get,
                    "/v1/responses/" + std::string(parse_json(unstored.body)["id"].GetString()))
                .status,
            404);

  reply cancel = request(verb::post, "/v1/responses/" + id + "/cancel");
  EXPECT_EQ(cancel.status, 400);
  EXPECT_NE(cancel.body.find("Cannot cancel a synchronous response."), std::string::npos);
  EXPECT_EQ(request(verb::post, "/v1/responses/resp_none/cancel").status, 404);
  EXPECT_EQ(request(verb::get, "/v1/responses/" + id + "/cancel").status, 405);
  EXPECT_EQ(request(verb::get, "/v1/responses/" + id + "/input_items").status, 404);
  EXPECT_EQ(request(verb::get, "/v1/responses").status, 405);
}

// A background response is answered "queued" at once and stored when done; cancelled while it
// runs, its engine request is aborted and it stays "cancelled".
TEST_F(responses_server, background_responses_run_without_the_connection) {
  start_with(true);
  reply queued = create(R"({"input": "Hi", "max_output_tokens": 2, "background": true})");
  ASSERT_EQ(queued.status, 200) << queued.body;
  auto doc = parse_json(queued.body);
  EXPECT_STREQ(doc["status"].GetString(), "queued");
  EXPECT_TRUE(doc["background"].GetBool());
  EXPECT_TRUE(doc["usage"].IsNull());
  EXPECT_EQ(doc["max_output_tokens"].GetInt(), 2);
  const std::string id = doc["id"].GetString();
  std::string status = "queued";
  for (int i = 0; i < 200 && status == "queued"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = parse_json(request(verb::get, "/v1/responses/" + id).body)["status"].GetString();
  }
  EXPECT_EQ(status, "incomplete");  // cut at 2 tokens
  reply done = request(verb::get, "/v1/responses/" + id);
  EXPECT_STREQ(parse_json(done.body)["output"][0]["content"][0]["text"].GetString(), "Hello from");
  EXPECT_EQ(request(verb::post, "/v1/responses/" + id + "/cancel").status, 400);  // over

  reply slow = create(R"({"input": "slow", "background": true})");
  const std::string slow_id = parse_json(slow.body)["id"].GetString();
  reply cancelled = request(verb::post, "/v1/responses/" + slow_id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_STREQ(parse_json(cancelled.body)["status"].GetString(), "cancelled");
  EXPECT_EQ(parse_json(cancelled.body)["output"].Size(), 0u);
  EXPECT_TRUE(engine_.wait_for_aborts(1, std::chrono::seconds(5)));
  EXPECT_STREQ(
      parse_json(request(verb::get, "/v1/responses/" + slow_id).body)["status"].GetString(),
      "cancelled");

  reply streamed = create(R"({"input": "Hi", "background": true, "stream": true})");
  EXPECT_EQ(streamed.status, 400);
  EXPECT_STREQ(parse_json(streamed.body)["error"]["param"].GetString(), "stream");
}

// Stopping the server cancels the background responses still running; the job, which the engine
// still holds, outlives the server safely.
TEST_F(responses_server, stopping_the_server_cancels_background_responses) {
  start_with(true);
  reply slow = create(R"({"input": "slow", "background": true})");
  ASSERT_EQ(slow.status, 200) << slow.body;
  server_.reset();
  EXPECT_TRUE(engine_.wait_for_aborts(1, std::chrono::seconds(5)));
}

TEST_F(responses_server, refusals_have_vllms_shapes_and_generate_nothing) {
  start_with(false);
  reply r = create(R"({"model": "fake-model"})");
  EXPECT_EQ(r.status, 400);
  auto doc = parse_json(r.body);
  EXPECT_STREQ(doc["error"]["type"].GetString(), "Bad Request");
  EXPECT_STREQ(doc["error"]["param"].GetString(), "body.input");
  r = create(R"({"model": "other", "input": "Hi"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_STREQ(parse_json(r.body)["error"]["type"].GetString(), "NotFoundError");
  r = create(R"({"input": "Hi", "tool_choice": "required"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(parse_json(r.body)["error"]["param"].GetString(), "tool_choice");
  r = create(R"({"input": "error-first"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(parse_json(r.body)["error"]["message"].GetString(), "scripted failure");
  EXPECT_EQ(engine_.requests().size(), 1u);  // only the scripted failure reached the engine
}

}  // namespace
}  // namespace troupe::http
