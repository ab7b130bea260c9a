// GET /metrics read back by a real Prometheus parser (prometheus_client, through
// tests/http/prometheus_parse.py): a registry filled like the engine's (vLLM's counter, gauge,
// histogram and info shapes, actor metrics, label values that need escaping) comes back with the
// same families, types, labels and values. Skips without python3 / prometheus_client.
#include <string>

#include <gtest/gtest.h>

#include "http/server.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/prometheus_parser.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::find_family;
using testing::sample_sum;
using testing::bhttp::verb;

class metrics_prometheus : public testing::fake_engine_server {
 protected:
  void SetUp() override {
    telemetry::registry& r = engine_.mutable_metrics();
    const telemetry::labels l = {{"model_name", "fake-model"}, {"engine", "0"}};
    r.add_gauge("vllm:num_requests_running", "Number of requests in model execution batches.", l)
        .set(2);
    r.add_counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", l).inc(120);
    telemetry::labels stop = l, length = l;
    stop.emplace_back("finished_reason", "stop");
    length.emplace_back("finished_reason", "length");
    r.add_counter("vllm:request_success_total", "Count of successfully processed requests.", stop)
        .inc(3);
    r.add_counter("vllm:request_success_total", "Count of successfully processed requests.", length)
        .inc(4);
    auto& ttft = r.add_histogram("vllm:time_to_first_token_seconds",
                                 "Histogram of time to first token in seconds.", l,
                                 {0.001, 0.005, 0.01, 0.02, 0.04});
    for (double v : {0.0005, 0.003, 0.003, 0.03, 7.0})
      ttft.observe(v);
    r.add_gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                {{"block_size", "16"}, {"enable_prefix_caching", "True"}, {"engine", "0"}})
        .set(1);
    r.add_counter("troupe_actor_messages_total", "Messages handled by actors of the kind.",
                  {{"kind", "executor"}, {"rank", "0"}})
        .inc(9);
    // A label value with every character the format escapes, and help text with a newline.
    r.add_gauge("troupe_test_escaping", "first line\nsecond \\ line",
                {{"value", "quote \" backslash \\ newline \n end"}})
        .set(-1.5);

    start();
  }

  testing::prometheus_parse scrape(const std::string& tag) {
    testing::test_client client(server_->port());
    auto r = client.request(verb::get, "/metrics");
    EXPECT_EQ(r.status, 200);
    return testing::parse_prometheus_text(r.body, tag);
  }
};

TEST_F(metrics_prometheus, the_reference_parser_reads_every_family_back) {
  auto p = scrape("metrics_prometheus");
  if (p.result == testing::prometheus_parse::outcome::unavailable) GTEST_SKIP() << p.message;
  ASSERT_EQ(p.result, testing::prometheus_parse::outcome::parsed) << p.message;
  const auto& doc = p.doc;
  EXPECT_EQ(doc["families"].Size(), 7u);

  const auto* running = find_family(doc, "vllm:num_requests_running");
  ASSERT_NE(running, nullptr);
  EXPECT_STREQ((*running)["type"].GetString(), "gauge");
  EXPECT_EQ(sample_sum(*running, "vllm:num_requests_running",
                       {{"model_name", "fake-model"}, {"engine", "0"}}),
            2.0);

  const auto* prompt = find_family(doc, "vllm:prompt_tokens");  // the parser drops _total
  ASSERT_NE(prompt, nullptr);
  EXPECT_STREQ((*prompt)["type"].GetString(), "counter");
  EXPECT_EQ(sample_sum(*prompt, "vllm:prompt_tokens_total"), 120.0);

  const auto* success = find_family(doc, "vllm:request_success");
  ASSERT_NE(success, nullptr);
  EXPECT_EQ(sample_sum(*success, "vllm:request_success_total", {{"finished_reason", "stop"}}), 3.0);
  EXPECT_EQ(sample_sum(*success, "vllm:request_success_total", {{"finished_reason", "length"}}),
            4.0);

  const auto* ttft = find_family(doc, "vllm:time_to_first_token_seconds");
  ASSERT_NE(ttft, nullptr);
  EXPECT_STREQ((*ttft)["type"].GetString(), "histogram");
  const std::string bucket = "vllm:time_to_first_token_seconds_bucket";
  EXPECT_EQ(sample_sum(*ttft, bucket, {{"le", "0.001"}}), 1.0);  // cumulative counts
  EXPECT_EQ(sample_sum(*ttft, bucket, {{"le", "0.005"}}), 3.0);
  EXPECT_EQ(sample_sum(*ttft, bucket, {{"le", "0.04"}}), 4.0);
  EXPECT_EQ(sample_sum(*ttft, bucket, {{"le", "+Inf"}}), 5.0);
  EXPECT_EQ(sample_sum(*ttft, "vllm:time_to_first_token_seconds_count"), 5.0);
  EXPECT_NEAR(*sample_sum(*ttft, "vllm:time_to_first_token_seconds_sum"), 7.0365, 1e-9);

  const auto* info = find_family(doc, "vllm:cache_config_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(sample_sum(*info, "vllm:cache_config_info", {{"block_size", "16"}}), 1.0);

  const auto* messages = find_family(doc, "troupe_actor_messages");
  ASSERT_NE(messages, nullptr);
  EXPECT_EQ(
      sample_sum(*messages, "troupe_actor_messages_total", {{"kind", "executor"}, {"rank", "0"}}),
      9.0);

  const auto* escaping = find_family(doc, "troupe_test_escaping");
  ASSERT_NE(escaping, nullptr);
  EXPECT_STREQ((*escaping)["documentation"].GetString(), "first line\nsecond \\ line");
  EXPECT_EQ(sample_sum(*escaping, "troupe_test_escaping",
                       {{"value", "quote \" backslash \\ newline \n end"}}),
            -1.5);
}

}  // namespace
}  // namespace troupe::http
