// --enable-per-request-metrics: vLLM's "metrics" object (PerRequestMetrics, as
// build_per_request_timing_metrics computes it in vllm/entrypoints/generate/base/serving.py):
// its fields in milliseconds from the engine's intervals, which are null when, its JSON in a body
// (nulls written) and in a usage chunk (nulls left out), and, through the server with the fake
// engine (fake_timing on every ordinary request's last event), where it appears: the final body,
// only the usage chunk of a stream, nowhere when the flag is off or the request failed.
#include "http/request_metrics.hpp"

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
using testing::test_client;
using testing::bhttp::verb;

// vLLM's own test timeline: queued 1.0 s, scheduled 1.5 s, first token 2.0 s, last token 3.0 s.
// Arrival (0.25 s) and finish (3.25 s) only reach troupe's own ttft and e2e, which vLLM's metrics
// do not use.
const actors::request_timing timeline = {
    .queue = 0.5, .prefill = 0.5, .decode = 1.0, .inference = 1.5, .ttft = 1.75, .e2e = 3.0};

TEST(request_metrics, are_vllms_intervals_in_milliseconds) {
  const request_metrics m = make_request_metrics(timeline, 10);
  EXPECT_EQ(m.time_to_first_token_ms, 500.0);  // scheduled -> first token, not arrival-based
  EXPECT_EQ(m.generation_time_ms, 1000.0);     // first -> last token
  EXPECT_EQ(m.queue_time_ms, 500.0);           // queued -> scheduled
  ASSERT_TRUE(m.mean_itl_ms && m.tokens_per_second);
  EXPECT_DOUBLE_EQ(*m.mean_itl_ms, 1000.0 / 9);      // over the 9 gaps between 10 tokens
  EXPECT_DOUBLE_EQ(*m.tokens_per_second, 10 / 1.5);  // over scheduled -> last token
}

TEST(request_metrics, mean_itl_needs_two_tokens_and_throughput_an_interval) {
  request_metrics m = make_request_metrics(timeline, 1);
  EXPECT_FALSE(m.mean_itl_ms);
  EXPECT_EQ(m.generation_time_ms, 1000.0);  // still reported
  ASSERT_TRUE(m.tokens_per_second);
  EXPECT_DOUBLE_EQ(*m.tokens_per_second, 1 / 1.5);

  m = make_request_metrics(timeline, 0);
  EXPECT_FALSE(m.mean_itl_ms);
  EXPECT_EQ(m.tokens_per_second, 0.0);

  // Two tokens in one instant: a zero ITL (not null); no interval, no throughput.
  m = make_request_metrics(actors::request_timing{}, 2);
  EXPECT_EQ(m.time_to_first_token_ms, 0.0);
  EXPECT_EQ(m.generation_time_ms, 0.0);
  EXPECT_EQ(m.mean_itl_ms, 0.0);
  EXPECT_FALSE(m.tokens_per_second);
}

TEST(request_metrics, are_all_null_without_the_engines_timing) {
  const request_metrics m = make_request_metrics(std::nullopt, 3);
  EXPECT_FALSE(m.time_to_first_token_ms || m.generation_time_ms || m.queue_time_ms ||
               m.mean_itl_ms || m.tokens_per_second);
}

TEST(request_metrics, json_writes_nulls_in_a_body_and_leaves_them_out_of_a_chunk) {
  const request_metrics one_token = make_request_metrics(
      actors::request_timing{.queue = 0.001, .prefill = 0.25, .decode = 0, .inference = 0.25}, 1);
  EXPECT_EQ(request_metrics_json(one_token, /*omit_nulls=*/false),
            R"({"time_to_first_token_ms":250.0,"generation_time_ms":0.0,"queue_time_ms":1.0,)"
            R"("mean_itl_ms":null,"tokens_per_second":4.0})");
  EXPECT_EQ(request_metrics_json(one_token, /*omit_nulls=*/true),
            R"({"time_to_first_token_ms":250.0,"generation_time_ms":0.0,"queue_time_ms":1.0,)"
            R"("tokens_per_second":4.0})");
  EXPECT_EQ(request_metrics_json({}, false),
            R"({"time_to_first_token_ms":null,"generation_time_ms":null,"queue_time_ms":null,)"
            R"("mean_itl_ms":null,"tokens_per_second":null})");
  EXPECT_EQ(request_metrics_json({}, true), "{}");
}

TEST(request_metrics, go_last_in_a_body_and_are_null_for_n_choices) {
  const response_timing one{.enabled = true, .timing = timeline, .num_generation_tokens = 1};
  const std::string body = with_body_metrics(R"({"a":1})", one);
  EXPECT_EQ(body.rfind(R"({"a":1,"metrics":{"time_to_first_token_ms":500.0,)", 0), 0u) << body;
  EXPECT_EQ(body.substr(body.size() - 2), "}}");
  EXPECT_EQ(with_body_metrics("{}", one).rfind(R"({"metrics":{)", 0), 0u);

  response_timing two = one;
  two.num_choices = 2;
  EXPECT_EQ(with_body_metrics(R"({"a":1})", two), R"({"a":1,"metrics":null})");
  response_timing off = one;
  off.enabled = false;
  EXPECT_EQ(with_body_metrics(R"({"a":1})", off), R"({"a":1,"metrics":null})");
}

