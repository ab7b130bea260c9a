#include "http/chat_responder.hpp"

#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/http/fake_engine.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

const completion_meta meta{"chatcmpl-1", 1700000000, "m"};
const testing::byte_tokenizer tokenizer;

actors::generation_event text_event(int32_t index, std::string text, int32_t num_output) {
  actors::generation_event e;
  e.index = index;
  e.text = std::move(text);
  e.num_prompt_tokens = 5;
  e.num_output_tokens = num_output;
  return e;
}

actors::generation_event last_event(int32_t index, std::string text, int32_t num_output,
                                    std::string reason) {
  actors::generation_event e = text_event(index, std::move(text), num_output);
  e.finished = true;
  e.finish_reason = std::move(reason);
  return e;
}

chat_responder_options options(bool stream, int32_t n = 1, int32_t top_logprobs = -1) {
  chat_responder_options o;
  o.response = responder_options{stream, /*include_usage=*/stream, true, /*chunked=*/false};
  o.num_choices = n;
  o.logprobs = chat_logprobs_format{&tokenizer, top_logprobs};
  return o;
}

std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? response : response.substr(end + 4);
}

TEST(chat_responder, a_complete_response_has_vllms_shape) {
  chat_responder r(meta, options(false));
  EXPECT_EQ(r.on_event(text_event(0, "Hel", 1)), "");
  actors::generation_event last = last_event(0, "lo", 2, "stop");
  last.stop_string = "!";
  std::string out = r.on_event(last);
  ASSERT_TRUE(r.done());
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(
      body_of(out),
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello",)"
      R"("refusal":null,"annotations":null,"audio":null,"function_call":null,)"
      R"("reasoning":null},"logprobs":null,"finish_reason":"stop",)"
      R"("stop_reason":"!","token_ids":null,"routed_experts":null}],)"
      R"("service_tier":null,"system_fingerprint":null,)"
      R"("usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2,)"
      R"("prompt_tokens_details":null,"completion_tokens_details":null},"prompt_logprobs":null,)"
      R"("prompt_token_ids":null,"prompt_text":null,"kv_transfer_params":null,)"
      R"("ec_transfer_params":null,"metrics":null})");
  EXPECT_EQ(r.on_event(text_event(0, "late", 3)), "");
}

TEST(chat_responder, a_stream_starts_with_the_role_and_ends_with_usage_and_done) {
  chat_responder r(meta, options(true));
  std::string out = r.on_event(text_event(0, "Hi", 1));
  actors::generation_event last = last_event(0, "", 2, "stop");
  last.stop_token_id = 7;
  out += r.on_event(last);
  ASSERT_TRUE(r.done());
  auto payloads = testing::sse_payloads(body_of(out));
  const std::string head =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m",)";
  ASSERT_EQ(payloads.size(), 5u);
  EXPECT_EQ(payloads[0], head + R"("choices":[{"index":0,"delta":{"role":"assistant",)"
                                R"("content":""},"logprobs":null,"finish_reason":null}],)"
                                R"("prompt_token_ids":null,"prompt_text":null})");
  EXPECT_EQ(payloads[1], head + R"("choices":[{"index":0,"delta":{"content":"Hi"},)"
                                R"("logprobs":null,"finish_reason":null,)"
                                R"("token_ids":null}]})");
  EXPECT_EQ(payloads[2], head + R"("choices":[{"index":0,"delta":{"content":""},)"
                                R"("logprobs":null,"finish_reason":"stop","stop_reason":7,)"
                                R"("token_ids":null}]})");
  EXPECT_EQ(payloads[3], head + R"("choices":[],"usage":{"prompt_tokens":5,"total_tokens":7,)"
                                R"("completion_tokens":2}})");
  EXPECT_EQ(payloads[4], "[DONE]");
}

