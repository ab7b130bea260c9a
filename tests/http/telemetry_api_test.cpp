// GET /metrics, GET /v1/telemetry and GET /dashboard through the server on the fake engine,
// whose registry the test fills: the Prometheus text as the registry writes it with its content
// type, the JSON snapshot's schema (docs/telemetry.md), the page, and 405 for other methods.
#include "http/telemetry_api.hpp"

#include <string>

#include <gtest/gtest.h>

#include "http/dashboard_page.hpp"
#include "http/server.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;
using testing::test_client;
using testing::bhttp::verb;

class telemetry_api : public testing::fake_engine_server {
 protected:
  void SetUp() override {
    telemetry::registry& r = engine_.mutable_metrics();
    const telemetry::labels l = {{"model_name", "fake-model"}, {"engine", "0"}};
    r.add_counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", l).inc(42);
    r.add_gauge("vllm:num_requests_running", "Number of requests in model execution batches.", l)
        .set(3);
    r.add_histogram("vllm:e2e_request_latency_seconds", "E2E request latency.", l, {0.5, 1.0})
        .observe(0.75);
    r.add_gauge("troupe_actor_mailbox_depth", "Messages waiting.", {{"kind", "batcher"}}).set(2);
    start();
  }
};

TEST_F(telemetry_api, metrics_is_the_registry_in_prometheus_text) {
  test_client client(server_->port());
  auto r = client.request(verb::get, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, engine_.metrics().prometheus_text());
  EXPECT_NE(r.body.find("# TYPE vllm:prompt_tokens_total counter"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("vllm:prompt_tokens_total{model_name=\"fake-model\",engine=\"0\"} 42"),
            std::string::npos)
      << r.body;
  // Values move: a second scrape sees the registry as it is then.
  engine_.mutable_metrics()
      .add_counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", {})
      .inc(1);
  EXPECT_NE(client.request(verb::get, "/metrics?x=1").body.find("vllm:prompt_tokens_total 1"),
            std::string::npos);
}

TEST_F(telemetry_api, telemetry_is_one_json_snapshot) {
  test_client client(server_->port());
  const double before = unix_time_now();
  auto r = client.request(verb::get, "/v1/telemetry");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto doc = parse_json(r.body);
  ASSERT_TRUE(doc.IsObject()) << r.body;
  EXPECT_STREQ(doc["object"].GetString(), "telemetry");
  EXPECT_EQ(doc["version"].GetInt(), 1);
  EXPECT_GE(doc["timestamp"].GetDouble(), before - 1);
  EXPECT_LE(doc["timestamp"].GetDouble(), unix_time_now() + 1);
  EXPECT_STREQ(doc["model"]["name"].GetString(), "fake-model");
  EXPECT_EQ(doc["model"]["max_model_len"].GetInt(), 2048);
  const auto& engine = doc["engine"];
  for (const char* key :
       {"num_running", "num_waiting", "num_live_requests", "num_kv_blocks_total",
        "num_kv_blocks_used", "num_kv_blocks_free", "num_kv_blocks_cached", "num_preemptions",
        "num_steps", "num_prefix_cache_queries", "num_prefix_cache_hits"}) {
    EXPECT_TRUE(engine.HasMember(key) && engine[key].IsNumber()) << key;
  }
  EXPECT_TRUE(engine["prefix_caching"].IsBool());

  const auto& metrics = doc["metrics"];
  ASSERT_TRUE(metrics.IsArray());
  ASSERT_EQ(metrics.Size(), 4u);
  EXPECT_STREQ(metrics[0]["name"].GetString(), "vllm:prompt_tokens_total");
  EXPECT_STREQ(metrics[0]["type"].GetString(), "counter");
  EXPECT_EQ(metrics[0]["samples"][0]["value"].GetDouble(), 42.0);
  EXPECT_STREQ(metrics[0]["samples"][0]["labels"]["model_name"].GetString(), "fake-model");
  const auto& histogram = metrics[2]["samples"][0];
  EXPECT_STREQ(metrics[2]["type"].GetString(), "histogram");
  ASSERT_EQ(histogram["buckets"].Size(), 3u);  // 0.5, 1.0, +Inf; cumulative counts
  EXPECT_EQ(histogram["buckets"][0][1].GetInt(), 0);
  EXPECT_EQ(histogram["buckets"][1][0].GetDouble(), 1.0);
  EXPECT_EQ(histogram["buckets"][1][1].GetInt(), 1);
  EXPECT_STREQ(histogram["buckets"][2][0].GetString(), "+Inf");
  EXPECT_EQ(histogram["sum"].GetDouble(), 0.75);
  EXPECT_EQ(histogram["count"].GetInt(), 1);
  EXPECT_STREQ(metrics[3]["samples"][0]["labels"]["kind"].GetString(), "batcher");
}

TEST_F(telemetry_api, dashboard_is_the_embedded_page) {
  test_client client(server_->port());
  auto r = client.request(verb::get, "/dashboard");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, std::string(dashboard_html()));
}

TEST_F(telemetry_api, other_methods_are_405) {
  test_client client(server_->port());
  for (const char* path : {"/metrics", "/v1/telemetry", "/dashboard"}) {
    testing::expect_error_body(client.request(verb::post, path, "{}"), 405,
                               "MethodNotAllowedError");
  }
}

}  // namespace
}  // namespace troupe::http
