#include "http/server.hpp"

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

using namespace std::chrono_literals;
using testing::parse_json;
using testing::reply;
using testing::test_client;
using testing::bhttp::verb;

const std::string full_text = "Hello from troupe, the actor runtime.";

class http_server : public testing::fake_engine_server {
 protected:
  void SetUp() override { start(); }

  // Streams a completion and checks the SSE framing; returns the parsed JSON payloads (without
  // the final [DONE]).
  std::vector<rapidjson::Document> stream(test_client& client, const std::string& body) {
    reply r = client.post(body);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type.rfind("text/event-stream", 0), 0u) << r.content_type;
    EXPECT_TRUE(r.chunked);
    std::vector<std::string> payloads = testing::sse_payloads(r.body);
    EXPECT_FALSE(payloads.empty());
    if (payloads.empty()) return {};
    EXPECT_EQ(payloads.back(), "[DONE]");
    payloads.pop_back();
    std::vector<rapidjson::Document> chunks;
    for (const std::string& p : payloads)
      chunks.push_back(parse_json(p));
    return chunks;
  }
};

TEST_F(http_server, server_seed_makes_default_seeds_reproducible) {
  auto default_seeds = [&](std::optional<uint64_t> seed) {
    server_options options;
    options.seed = seed;
    start(options);
    test_client client(port());
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(client.post(R"({"prompt": "Hi", "max_tokens": 1})").status, 200);
    std::vector<uint64_t> seeds;
    auto requests = engine_.requests();
    for (size_t i = requests.size() - 3; i < requests.size(); ++i)
      seeds.push_back(requests[i].sampling.seed);
    return seeds;
  };
  auto first = default_seeds(7);
  EXPECT_EQ(default_seeds(7), first);  // same --seed, same request order: same seeds
  EXPECT_NE(first[0], first[1]);       // but not one seed for every request
  EXPECT_NE(default_seeds(8), first);
}