TEST(chat_responder, logprobs_are_in_chat_format_with_the_sampled_token_first) {
  chat_responder r(meta, options(false, 1, 2));
  actors::generation_event e = last_event(0, "ab", 2, "length");
  // 'a' was sampled and is also the most likely; 'b' was sampled but is not in the top list.
  e.logprobs = {{'a', -0.5f, {{'a', -0.5f}, {'c', -1.5f}}},
                {'b', -3.0f, {{'d', -0.25f}, {'e', -1.0f}}}};
  e.token_ids = {'a', 'b'};
  std::string out = body_of(r.on_event(e));
  auto doc = testing::parse_json(out);
  const auto& content = doc["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.Size(), 2u);
  auto entry = [](const rapidjson::Value& v) {
    return std::string(v["token"].GetString()) + ":" + std::to_string(v["logprob"].GetDouble()) +
           ":" + std::to_string(v["bytes"][0].GetInt());
  };
  EXPECT_EQ(entry(content[0]), "a:-0.500000:97");
  ASSERT_EQ(content[0]["top_logprobs"].Size(), 2u);
  EXPECT_EQ(entry(content[0]["top_logprobs"][0]), "a:-0.500000:97");
  EXPECT_EQ(entry(content[0]["top_logprobs"][1]), "c:-1.500000:99");
  // vLLM's dictionary order: the sampled token, then the top tokens, cut at top_logprobs.
  ASSERT_EQ(content[1]["top_logprobs"].Size(), 2u);
  EXPECT_EQ(entry(content[1]["top_logprobs"][0]), "b:-3.000000:98");
  EXPECT_EQ(entry(content[1]["top_logprobs"][1]), "d:-0.250000:100");
}

// A beam search's token carries its round's whole dictionary (the sampled token, then the most
// likely): vLLM shows the dictionary's first top_logprobs entries, whichever token the beam took.
TEST(chat_responder, a_beam_search_token_shows_its_rounds_dictionary_as_it_is) {
  chat_responder r(meta, options(false, 1, 2));
  actors::generation_event e = last_event(0, "c", 1, "length");
  actors::token_logprob beam_token{'c', -1.5f, {{'a', -0.5f}, {'c', -1.5f}, {'d', -2.0f}}};
  beam_token.whole_dictionary = true;
  e.logprobs = {beam_token};
  e.token_ids = {'c'};
  auto doc = testing::parse_json(body_of(r.on_event(e)));
  const auto& step = doc["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(std::string(step["token"].GetString()), "c");
  EXPECT_EQ(step["logprob"].GetDouble(), -1.5);
  ASSERT_EQ(step["top_logprobs"].Size(), 2u);
  EXPECT_EQ(std::string(step["top_logprobs"][0]["token"].GetString()), "a");
  EXPECT_EQ(std::string(step["top_logprobs"][1]["token"].GetString()), "c");
}

TEST(chat_responder, logprobs_stream_per_chunk_and_clamp_minus_infinity) {
  chat_responder r(meta, options(true, 1, 0));
  actors::generation_event e = last_event(0, "a", 1, "length");
  e.logprobs = {{'a', -std::numeric_limits<float>::infinity(), {}}};
  auto payloads = testing::sse_payloads(body_of(r.on_event(e)));
  ASSERT_GE(payloads.size(), 2u);
  auto doc = testing::parse_json(payloads[1]);
  const auto& step = doc["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(step["logprob"].GetDouble(), -9999.0);
  EXPECT_EQ(step["top_logprobs"].Size(), 0u);
}

TEST(chat_responder, n_choices_interleave_and_finish_together) {
  chat_responder r(meta, options(false, 2));
  EXPECT_EQ(r.on_event(text_event(1, "B", 1)), "");
  EXPECT_EQ(r.on_event(text_event(0, "A", 1)), "");
  EXPECT_EQ(r.on_event(last_event(1, "b", 2, "stop")), "");
  EXPECT_FALSE(r.done());
  EXPECT_EQ(r.on_event(text_event(5, "ignored", 9)), "");  // no such choice
  auto doc = testing::parse_json(body_of(r.on_event(last_event(0, "a", 3, "length"))));
  ASSERT_TRUE(r.done());
  ASSERT_EQ(doc["choices"].Size(), 2u);
  EXPECT_STREQ(doc["choices"][0]["message"]["content"].GetString(), "Aa");
  EXPECT_STREQ(doc["choices"][0]["finish_reason"].GetString(), "length");
  EXPECT_STREQ(doc["choices"][1]["message"]["content"].GetString(), "Bb");
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 5);
}

TEST(chat_responder, a_stream_of_two_choices_announces_both_roles) {
  chat_responder r(meta, options(true, 2));
  std::string out = r.on_event(last_event(1, "x", 1, "stop"));
  out += r.on_event(last_event(0, "y", 1, "stop"));
  ASSERT_TRUE(r.done());
  auto payloads = testing::sse_payloads(body_of(out));
  ASSERT_EQ(payloads.size(), 6u);  // 2 roles, 2 deltas, usage, [DONE]
  EXPECT_EQ(testing::parse_json(payloads[1])["choices"][0]["index"].GetInt(), 1);
  EXPECT_EQ(testing::parse_json(payloads[2])["choices"][0]["index"].GetInt(), 1);
  EXPECT_EQ(testing::parse_json(payloads[3])["choices"][0]["index"].GetInt(), 0);
}

TEST(chat_responder, an_engine_error_first_is_a_plain_json_error) {
  chat_responder r(meta, options(true));
  actors::generation_event e = text_event(0, "", 0);
  e.error = "prompt too long";
  e.error_status = 400;
  std::string out = r.on_event(e);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_NE(body_of(out).find("prompt too long"), std::string::npos);
}

TEST(chat_responder, an_error_after_the_stream_started_is_an_event) {
  chat_responder r(meta, options(true));
  std::string out = r.on_event(text_event(0, "a", 1));
  actors::generation_event e = text_event(0, "", 1);
  e.error = "boom";
  e.error_status = 500;
  out += r.on_event(e);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.status(), 200);
  auto payloads = testing::sse_payloads(body_of(out));
  ASSERT_EQ(payloads.size(), 4u);
  EXPECT_NE(payloads[2].find("boom"), std::string::npos);
  EXPECT_EQ(payloads[3], "[DONE]");
}

// -- prompt_tokens_details (--enable-prompt-tokens-details) --

chat_responder_options with_details(chat_responder_options o) {
  o.response.prompt_tokens_details = true;
  return o;
}

actors::generation_event with_cached(actors::generation_event e, int32_t num_cached) {
  e.num_cached_tokens = num_cached;
  return e;
}

TEST(chat_responder, a_complete_response_reports_cached_tokens_when_enabled_and_non_zero) {
  auto usage_of = [](chat_responder_options o, int32_t num_cached) {
    chat_responder r(meta, o);
    std::string out = r.on_event(with_cached(last_event(0, "x", 1, "stop"), num_cached));
    auto doc = testing::parse_json(body_of(out));
    rapidjson::Document usage;
    usage.CopyFrom(doc["usage"], usage.GetAllocator());
    return usage;
  };
  auto usage = usage_of(with_details(options(false)), 4);
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"].GetInt(), 4);
  EXPECT_TRUE(usage_of(with_details(options(false)), 0)["prompt_tokens_details"].IsNull());
  EXPECT_TRUE(usage_of(options(false), 4)["prompt_tokens_details"].IsNull());
}

TEST(chat_responder, a_stream_usage_chunk_reports_cached_tokens_when_enabled_and_non_zero) {
  auto usage_payload = [](chat_responder_options o, int32_t num_cached) {
    chat_responder r(meta, o);
    std::string out = r.on_event(with_cached(text_event(0, "Hi", 1), num_cached));
    out += r.on_event(with_cached(last_event(0, "", 2, "stop"), num_cached));
    auto payloads = testing::sse_payloads(body_of(out));
    EXPECT_EQ(payloads.size(), 5u);
    return payloads.size() == 5u ? payloads[3] : std::string();
  };
  EXPECT_EQ(usage_payload(with_details(options(true)), 4),
            R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"m","choices":[],"usage":{"prompt_tokens":5,"total_tokens":7,)"
            R"("completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}})");
  // Unset details are left out of chunks, as vLLM's exclude_unset leaves them.
  EXPECT_EQ(usage_payload(with_details(options(true)), 0).find("prompt_tokens_details"),
            std::string::npos);
  EXPECT_EQ(usage_payload(options(true), 4).find("prompt_tokens_details"), std::string::npos);
}

