// The server with vLLM's --api-key and CORS flags: which requests need the key, what a browser's
// preflight gets, and the CORS headers on plain and streamed answers (http/api_keys.hpp,
// http/cors.hpp); and its access lines under --disable-uvicorn-access-log and
// --disable-access-log-for-endpoints.
#include <string>

#include <gtest/gtest.h>

#include "http/server.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"
#include "tests/support/captured_log.hpp"

namespace troupe::http {
namespace {

using testing::reply;
using testing::test_client;
using testing::bhttp::verb;

constexpr const char* origin = "http://ui.example";

class access_server : public testing::fake_engine_server {
 protected:
  void SetUp() override {
    server_options options;
    options.api_keys = {"key-1", "key-2"};
    options.cors.allowed_origins = {origin};
    options.enable_request_id_headers = true;
    start(options);
  }
};

TEST_F(access_server, the_api_needs_a_key_and_the_rest_does_not) {
  test_client client(port());
  reply r = client.request(verb::get, "/v1/models");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"error":"Unauthorized"})");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_FALSE(r.request_id.empty());  // vLLM's X-Request-Id layer is outside the check
  r = client.request(verb::get, "/v1/models", {}, {{"Authorization", "Bearer key-1"}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = client.request(verb::post, "/v1/completions", R"({"prompt": "Hi", "max_tokens": 2})",
                     {{"Authorization", "Bearer key-3"}});
  EXPECT_EQ(r.status, 401);
  r = client.request(verb::post, "/v1/completions", R"({"prompt": "Hi", "max_tokens": 2})",
                     {{"Authorization", "bearer key-2"}});
  EXPECT_EQ(r.status, 200) << r.body;
  // Unguarded paths answer without a key, and the connection stays usable after a 401.
  EXPECT_EQ(client.request(verb::get, "/health").status, 200);
  EXPECT_EQ(client.request(verb::get, "/metrics").status, 200);
  EXPECT_EQ(client.request(verb::get, "/v1/nonexistent").status, 401);  // checked before routing
  EXPECT_EQ(client.request(verb::get, "/nonexistent").status, 404);
}

// --root-path /api: the prefixed paths and the plain ones answer, the key guards both.
class root_path_server : public testing::fake_engine_server {
 protected:
  void SetUp() override {
    server_options options;
    options.root_path = "/api";
    options.api_keys = {"key-1"};
    options.enable_responses_store = true;
    start(options);
  }
};

TEST_F(root_path_server, paths_answer_with_and_without_the_prefix) {
  test_client client(port());
  const testing::test_client::header_list key = {{"Authorization", "Bearer key-1"}};
  EXPECT_EQ(client.request(verb::get, "/api/v1/models", {}, key).status, 200);
  EXPECT_EQ(client.request(verb::get, "/v1/models", {}, key).status, 200);
  EXPECT_EQ(client.request(verb::get, "/api/v1/models").status, 401);
  EXPECT_EQ(client.request(verb::get, "/api/health").status, 200);
  EXPECT_EQ(client.request(verb::get, "/api/metrics").status, 200);
  reply r = client.request(verb::post, "/api/v1/completions",
                           R"({"prompt": "Hi", "max_tokens": 2})", key);
  EXPECT_EQ(r.status, 200) << r.body;
  r = client.request(verb::get, "/api/v1/responses/resp_unknown", {}, key);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("resp_unknown"), std::string::npos) << r.body;  // the id, not the route
  EXPECT_EQ(client.request(verb::get, "/api").status, 404);
  EXPECT_EQ(client.request(verb::get, "/apihealth").status, 404);
}

TEST_F(access_server, a_preflight_needs_no_key_and_names_the_allowed_origin) {
  test_client client(port());
  reply r = client.request(verb::options, "/v1/chat/completions", {},
                           {{"Origin", origin},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), origin);
  EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "authorization, content-type");
  EXPECT_EQ(r.header("Access-Control-Max-Age"), "600");
  r = client.request(
      verb::options, "/v1/chat/completions", {},
      {{"Origin", "http://other.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Disallowed CORS origin");
  EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin"));
  // An OPTIONS that is no preflight is routed as any request: no route takes it.
  r = client.request(verb::options, "/v1/models");
  EXPECT_EQ(r.status, 405);
}

TEST_F(access_server, answers_carry_the_cors_headers_plain_and_streamed) {
  test_client client(port());
  const testing::test_client::header_list browser = {{"Origin", origin},
                                                     {"Authorization", "Bearer key-1"}};
  reply r = client.request(verb::get, "/v1/models", {}, browser);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), origin);
  EXPECT_EQ(r.header("Vary"), "Origin");
  r = client.request(verb::post, "/v1/completions",
                     R"({"prompt": "Hi", "max_tokens": 2, "stream": true})", browser);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), origin);
  // Exactly one head: the headers were added once, before the stream's first bytes.
  EXPECT_EQ(testing::sse_payloads(r.body).back(), "[DONE]");
  // An error answer too; a 401 does not (vLLM checks the key before its CORS layer).
  r = client.request(verb::post, "/v1/completions", R"({"prompt": 5})", browser);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), origin);
  r = client.request(verb::get, "/v1/models", {}, {{"Origin", origin}});
  EXPECT_EQ(r.status, 401);
  EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin"));
  // Another origin is not named; the answer still varies with Origin.
  r = client.request(verb::get, "/health", {}, {{"Origin", "http://other.example"}});
  EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin"));
  EXPECT_EQ(r.header("Vary"), "Origin");
}

class access_log_server : public testing::fake_engine_server {};

TEST_F(access_log_server, excluded_paths_and_the_switch_silence_access_lines) {
  server_options options;
  options.access_log_excluded_paths = {"/health", "/metrics"};
  {
    troupe::testing::captured_log log;
    start(options, /*access_log=*/true);
    test_client client(port());
    EXPECT_EQ(client.request(verb::get, "/health?probe=1").status, 200);
    EXPECT_EQ(client.request(verb::get, "/metrics").status, 200);
    EXPECT_EQ(client.request(verb::get, "/v1/models").status, 200);
    EXPECT_EQ(client.request(verb::get, "/healthz").status, 404);
    // A request's line is written when its answer's write completes, on the session's strand:
    // once the next answer arrives, the line before it is in the log.
    EXPECT_EQ(client.request(verb::get, "/metrics").status, 200);
    EXPECT_TRUE(log.lines_with("\"GET /health?probe=1\"").empty());  // the query is no part
    EXPECT_TRUE(log.lines_with("\"GET /metrics\"").empty());
    EXPECT_EQ(log.lines_with("\"GET /v1/models\" 200").size(), 1u);
    EXPECT_EQ(log.lines_with("\"GET /healthz\" 404").size(), 1u);  // exact paths only
  }
  options.disable_access_log = true;
  troupe::testing::captured_log log;
  start(options, /*access_log=*/true);
  test_client client(port());
  EXPECT_EQ(client.request(verb::get, "/v1/models").status, 200);
  EXPECT_EQ(client.request(verb::get, "/health").status, 200);  // the line before, if any
  EXPECT_TRUE(log.lines_with("\"GET /v1/models").empty());
  EXPECT_TRUE(log.lines_with("\"GET /health").empty());
}

}  // namespace
}  // namespace troupe::http