TEST_F(http_server, health_is_200_with_an_empty_body) {
  test_client client(port());
  reply r = client.request(verb::get, "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(http_server, version_and_ping_answer_as_vllms) {
  start(server_options{.version = "9.8.7"});
  test_client client(port());
  reply r = client.request(verb::get, "/version");
  ASSERT_EQ(r.status, 200);
  EXPECT_STREQ(parse_json(r.body)["version"].GetString(), "9.8.7");
  EXPECT_EQ(client.request(verb::get, "/ping").status, 200);
  EXPECT_EQ(client.request(verb::post, "/ping").status, 200);
}

// vLLM's --enable-server-load-tracking: GET /load counts the generations in progress (0 without
// the flag).
TEST_F(http_server, load_counts_generations_in_progress_when_tracked) {
  test_client idle(port());
  EXPECT_EQ(idle.request(verb::get, "/load").body, R"({"server_load":0})");
  start(server_options{.enable_server_load_tracking = true});
  test_client client(port());
  client.send(verb::post, "/v1/completions", R"({"prompt": "slow", "stream": true})");
  client.read_until("data: {");
  test_client other(port());
  EXPECT_EQ(other.request(verb::get, "/load").body, R"({"server_load":1})");
  client.close();  // abandoned: it leaves the load
  ASSERT_TRUE(engine_.wait_for_aborts(1, 5s));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string load;
  while (std::chrono::steady_clock::now() < deadline &&
         (load = other.request(verb::get, "/load").body) != R"({"server_load":0})")
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(load, R"({"server_load":0})");
}

TEST_F(http_server, models_lists_the_served_model) {
  test_client client(port());
  reply r = client.request(verb::get, "/v1/models");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document doc = parse_json(r.body);
  EXPECT_STREQ(doc["object"].GetString(), "list");
  ASSERT_EQ(doc["data"].Size(), 1u);
  const auto& model = doc["data"][0];
  EXPECT_STREQ(model["id"].GetString(), "fake-model");
  EXPECT_STREQ(model["object"].GetString(), "model");
  EXPECT_EQ(model["created"].GetInt64(), 1700000000);
  EXPECT_STREQ(model["owned_by"].GetString(), "troupe");
  EXPECT_STREQ(model["root"].GetString(), "fake-model");  // no path: the served name
  EXPECT_TRUE(model["parent"].IsNull());
  EXPECT_EQ(model["max_model_len"].GetInt(), 2048);
  ASSERT_EQ(model["permission"].Size(), 1u);  // vLLM's one ModelPermission
  const auto& permission = model["permission"][0];
  EXPECT_EQ(std::string(permission["id"].GetString()).rfind("modelperm-", 0), 0u);
  EXPECT_TRUE(permission["allow_sampling"].GetBool());
  EXPECT_FALSE(permission["allow_fine_tuning"].GetBool());
  EXPECT_STREQ(permission["organization"].GetString(), "*");
}

TEST_F(http_server, unknown_path_is_404_and_wrong_method_405) {
  test_client client(port());
  testing::expect_error_body(client.request(verb::get, "/v1/nothing"), 404, "NotFoundError");
  testing::expect_error_body(client.request(verb::get, "/v1/completions"), 405,
                             "MethodNotAllowedError");
  testing::expect_error_body(client.request(verb::post, "/health", "{}"), 405,
                             "MethodNotAllowedError");
}

TEST_F(http_server, completion_has_vllm_shape_and_values) {
  test_client client(port());
  reply r = client.post(R"({"model": "fake-model", "prompt": "Hi", "max_tokens": 100})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  rapidjson::Document doc = parse_json(r.body);
  EXPECT_EQ(std::string(doc["id"].GetString()).rfind("cmpl-", 0), 0u);
  EXPECT_EQ(std::string(doc["id"].GetString()).size(), 5u + 32u);
  EXPECT_STREQ(doc["object"].GetString(), "text_completion");
  EXPECT_NEAR(doc["created"].GetInt64(),
              std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count(),
              5);
  EXPECT_STREQ(doc["model"].GetString(), "fake-model");
  ASSERT_EQ(doc["choices"].Size(), 1u);
  EXPECT_EQ(doc["choices"][0]["text"].GetString(), full_text);
  EXPECT_STREQ(doc["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3);  // bos + 2 bytes
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 8);
  EXPECT_EQ(doc["usage"]["total_tokens"].GetInt(), 11);

  reply cut = client.post(R"({"prompt": "Hi", "max_tokens": 3})");  // model defaults
  rapidjson::Document short_doc = parse_json(cut.body);
  EXPECT_STREQ(short_doc["choices"][0]["text"].GetString(), "Hello from troupe");
  EXPECT_STREQ(short_doc["choices"][0]["finish_reason"].GetString(), "length");
}

TEST_F(http_server, request_fields_reach_the_engine) {
  test_client client(port());
  reply r = client.post(R"({"prompt": [5, 6, 7], "max_tokens": 4, "temperature": 0.25,
      "top_p": 0.5, "top_k": 20, "seed": 99, "ignore_eos": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<actors::generation_request> requests = engine_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const actors::generation_request& g = requests[0];
  EXPECT_EQ(g.prompt_token_ids, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(g.max_tokens, 4);
  EXPECT_FLOAT_EQ(g.sampling.temperature, 0.25f);
  EXPECT_FLOAT_EQ(g.sampling.top_p, 0.5f);
  EXPECT_EQ(g.sampling.top_k, 20);
  EXPECT_EQ(g.sampling.seed, 99u);
  EXPECT_TRUE(g.ignore_eos);
  EXPECT_EQ(g.request_id, parse_json(r.body)["id"].GetString());
}

TEST_F(http_server, cache_salt_reaches_the_engine_and_a_bad_one_is_a_400) {
  test_client client(port());
  ASSERT_EQ(client.post(R"({"prompt": "Hi", "max_tokens": 1, "cache_salt": "tenant-a"})").status,
            200);
  ASSERT_EQ(client.post(R"({"prompt": "Hi", "max_tokens": 1})").status, 200);
  auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].cache_salt, "tenant-a");
  EXPECT_EQ(requests[1].cache_salt, "");
  for (const char* body :
       {R"({"prompt": "Hi", "cache_salt": ""})", R"({"prompt": "Hi", "cache_salt": 7})"}) {
    EXPECT_EQ(testing::expect_error_body(client.post(body), 400, "BadRequestError"),
              "Parameter 'cache_salt' must be a non-empty string if provided. "
              "(parameter=cache_salt)");
  }
  EXPECT_EQ(engine_.num_submitted(), 2u);
}

// vLLM's priority: the body's, unless an X-Vllm-Priority header holds an integer.
TEST_F(http_server, priority_reaches_the_engine_and_the_header_overrides_it) {
  test_client client(port());
  const std::string body = R"({"prompt": "Hi", "max_tokens": 1, "priority": 4})";
  ASSERT_EQ(client.post(body).status, 200);
  ASSERT_EQ(client.request(verb::post, "/v1/completions", body, {{"x-vllm-priority", "-2"}}).status,
            200);
  ASSERT_EQ(
      client.request(verb::post, "/v1/completions", body, {{"X-Vllm-Priority", "high"}}).status,
      200);
  ASSERT_EQ(client.post(R"({"prompt": "Hi", "max_tokens": 1})").status, 200);
  auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].priority, 4);
  EXPECT_EQ(requests[1].priority, -2);
  EXPECT_EQ(requests[2].priority, 4);
  EXPECT_EQ(requests[3].priority, 0);
  testing::expect_error_body(client.post(R"({"prompt": "Hi", "priority": 0.5})"), 400,
                             "BadRequestError");
  EXPECT_EQ(engine_.num_submitted(), 4u);
}

// vLLM's response ids: "cmpl-" + the X-Request-Id header, else the body's request_id, else 32
// random hex digits. Without --enable-request-id-headers no X-Request-Id goes back.
TEST_F(http_server, response_ids_come_from_the_header_or_the_request_id) {
  test_client client(port());
  const std::string body = R"({"prompt": "Hi", "max_tokens": 1, "request_id": "job-7"})";
  EXPECT_EQ(std::string(parse_json(client.post(body).body)["id"].GetString()), "cmpl-job-7");
  reply r = client.request(verb::post, "/v1/completions", body, {{"X-Request-Id", "trace-1"}});
  EXPECT_EQ(std::string(parse_json(r.body)["id"].GetString()), "cmpl-trace-1");
  EXPECT_TRUE(r.request_id.empty());
  const std::string id =
      parse_json(client.post(R"({"prompt": "Hi", "max_tokens": 1})").body)["id"].GetString();
  ASSERT_EQ(id.size(), 5u + 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos) << id;
  testing::expect_error_body(client.post(R"({"prompt": "Hi", "request_id": 7})"), 400,
                             "BadRequestError");
}

// --enable-request-id-headers: every response carries X-Request-Id, the request's own or a new
// one, errors and streams included.
TEST_F(http_server, request_id_headers_echo_the_request_or_make_one) {
  server_options options;
  options.enable_request_id_headers = true;
  start(options);
  test_client client(port());
  reply r = client.request(verb::post, "/v1/completions", R"({"prompt": "Hi", "max_tokens": 1})",
                           {{"X-Request-Id", "trace-2"}});
  EXPECT_EQ(r.request_id, "trace-2");
  r = client.request(verb::post, "/v1/completions",
                     R"({"prompt": "Hi", "max_tokens": 2, "stream": true})");
  EXPECT_EQ(r.request_id.size(), 32u) << r.request_id;
  r = client.request(verb::get, "/health");
  EXPECT_EQ(r.request_id.size(), 32u);
  r = client.request(verb::post, "/v1/completions", R"({"prompt": "Hi", "top_k": "x"})",
                     {{"X-Request-Id", "bad-one"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.request_id, "bad-one");
}

// The fake engine reports all but the last prompt token of a "cached..." prompt as cached:
// "cached prompt" is BOS + 13 bytes, so 13.
TEST_F(http_server, prompt_tokens_details_only_with_the_option_and_cached_tokens) {
  const std::string cached_body = R"({"prompt": "cached prompt", "max_tokens": 2)";
  auto usage_of = [&](const std::string& body) {
    test_client client(port());
    reply r = client.post(body);
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document doc = parse_json(r.body);
    rapidjson::Document usage;
    usage.CopyFrom(doc["usage"], usage.GetAllocator());
    return usage;
  };
  auto stream_usage_of = [&](const std::string& body) {
    test_client client(port());
    auto chunks = stream(client, body);
    rapidjson::Document usage;
    if (!chunks.empty()) usage.CopyFrom(chunks.back()["usage"], usage.GetAllocator());
    return usage;
  };
  const std::string stream_fields =
      R"(, "stream": true, "stream_options": {"include_usage": true})";

  // Off (the default): null even when the engine reports cached tokens.
  EXPECT_TRUE(usage_of(cached_body + "}")["prompt_tokens_details"].IsNull());
  EXPECT_TRUE(stream_usage_of(cached_body + stream_fields + "}")["prompt_tokens_details"].IsNull());

  server_options options;
  options.enable_prompt_tokens_details = true;
  start(options);
  auto usage = usage_of(cached_body + "}");
  EXPECT_EQ(usage["prompt_tokens"].GetInt(), 14);
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"].GetInt(), 13);
  auto streamed = stream_usage_of(cached_body + stream_fields + "}");
  EXPECT_EQ(streamed["prompt_tokens_details"]["cached_tokens"].GetInt(), 13);
  // On, but nothing cached: as without the option.
  const std::string plain_body = R"({"prompt": "Hi", "max_tokens": 2)";
  EXPECT_TRUE(usage_of(plain_body + "}")["prompt_tokens_details"].IsNull());
  EXPECT_TRUE(stream_usage_of(plain_body + stream_fields + "}")["prompt_tokens_details"].IsNull());
}

TEST_F(http_server, streaming_chunks_concatenate_to_the_text) {
  test_client client(port());
  auto chunks = stream(client, R"({"prompt": "Hi", "max_tokens": 100, "stream": true})");
  ASSERT_EQ(chunks.size(), testing::fake_words.size());
  std::string text;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& choice = chunks[i]["choices"][0];
    EXPECT_STREQ(chunks[i]["object"].GetString(), "text_completion");
    EXPECT_STREQ(chunks[i]["id"].GetString(), chunks[0]["id"].GetString());
    EXPECT_FALSE(chunks[i].HasMember("usage"));
    text += choice["text"].GetString();
    if (i + 1 < chunks.size()) {
      EXPECT_TRUE(choice["finish_reason"].IsNull());
    }
  }
  EXPECT_EQ(text, full_text);
  EXPECT_STREQ(chunks.back()["choices"][0]["finish_reason"].GetString(), "stop");
}

TEST_F(http_server, streaming_usage_chunk_when_requested) {
  test_client client(port());
  auto chunks = stream(client, R"({"prompt": "Hi", "max_tokens": 2, "stream": true,
      "stream_options": {"include_usage": true}})");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_FALSE(chunks[0].HasMember("usage"));  // vLLM 0.32 writes no "usage": null
  EXPECT_STREQ(chunks[1]["choices"][0]["finish_reason"].GetString(), "length");
  EXPECT_EQ(chunks[2]["choices"].Size(), 0u);
  EXPECT_EQ(chunks[2]["usage"]["prompt_tokens"].GetInt(), 3);
  EXPECT_EQ(chunks[2]["usage"]["completion_tokens"].GetInt(), 2);
  EXPECT_EQ(chunks[2]["usage"]["total_tokens"].GetInt(), 5);
}

// --enable-force-include-usage: a stream that asked for nothing reports usage on every chunk
// and ends with the usage chunk.
TEST_F(http_server, forced_usage_rides_on_every_chunk) {
  start(server_options{.enable_force_include_usage = true});
  test_client client(port());
  auto chunks = stream(client, R"({"prompt": "Hi", "max_tokens": 2, "stream": true})");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0]["usage"]["completion_tokens"].GetInt(), 1);
  EXPECT_EQ(chunks[1]["usage"]["completion_tokens"].GetInt(), 2);
  EXPECT_EQ(chunks[2]["choices"].Size(), 0u);
  EXPECT_EQ(chunks[2]["usage"]["total_tokens"].GetInt(), 5);
}