// -- per-request metrics (--enable-per-request-metrics; http/request_metrics.hpp has the rules) --

chat_responder_options with_metrics(chat_responder_options o, bool include_usage = true) {
  o.response.request_metrics = true;
  o.response.include_usage = o.response.stream && include_usage;
  return o;
}

// The engine's intervals: queue 2 ms, prefill 500 ms, decode 500 ms, inference 1 s.
actors::generation_event timed(actors::generation_event e) {
  e.timing = actors::request_timing{
      .queue = 0.002, .prefill = 0.5, .decode = 0.5, .inference = 1.0, .ttft = 9, .e2e = 9};
  return e;
}

TEST(chat_responder, metrics_end_the_body_and_are_null_for_n_choices) {
  chat_responder r(meta, with_metrics(options(false)));
  EXPECT_EQ(r.on_event(text_event(0, "Hel", 1)), "");
  const std::string body = body_of(r.on_event(timed(last_event(0, "lo", 2, "stop"))));
  EXPECT_EQ(body.substr(body.find(R"("kv_transfer_params")")),
            R"("kv_transfer_params":null,"ec_transfer_params":null,)"
            R"("metrics":{"time_to_first_token_ms":500.0,)"
            R"("generation_time_ms":500.0,"queue_time_ms":2.0,"mean_itl_ms":500.0,)"
            R"("tokens_per_second":2.0}})");

  chat_responder two(meta, with_metrics(options(false, 2)));
  EXPECT_EQ(two.on_event(timed(last_event(1, "a", 1, "stop"))), "");
  auto doc = testing::parse_json(body_of(two.on_event(timed(last_event(0, "b", 1, "stop")))));
  ASSERT_TRUE(doc.HasMember("metrics"));
  EXPECT_TRUE(doc["metrics"].IsNull());
}

