// --enable-per-request-metrics: the "metrics" object on a completion's and a chat completion's
// final body or final stream chunk, with the engine's timing (the fake engine reports
// fake_timing on every ordinary request's last event); absent when the option is off, on every
// other chunk, and when the engine reported no timing.
#include "http/request_metrics.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/chat_responder.hpp"
#include "http/completion_responder.hpp"
#include "http/server.hpp"
#include "tests/http/fake_engine.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using testing::parse_json;
using testing::test_client;
using testing::bhttp::verb;

void expect_fake_timing(const rapidjson::Value& doc) {
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("metrics")) << "no metrics";
  const auto& m = doc["metrics"];
  ASSERT_TRUE(m.IsObject());
  EXPECT_EQ(m.MemberCount(), 6u);
  EXPECT_EQ(m["queue_time"].GetDouble(), testing::fake_timing.queue);
  EXPECT_EQ(m["prefill_time"].GetDouble(), testing::fake_timing.prefill);
  EXPECT_EQ(m["decode_time"].GetDouble(), testing::fake_timing.decode);
  EXPECT_EQ(m["inference_time"].GetDouble(), testing::fake_timing.inference);
  EXPECT_EQ(m["time_to_first_token"].GetDouble(), testing::fake_timing.ttft);
  EXPECT_EQ(m["e2e_latency"].GetDouble(), testing::fake_timing.e2e);
}

TEST(request_metrics, appended_as_the_last_member) {
  actors::request_timing t{1, 2, 3, 4, 5, 6};
  EXPECT_EQ(with_request_metrics(R"({"a":1})", t),
            R"({"a":1,"metrics":{"queue_time":1.0,"prefill_time":2.0,"decode_time":3.0,)"
            R"("inference_time":4.0,"time_to_first_token":5.0,"e2e_latency":6.0}})");
  EXPECT_EQ(with_request_metrics("{}", t).substr(0, 12), R"({"metrics":{)");
}

// n > 1: the timing of the choice that finished last (the fake engine has no choices; the
// responders are driven directly).
TEST(request_metrics, of_the_choice_that_finished_last) {
  auto final_event = [](int32_t index, double e2e) {
    actors::generation_event e;
    e.index = index;
    e.text = "x";
    e.num_output_tokens = 1;
    e.finished = true;
    e.finish_reason = "length";
    e.timing = actors::request_timing{0, 0, 0, 0, 0, e2e};
    return e;
  };
  const completion_meta meta{"cmpl-1", 1, "m"};
  responder_options options;
  options.n = 2;
  options.request_metrics = true;
  completion_responder completion(meta, options);
  EXPECT_EQ(completion.on_event(final_event(1, 2.0)), "");
  std::string bytes = completion.on_event(final_event(0, 3.0));
  auto body = parse_json(bytes.substr(bytes.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["metrics"]["e2e_latency"].GetDouble(), 3.0);

  chat_responder chat(meta, chat_responder_options{options, 2, {}});
  EXPECT_EQ(chat.on_event(final_event(0, 4.0)), "");
  bytes = chat.on_event(final_event(1, 5.0));
  body = parse_json(bytes.substr(bytes.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["metrics"]["e2e_latency"].GetDouble(), 5.0);
}

class per_request_metrics : public ::testing::Test {
 protected:
  void start(bool enabled) {
    server_.reset();
    server_options options;
    options.port = 0;
    options.disable_log_requests = true;
    options.enable_per_request_metrics = enabled;
    auto setup = load_chat_template_setup("{{ messages[-1].content }}", "/none.gguf", nullptr);
    ASSERT_TRUE(setup.ok()) << setup.message();
    options.chat_template = std::make_shared<const chat_template_setup>(std::move(*setup));
    auto started = start_server(engine_, options);
    ASSERT_TRUE(started.ok()) << started.message();
    server_ = std::move(started.value());
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

  // Checks that only the last payload has metrics, and that they are the engine's.
  void expect_on_last_chunk_only(const std::vector<std::string>& payloads) {
    ASSERT_GE(payloads.size(), 2u);
    for (size_t i = 0; i + 1 < payloads.size(); ++i)
      EXPECT_EQ(payloads[i].find("\"metrics\""), std::string::npos) << payloads[i];
    expect_fake_timing(parse_json(payloads.back()));
  }

  testing::fake_engine engine_;  // declared first: outlives the server
  std::unique_ptr<server> server_;
};

const std::string completion = R"({"prompt": "Hi", "max_tokens": 3)";
const std::string chat = R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3)";
const std::string streamed = R"(, "stream": true})";
const std::string with_usage = R"(, "stream": true, "stream_options": {"include_usage": true}})";

TEST_F(per_request_metrics, on_the_final_body_of_completions_and_chat) {
  start(true);
  auto doc = parse_json(post("/v1/completions", completion + "}").body);
  expect_fake_timing(doc);
  EXPECT_TRUE(doc.HasMember("usage"));  // the other members stay
  expect_fake_timing(parse_json(post("/v1/chat/completions", chat + "}").body));
}

TEST_F(per_request_metrics, on_the_last_chunk_of_a_stream) {
  start(true);
  // Without usage, the chunk with the finish reason is the last.
  auto payloads = stream("/v1/completions", completion + streamed);
  expect_on_last_chunk_only(payloads);
  EXPECT_STREQ(parse_json(payloads.back())["choices"][0]["finish_reason"].GetString(), "length");
  expect_on_last_chunk_only(stream("/v1/chat/completions", chat + streamed));
  // With usage, the usage chunk is.
  payloads = stream("/v1/completions", completion + with_usage);
  expect_on_last_chunk_only(payloads);
  EXPECT_TRUE(parse_json(payloads.back())["usage"].IsObject());
  payloads = stream("/v1/chat/completions", chat + with_usage);
  expect_on_last_chunk_only(payloads);
  EXPECT_TRUE(parse_json(payloads.back())["usage"].IsObject());
}

TEST_F(per_request_metrics, absent_when_off) {
  start(false);
  EXPECT_FALSE(parse_json(post("/v1/completions", completion + "}").body).HasMember("metrics"));
  EXPECT_FALSE(parse_json(post("/v1/chat/completions", chat + "}").body).HasMember("metrics"));
  for (const auto& p : stream("/v1/completions", completion + with_usage))
    EXPECT_EQ(p.find("\"metrics\""), std::string::npos) << p;
  for (const auto& p : stream("/v1/chat/completions", chat + streamed))
    EXPECT_EQ(p.find("\"metrics\""), std::string::npos) << p;
}

TEST_F(per_request_metrics, absent_without_the_engines_timing) {
  start(true);
  // Nothing generated (answered without the engine), and errors: no timing.
  auto r = post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "Hi"}],
                                           "max_completion_tokens": 0})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("\"metrics\""), std::string::npos);
  r = post("/v1/completions", R"({"prompt": "error-first"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.find("\"metrics\""), std::string::npos);
  r = post("/v1/completions", R"({"prompt": "error-later", "stream": true})");
  EXPECT_EQ(r.body.find("\"metrics\""), std::string::npos);
}

}  // namespace
}  // namespace troupe::http