TEST(request_metrics, go_on_a_usage_chunk_only_for_one_choice) {
  const response_timing one{.enabled = true, .timing = timeline, .num_generation_tokens = 1};
  EXPECT_EQ(with_usage_chunk_metrics(R"({"a":1})", one),
            R"({"a":1,"metrics":{"time_to_first_token_ms":500.0,"generation_time_ms":1000.0,)"
            R"("queue_time_ms":500.0,"tokens_per_second":0.6666666666666666}})");
  response_timing untimed = one;
  untimed.timing.reset();
  EXPECT_EQ(with_usage_chunk_metrics(R"({"a":1})", untimed), R"({"a":1,"metrics":{}})");
  response_timing two = one;
  two.num_choices = 2;
  EXPECT_EQ(with_usage_chunk_metrics(R"({"a":1})", two), R"({"a":1})");
  response_timing off = one;
  off.enabled = false;
  EXPECT_EQ(with_usage_chunk_metrics(R"({"a":1})", off), R"({"a":1})");
}

// -- through the server, with the fake engine --

// fake_timing with the 3 tokens of max_tokens 3.
void expect_fake_metrics(const rapidjson::Value& doc) {
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("metrics")) << "no metrics";
  const auto& m = doc["metrics"];
  ASSERT_TRUE(m.IsObject());
  EXPECT_EQ(m.MemberCount(), 5u);
  EXPECT_EQ(m["time_to_first_token_ms"].GetDouble(), testing::fake_timing.prefill * 1000);
  EXPECT_EQ(m["generation_time_ms"].GetDouble(), testing::fake_timing.decode * 1000);
  EXPECT_EQ(m["queue_time_ms"].GetDouble(), testing::fake_timing.queue * 1000);
  EXPECT_DOUBLE_EQ(m["mean_itl_ms"].GetDouble(), testing::fake_timing.decode * 1000 / 2);
  EXPECT_DOUBLE_EQ(m["tokens_per_second"].GetDouble(), 3 / testing::fake_timing.inference);
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 3);
}

class per_request_metrics : public testing::fake_engine_server {
 protected:
  void start(bool enabled) {
    server_options options;
    options.enable_per_request_metrics = enabled;
    auto setup = load_chat_template_setup("{{ messages[-1].content }}", "/none.gguf", nullptr);
    ASSERT_TRUE(setup.ok()) << setup.message();
    options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
    fake_engine_server::start(options);
  }

  testing::reply post(const std::string& path, const std::string& body) {
    test_client client(server_->port());
    return client.request(verb::post, path, body);
  }

  // The JSON payloads of a stream, without [DONE].
  std::vector<std::string> stream(const std::string& path, const std::string& body) {
    auto r = post(path, body);
    EXPECT_EQ(r.status, 200) << r.body;
    auto payloads = testing::sse_payloads(r.body);
    EXPECT_FALSE(payloads.empty());
    if (!payloads.empty()) payloads.pop_back();
    return payloads;
  }

  static void expect_none(const std::vector<std::string>& payloads) {
    for (const auto& p : payloads)
      EXPECT_EQ(p.find("\"metrics\""), std::string::npos) << p;
  }
};

const std::string completion = R"({"prompt": "Hi", "max_tokens": 3)";
const std::string chat = R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3)";
const std::string streamed = R"(, "stream": true})";
const std::string with_usage = R"(, "stream": true, "stream_options": {"include_usage": true}})";

TEST_F(per_request_metrics, end_the_body_of_completions_and_chat) {
  start(true);
  for (const std::string path : {"/v1/completions", "/v1/chat/completions"}) {
    const std::string body = post(path, (path == "/v1/completions" ? completion : chat) + "}").body;
    expect_fake_metrics(parse_json(body));
    EXPECT_EQ(body.substr(body.find("\"metrics\"")).find("\"usage\""), std::string::npos)
        << "metrics is the last member: " << body;
  }
}

TEST_F(per_request_metrics, ride_only_on_the_usage_chunk_of_a_stream) {
  start(true);
  for (const std::string path : {"/v1/completions", "/v1/chat/completions"}) {
    const std::string& request = path == "/v1/completions" ? completion : chat;
    // Without include_usage there is no usage chunk, and no metrics at all.
    expect_none(stream(path, request + streamed));
    auto payloads = stream(path, request + with_usage);
    ASSERT_GE(payloads.size(), 2u);
    const auto last = parse_json(payloads.back());
    EXPECT_TRUE(last["usage"].IsObject());
    EXPECT_EQ(last["choices"].Size(), 0u);
    expect_fake_metrics(last);
    payloads.pop_back();
    expect_none(payloads);
  }
}

TEST_F(per_request_metrics, null_in_bodies_and_absent_from_streams_when_off) {
  start(false);  // vLLM 0.32 writes "metrics": null into every complete body
  EXPECT_TRUE(parse_json(post("/v1/completions", completion + "}").body)["metrics"].IsNull());
  EXPECT_TRUE(parse_json(post("/v1/chat/completions", chat + "}").body)["metrics"].IsNull());
  expect_none(stream("/v1/completions", completion + with_usage));
  expect_none(stream("/v1/chat/completions", chat + with_usage));
}

TEST_F(per_request_metrics, absent_from_errors) {
  start(true);
  auto r = post("/v1/completions", R"({"prompt": "error-first"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.find("\"metrics\""), std::string::npos);
  expect_none(stream("/v1/completions",
                     R"({"prompt": "error-later", "stream": true,
                         "stream_options": {"include_usage": true}})"));
}

}  // namespace
}  // namespace troupe::http