TEST(chat_responder, metrics_ride_only_on_a_streams_usage_chunk) {
  auto payloads_of = [](chat_responder_options o) {
    chat_responder r(meta, o);
    std::string out;
    for (int32_t i = 0; i < o.num_choices; ++i)
      out += r.on_event(text_event(i, "Hi", 1));
    for (int32_t i = 0; i < o.num_choices; ++i)
      out += r.on_event(timed(last_event(i, "!", 2, "stop")));
    EXPECT_TRUE(r.done());
    return testing::sse_payloads(body_of(out));
  };
  auto payloads = payloads_of(with_metrics(options(true)));
  ASSERT_EQ(payloads.size(), 5u);  // role, "Hi", "!", usage, [DONE]
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(payloads[i].find("metrics"), std::string::npos) << payloads[i];
  EXPECT_EQ(payloads[3],
            R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"m","choices":[],"usage":{"prompt_tokens":5,"total_tokens":7,)"
            R"("completion_tokens":2},"metrics":{"time_to_first_token_ms":500.0,)"
            R"("generation_time_ms":500.0,"queue_time_ms":2.0,"mean_itl_ms":500.0,)"
            R"("tokens_per_second":2.0}})");

  // No usage chunk, or n > 1: no metrics anywhere.
  for (const auto& o :
       {with_metrics(options(true), /*include_usage=*/false), with_metrics(options(true, 2))}) {
    for (const auto& p : payloads_of(o))
      EXPECT_EQ(p.find("metrics"), std::string::npos) << p;
  }
}