TEST_F(http_server, bad_requests_are_openai_style_400s) {
  test_client client(port());
  testing::expect_error_body(client.post(R"({"prompt": "Hi", )"), 400, "BadRequestError");
  for (const char* body : {R"({"prompt": 5})", R"({"prompt": "a", "max_tokens": "x"})",
                           R"({"prompt": "a", "temperature": -1})",
                           R"({"prompt": "a", "stop": [5]})", R"({"prompt": "a", "n": 129})",
                           R"({"prompt": "a", "logprobs": 21})", R"({"prompt": ["a", 5]})"}) {
    std::string message = testing::expect_error_body(client.post(body), 400, "BadRequestError");
    EXPECT_FALSE(message.empty()) << body;
  }
  std::string message = testing::expect_error_body(
      client.post(R"({"model": "gpt-4", "prompt": "a"})"), 404, "NotFoundError");
  EXPECT_EQ(message, "The model `gpt-4` does not exist. Valid aliases: fake-model.");
  EXPECT_EQ(engine_.num_submitted(), 0u);
  EXPECT_EQ(client.request(verb::get, "/health").status, 200);  // the connection lives on
}

TEST_F(http_server, engine_error_first_is_a_json_error_not_a_stream) {
  test_client client(port());
  testing::expect_error_body(client.post(R"({"prompt": "error-first", "stream": true})"), 400,
                             "BadRequestError");
  testing::expect_error_body(client.post(R"({"prompt": "error-first"})"), 400, "BadRequestError");
}

