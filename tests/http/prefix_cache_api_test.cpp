// POST /reset_prefix_cache: the engine's answer mapped to HTTP, and the endpoint end to end on the
// fake engine (200 with an empty body, 409 when the engine refuses, 405 for other methods).
#include "http/prefix_cache_api.hpp"

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "http/server.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using namespace std::chrono_literals;
using testing::reply;
using testing::test_client;
using testing::bhttp::verb;

const std::string refusal =
    "Cannot reset the prefix cache while requests hold KV blocks (3 in use); retry when the "
    "server is idle";

TEST(reset_prefix_cache_reply, ok_is_200_and_a_refusal_409_with_the_engines_message) {
  EXPECT_FALSE(reset_prefix_cache_reply(ok_status()).has_value());
  reset_reply refused = reset_prefix_cache_reply(error{refusal});
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 409);
  EXPECT_EQ(refused->message, refusal);
  EXPECT_EQ(refused->param, "");
  EXPECT_EQ(error_type(409), "ConflictError");
  EXPECT_EQ(status_reason(409), "Conflict");
}

class reset_endpoint : public testing::fake_engine_server {
 protected:
  void SetUp() override { start(); }

  reply reset(test_client& client) { return client.request(verb::post, "/reset_prefix_cache"); }
};

TEST_F(reset_endpoint, success_is_200_with_an_empty_body) {
  test_client client(server_->port());
  reply r = reset(client);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(engine_.num_resets(), 1);
  // vLLM's query parameters (?device=..., ?reset_running_requests=...) are ignored.
  EXPECT_EQ(client.request(verb::post, "/reset_prefix_cache?device=gpu").status, 200);
  EXPECT_EQ(engine_.num_resets(), 2);
}

TEST_F(reset_endpoint, a_refusal_is_a_409_with_the_engines_message) {
  engine_.refuse_resets(refusal);
  test_client client(server_->port());
  EXPECT_EQ(testing::expect_error_body(reset(client), 409, "ConflictError"), refusal);
  engine_.refuse_resets(std::nullopt);
  EXPECT_EQ(reset(client).status, 200);  // the same connection goes on
}

TEST_F(reset_endpoint, other_methods_are_405_without_asking_the_engine) {
  test_client client(server_->port());
  testing::expect_error_body(client.request(verb::get, "/reset_prefix_cache"), 405,
                             "MethodNotAllowedError");
  testing::expect_error_body(client.request(verb::put, "/reset_prefix_cache", "{}"), 405,
                             "MethodNotAllowedError");
  EXPECT_EQ(engine_.num_resets(), 0);
}

TEST_F(reset_endpoint, a_pipelined_request_waits_for_the_engines_answer) {
  test_client client(server_->port());
  client.send(verb::post, "/reset_prefix_cache");
  client.send(verb::post, "/v1/completions", R"({"prompt": "Hi", "max_tokens": 1})");
  reply first = client.receive();
  reply second = client.receive();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "");
  EXPECT_EQ(second.status, 200);
  EXPECT_STREQ(testing::parse_json(second.body)["choices"][0]["text"].GetString(), "Hello");
}

TEST_F(reset_endpoint, a_client_gone_before_the_answer_leaves_the_server_serving) {
  {
    test_client client(server_->port());
    client.send(verb::post, "/reset_prefix_cache");
    client.close();
  }
  test_client client(server_->port());
  EXPECT_EQ(reset(client).status, 200);
  EXPECT_EQ(engine_.num_resets(), 2);
}

}  // namespace
}  // namespace troupe::http