// vLLM's return_token_ids and return_prompt_text: each choice's generated ids, the prompt's ids
// (from the first event) and the rendered prompt.
TEST(chat_responder, return_token_ids_and_prompt_text_fill_the_response) {
  chat_responder_options o = options(false, 2);
  o.return_token_ids = true;
  o.prompt_text = "<user>Hi";
  chat_responder r(meta, o);
  auto first = last_event(1, "b", 1, "stop");
  first.token_ids = {9};
  first.prompt_token_ids = {1, 2};
  EXPECT_EQ(r.on_event(first), "");
  auto other = last_event(0, "ab", 2, "length");
  other.token_ids = {7, 8};
  other.prompt_token_ids = {1, 2};
  const auto doc = testing::parse_json(body_of(r.on_event(other)));
  EXPECT_EQ(doc["choices"][0]["token_ids"].Size(), 2u);
  EXPECT_EQ(doc["choices"][1]["token_ids"][0].GetInt(), 9);
  EXPECT_TRUE(doc["choices"][0]["routed_experts"].IsNull());
  EXPECT_EQ(doc["prompt_token_ids"].Size(), 2u);
  EXPECT_STREQ(doc["prompt_text"].GetString(), "<user>Hi");
  EXPECT_TRUE(doc["prompt_logprobs"].IsNull());

  o.hide_metadata = true;  // include_reasoning false under a parser: no token ids
  chat_responder hidden(meta, o);
  EXPECT_EQ(hidden.on_event(first), "");
  const auto quiet = testing::parse_json(body_of(hidden.on_event(other)));
  EXPECT_TRUE(quiet["choices"][0]["token_ids"].IsNull());
  EXPECT_EQ(quiet["prompt_token_ids"].Size(), 2u);  // the prompt's still go out
}

TEST(chat_responder, a_stream_puts_the_prompt_on_the_role_chunks_and_ids_on_every_chunk) {
  chat_responder_options o = options(true);
  o.response.include_usage = false;
  o.return_token_ids = true;
  o.prompt_text = "<user>Hi";
  completion_meta stamped = meta;
  stamped.system_fingerprint = "troupe-1-abcdef01";
  chat_responder r(stamped, o);
  auto first = text_event(0, "", 1);  // held back: the chunk goes out for its ids
  first.token_ids = {7};
  first.prompt_token_ids = {1, 2};
  std::string out = r.on_event(first);
  auto last = last_event(0, "ab", 2, "stop");
  last.token_ids = {8};
  out += r.on_event(last);
  const auto payloads = testing::sse_payloads(body_of(out));
  ASSERT_EQ(payloads.size(), 4u);  // role, two deltas, [DONE]
  const auto role = testing::parse_json(payloads[0]);
  EXPECT_EQ(role["prompt_token_ids"].Size(), 2u);
  EXPECT_STREQ(role["prompt_text"].GetString(), "<user>Hi");
  EXPECT_FALSE(role["choices"][0].HasMember("token_ids"));
  const auto held = testing::parse_json(payloads[1]);
  EXPECT_STREQ(held["choices"][0]["delta"]["content"].GetString(), "");
  EXPECT_EQ(held["choices"][0]["token_ids"][0].GetInt(), 7);
  EXPECT_FALSE(held.HasMember("system_fingerprint"));
  const auto end = testing::parse_json(payloads[2]);
  EXPECT_EQ(end["choices"][0]["token_ids"][0].GetInt(), 8);
  EXPECT_STREQ(end["system_fingerprint"].GetString(), "troupe-1-abcdef01");
}

TEST(chat_responder, continuous_usage_starts_at_the_role_chunk) {
  chat_responder_options o = options(true);
  o.response.continuous_usage = true;
  chat_responder r(meta, o);
  std::string out = r.on_event(text_event(0, "Hi", 1));
  out += r.on_event(last_event(0, "!", 2, "stop"));
  const auto payloads = testing::sse_payloads(body_of(out));
  ASSERT_EQ(payloads.size(), 5u);  // role, two deltas, usage, [DONE]
  const auto role = testing::parse_json(payloads[0]);
  EXPECT_EQ(role["usage"]["prompt_tokens"].GetInt(), 5);
  EXPECT_EQ(role["usage"]["completion_tokens"].GetInt(), 0);
  EXPECT_TRUE(role["usage"]["completion_tokens_details"].IsNull());  // vLLM sets it, null
  const auto second = testing::parse_json(payloads[2]);
  EXPECT_EQ(second["usage"]["completion_tokens"].GetInt(), 2);
  EXPECT_EQ(second["usage"]["total_tokens"].GetInt(), 7);
}

}  // namespace
}  // namespace troupe::http