TEST_F(http_server, engine_error_mid_stream_is_an_error_event) {
  test_client client(port());
  auto chunks = stream(client, R"({"prompt": "error-later", "stream": true})");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_STREQ(chunks[1]["choices"][0]["text"].GetString(), "b");
  EXPECT_EQ(chunks[2]["error"]["code"].GetInt(), 500);
  EXPECT_STREQ(chunks[2]["error"]["message"].GetString(), "scripted failure");
}

// vLLM 0.32: max_tokens 0 only with echo (the prompt's logprobs, nothing generated).
TEST_F(http_server, zero_max_tokens_is_an_echos_only) {
  test_client client(port());
  EXPECT_EQ(testing::expect_error_body(client.post(R"({"prompt": "Hi", "max_tokens": 0})"), 400,
                                       "BadRequestError"),
            "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)");
  EXPECT_EQ(engine_.num_submitted(), 0u);
  reply r = client.post(R"({"prompt": "Hi", "max_tokens": 0, "echo": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ(parse_json(r.body)["choices"][0]["text"].GetString(), "Hi");
}

TEST_F(http_server, client_disconnect_mid_stream_aborts_once_and_serving_goes_on) {
  {
    test_client client(port());
    auto begin = std::chrono::steady_clock::now();
    client.send(verb::post, "/v1/completions", R"({"prompt": "slow", "stream": true})");
    std::string seen = client.read_until("data: {");
    // Chunks are flushed as produced: the first arrives long before the 5 s generation ends.
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
    EXPECT_NE(seen.find("text/event-stream"), std::string::npos);
    client.close();
  }
  ASSERT_TRUE(engine_.wait_for_aborts(1, 5s));
  std::this_thread::sleep_for(100ms);  // the engine's abort event arrives after the socket is gone
  EXPECT_EQ(engine_.num_aborts(1), 1);
  EXPECT_EQ(engine_.num_aborts_total(), 1);

  test_client next(port());
  EXPECT_EQ(next.post(R"({"prompt": "Hi"})").status, 200);
}

TEST_F(http_server, client_disconnect_while_waiting_for_a_completion_aborts) {
  {
    test_client client(port());
    client.send(verb::post, "/v1/completions", R"({"prompt": "slow"})");
    std::this_thread::sleep_for(100ms);
    client.close();
  }
  ASSERT_TRUE(engine_.wait_for_aborts(1, 5s));
  EXPECT_EQ(engine_.num_aborts(1), 1);
}

TEST_F(http_server, concurrent_streams_all_complete) {
  start(server_options{.num_io_threads = 2});
  constexpr int num_clients = 16;
  std::vector<std::future<std::string>> texts;
  for (int i = 0; i < num_clients; ++i) {
    texts.push_back(std::async(std::launch::async, [this] {
      test_client client(port());
      std::string text;
      auto chunks = stream(client, R"({"prompt": "Hi", "max_tokens": 100, "stream": true})");
      for (const auto& chunk : chunks)
        text += chunk["choices"][0]["text"].GetString();
      if (!chunks.empty()) text += chunks.back()["choices"][0]["finish_reason"].GetString();
      return text;
    }));
  }
  for (auto& text : texts)
    EXPECT_EQ(text.get(), full_text + "stop");
  EXPECT_EQ(engine_.num_submitted(), static_cast<uint64_t>(num_clients));
  EXPECT_EQ(engine_.num_aborts_total(), 0);
}

TEST_F(http_server, keep_alive_and_pipelined_requests) {
  test_client client(port());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(client.post(R"({"prompt": "Hi"})").status, 200);
  // Two requests sent back to back are answered in order.
  client.send(verb::post, "/v1/completions", R"({"prompt": "Hi", "max_tokens": 1})");
  client.send(verb::get, "/v1/models");
  reply first = client.receive();
  reply second = client.receive();
  EXPECT_STREQ(parse_json(first.body)["choices"][0]["text"].GetString(), "Hello");
  EXPECT_STREQ(parse_json(second.body)["object"].GetString(), "list");
}

TEST_F(http_server, http10_stream_ends_by_closing) {
  test_client client(port());
  client.send(verb::post, "/v1/completions", R"({"prompt": "Hi", "stream": true})", 10);
  std::string raw = client.read_until("data: [DONE]\n\n");
  EXPECT_EQ(raw.find("Transfer-Encoding"), std::string::npos);
  EXPECT_NE(raw.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(http_server, oversized_body_is_413) {
  start(server_options{.max_body_bytes = 1024});
  test_client client(port());
  std::string body = R"({"prompt": ")" + std::string(4096, 'a') + R"("})";
  testing::expect_error_body(client.post(body), 413, "RequestTooLargeError");
}

TEST_F(http_server, expect_100_continue_is_answered) {
  test_client client(port());
  std::string body = R"({"prompt": "Hi", "max_tokens": 1})";
  client.send_raw(
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(client.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  client.send_raw(body);
  EXPECT_EQ(client.receive().status, 200);
}

TEST_F(http_server, malformed_http_is_400_and_closes) {
  test_client client(port());
  client.send_raw("BLAH\x01 / HTTP/1.1\r\n\r\n");
  testing::expect_error_body(client.receive(), 400, "BadRequestError");
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(http_server, idle_connections_are_closed) {
  start(server_options{.idle_timeout = 200ms});
  test_client client(port());
  EXPECT_EQ(client.request(verb::get, "/health").status, 200);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 150ms);
}

TEST_F(http_server, stop_aborts_running_generations) {
  test_client client(port());
  client.send(verb::post, "/v1/completions", R"({"prompt": "slow", "stream": true})");
  client.read_until("data: {");
  server_->stop();
  server_->wait();
  EXPECT_TRUE(engine_.wait_for_aborts(1, 5s));
  EXPECT_TRUE(client.closed_by_peer());
  server_.reset();
}

TEST_F(http_server, port_in_use_is_an_error_value) {
  auto second = start_server(engine_, server_options{.port = port()});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("in use"), std::string::npos) << second.message();
}

}  // namespace
}  // namespace troupe::http
