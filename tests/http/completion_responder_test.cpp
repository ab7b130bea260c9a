#include "http/completion_responder.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "http/wire.hpp"

namespace troupe::http {
namespace {

const completion_meta meta{"cmpl-0123", 1700000000, "smollm"};

actors::generation_event text_event(std::string text, int32_t num_output) {
  actors::generation_event e;
  e.text = std::move(text);
  e.num_prompt_tokens = 4;
  e.num_output_tokens = num_output;
  return e;
}

actors::generation_event final_event(std::string text, int32_t num_output, std::string reason) {
  actors::generation_event e = text_event(std::move(text), num_output);
  e.finished = true;
  e.finish_reason = std::move(reason);
  return e;
}

actors::generation_event error_event(int status, std::string message) {
  actors::generation_event e;
  e.error = std::move(message);
  e.error_status = status;
  return e;
}

// Splits a chunked body into its chunks; fails the test on bad framing.
std::vector<std::string> dechunk(std::string_view body) {
  std::vector<std::string> chunks;
  while (true) {
    size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) {
      ADD_FAILURE() << "unterminated chunk size";
      return chunks;
    }
    size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
    if (size == 0) {
      EXPECT_EQ(body.substr(eol), "\r\n\r\n");
      return chunks;
    }
    chunks.emplace_back(body.substr(eol + 2, size));
    EXPECT_EQ(body.substr(eol + 2 + size, 2), "\r\n");
    body.remove_prefix(eol + 4 + size);
  }
}

std::pair<std::string, std::string> split_head(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  return {response.substr(0, end + 4), response.substr(end + 4)};
}

rapidjson::Document json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

TEST(wire, frames_chunks_and_heads) {
  EXPECT_EQ(format_chunk(std::string(26, 'a')), "1a\r\n" + std::string(26, 'a') + "\r\n");
  EXPECT_EQ(sse_event("{}"), "data: {}\n\n");
  std::string head = format_head(response_head{404, json_content_type, 12, false, false});
  EXPECT_EQ(head.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(head.find("Content-Length: 12\r\n"), std::string::npos);
  EXPECT_NE(head.find("Connection: close\r\n\r\n"), std::string::npos);
  std::string stream = format_head(response_head{200, sse_content_type, std::nullopt, true, true});
  EXPECT_NE(stream.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(stream.find("Content-Length"), std::string::npos);
}

TEST(completion_responder, non_streaming_accumulates_into_one_completion) {
  completion_responder r(meta, responder_options{});
  EXPECT_EQ(r.on_event(text_event("Hello", 1)), "");
  EXPECT_FALSE(r.done());
  std::string response = r.on_event(final_event(" world", 2, "length"));
  ASSERT_TRUE(r.done());
  EXPECT_EQ(r.status(), 200);
  EXPECT_TRUE(r.keep_alive());
  auto [head, body] = split_head(response);
  EXPECT_NE(head.find("Content-Length: " + std::to_string(body.size())), std::string::npos);
  rapidjson::Document doc = json(body);
  EXPECT_STREQ(doc["id"].GetString(), "cmpl-0123");
  EXPECT_STREQ(doc["object"].GetString(), "text_completion");
  EXPECT_EQ(doc["created"].GetInt64(), 1700000000);
  EXPECT_STREQ(doc["model"].GetString(), "smollm");
  const auto& choice = doc["choices"][0];
  EXPECT_EQ(choice["index"].GetInt(), 0);
  EXPECT_STREQ(choice["text"].GetString(), "Hello world");
  EXPECT_TRUE(choice["logprobs"].IsNull());
  EXPECT_STREQ(choice["finish_reason"].GetString(), "length");
  EXPECT_TRUE(choice["stop_reason"].IsNull());
  EXPECT_TRUE(choice["prompt_logprobs"].IsNull());
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 4);
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 2);
  EXPECT_EQ(doc["usage"]["total_tokens"].GetInt(), 6);
  EXPECT_TRUE(doc["usage"]["prompt_tokens_details"].IsNull());
  EXPECT_EQ(r.on_event(final_event("late", 3, "stop")), "");  // ignored after the end
}

TEST(completion_responder, streaming_sends_a_chunk_per_event_usage_and_done) {
  completion_responder r(meta, responder_options{.stream = true, .include_usage = true});
  std::string bytes = r.on_event(text_event("He", 1));
  bytes += r.on_event(text_event("", 1));  // no new text: nothing to send
  bytes += r.on_event(final_event("llo", 2, "stop"));
  ASSERT_TRUE(r.done());
  auto [head, body] = split_head(bytes);
  EXPECT_NE(head.find("text/event-stream"), std::string::npos);
  std::vector<std::string> chunks = dechunk(body);
  ASSERT_EQ(chunks.size(), 4u);
  rapidjson::Document first = json(chunks[0].substr(6));
  EXPECT_STREQ(first["choices"][0]["text"].GetString(), "He");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].IsNull());
  EXPECT_FALSE(first.HasMember("usage"));  // vLLM 0.32: no "usage": null on chunks
  rapidjson::Document last = json(chunks[1].substr(6));
  EXPECT_STREQ(last["choices"][0]["text"].GetString(), "llo");
  EXPECT_STREQ(last["choices"][0]["finish_reason"].GetString(), "stop");
  rapidjson::Document usage = json(chunks[2].substr(6));
  EXPECT_EQ(usage["choices"].Size(), 0u);
  EXPECT_EQ(usage["usage"]["completion_tokens"].GetInt(), 2);
  EXPECT_EQ(chunks[3], "data: [DONE]\n\n");
}

TEST(completion_responder, first_error_is_a_json_error_not_a_stream) {
  completion_responder r(meta, responder_options{.stream = true});
  std::string response = r.on_event(error_event(400, "prompt is too long"));
  ASSERT_TRUE(r.done());
  EXPECT_EQ(r.status(), 400);
  auto [head, body] = split_head(response);
  EXPECT_EQ(head.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(head.find("application/json"), std::string::npos);
  rapidjson::Document doc = json(body);
  EXPECT_STREQ(doc["error"]["message"].GetString(), "prompt is too long");
  EXPECT_STREQ(doc["error"]["type"].GetString(), "BadRequestError");
  EXPECT_TRUE(doc["error"]["param"].IsNull());
  EXPECT_EQ(doc["error"]["code"].GetInt(), 400);
}

TEST(completion_responder, error_after_start_is_an_error_event_then_done) {
  completion_responder r(meta, responder_options{.stream = true});
  std::string bytes = r.on_event(text_event("a", 1));
  bytes += r.on_event(error_event(503, "shutting down"));
  ASSERT_TRUE(r.done());
  EXPECT_EQ(r.status(), 200);
  std::vector<std::string> chunks = dechunk(split_head(bytes).second);
  ASSERT_EQ(chunks.size(), 3u);
  rapidjson::Document error = json(chunks[1].substr(6));
  EXPECT_EQ(error["error"]["code"].GetInt(), 503);
  EXPECT_STREQ(error["error"]["type"].GetString(), "ServiceUnavailableError");
  EXPECT_EQ(chunks[2], "data: [DONE]\n\n");
}

TEST(completion_responder, http10_stream_is_unframed_and_closes) {
  completion_responder r(meta, responder_options{.stream = true, .chunked = false});
  std::string bytes = r.on_event(final_event("x", 1, "length"));
  EXPECT_FALSE(r.keep_alive());
  auto [head, body] = split_head(bytes);
  EXPECT_NE(head.find("Connection: close"), std::string::npos);
  EXPECT_EQ(body.rfind("data: {", 0), 0u);
  EXPECT_NE(body.find("\n\ndata: [DONE]\n\n"), std::string::npos);
}

// -- prompt_tokens_details (--enable-prompt-tokens-details) --

actors::generation_event cached(actors::generation_event e, int32_t num_cached, int32_t index = 0) {
  e.num_cached_tokens = num_cached;
  e.index = index;
  return e;
}

// The usage object of a non-streaming response to `events`.
rapidjson::Document complete_usage(responder_options options,
                                   const std::vector<actors::generation_event>& events) {
  completion_responder r(meta, options);
  std::string response;
  for (const auto& e : events)
    response += r.on_event(e);
  EXPECT_TRUE(r.done());
  rapidjson::Document doc = json(split_head(response).second);
  rapidjson::Document usage;
  usage.CopyFrom(doc["usage"], usage.GetAllocator());
  return usage;
}

TEST(completion_responder, cached_tokens_are_reported_only_when_enabled_and_non_zero) {
  const responder_options on{.prompt_tokens_details = true};
  // The engine reports the count once the request is scheduled: 0 on events before that.
  auto usage = complete_usage(on, {cached(text_event("a", 1), 0), cached(text_event("b", 2), 3),
                                   cached(final_event("c", 3, "stop"), 3)});
  ASSERT_TRUE(usage["prompt_tokens_details"].IsObject());
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"].GetInt(), 3);
  EXPECT_EQ(usage["prompt_tokens_details"].MemberCount(), 1u);
  EXPECT_EQ(usage["prompt_tokens"].GetInt(), 4);

  EXPECT_TRUE(complete_usage(on, {cached(final_event("x", 1, "stop"), 0)})["prompt_tokens_details"]
                  .IsNull());
  const responder_options off;
  EXPECT_TRUE(complete_usage(off, {cached(final_event("x", 1, "stop"), 3)})["prompt_tokens_details"]
                  .IsNull());
}

TEST(completion_responder, with_n_choices_the_first_reported_count_wins) {
  const responder_options on{.n = 2, .prompt_tokens_details = true};
  auto usage = complete_usage(
      on, {cached(text_event("a", 1), 2, 1), cached(text_event("b", 1), 5),
           cached(final_event("c", 2, "stop"), 5), cached(final_event("d", 2, "stop"), 2, 1)});
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"].GetInt(), 2);
  EXPECT_EQ(usage["completion_tokens"].GetInt(), 4);
}

TEST(completion_responder, stream_usage_chunk_reports_cached_tokens) {
  auto usage_chunk = [](responder_options options, int32_t num_cached) {
    options.stream = options.include_usage = true;
    completion_responder r(meta, options);
    std::string bytes = r.on_event(cached(text_event("a", 1), num_cached));
    bytes += r.on_event(cached(final_event("b", 2, "stop"), num_cached));
    std::vector<std::string> chunks = dechunk(split_head(bytes).second);
    EXPECT_EQ(chunks.size(), 4u);
    EXPECT_TRUE(json(chunks[0].substr(6))["usage"].IsNull());  // per-chunk usage stays null
    return chunks.size() == 4u ? chunks[2] : std::string();
  };
  const responder_options on{.prompt_tokens_details = true};
  auto usage = json(usage_chunk(on, 3).substr(6));
  EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 3);
  EXPECT_TRUE(json(usage_chunk(on, 0).substr(6))["usage"]["prompt_tokens_details"].IsNull());
  EXPECT_TRUE(json(usage_chunk(responder_options{}, 3).substr(6))["usage"]["prompt_tokens_details"]
                  .IsNull());
}

// -- per-request metrics (--enable-per-request-metrics; http/request_metrics.hpp has the rules) --

// The engine's intervals: queue 2 ms, prefill 500 ms, decode 500 ms (ttft and e2e are troupe's
// arrival-based intervals, which vLLM's metrics do not use).
actors::generation_event timed(actors::generation_event e) {
  e.timing = actors::request_timing{
      .queue = 0.002, .prefill = 0.5, .decode = 0.5, .inference = 1.0, .ttft = 9, .e2e = 9};
  return e;
}

// The SSE payloads of a stream of `events` ("data: " and the blank line stripped).
std::vector<std::string> stream_payloads(responder_options options,
                                         const std::vector<actors::generation_event>& events) {
  options.stream = true;
  completion_responder r(meta, options);
  std::string bytes;
  for (const auto& e : events)
    bytes += r.on_event(e);
  EXPECT_TRUE(r.done());
  std::vector<std::string> payloads;
  for (const auto& chunk : dechunk(split_head(bytes).second))
    payloads.push_back(chunk.substr(6, chunk.size() - 8));
  return payloads;
}

TEST(completion_responder, metrics_end_the_body_counting_the_usages_tokens) {
  completion_responder r(meta, responder_options{.request_metrics = true});
  EXPECT_EQ(r.on_event(text_event("a", 1)), "");
  EXPECT_EQ(r.on_event(text_event("b", 2)), "");
  const std::string body = split_head(r.on_event(timed(final_event("c", 3, "stop")))).second;
  EXPECT_EQ(body.substr(body.find(R"(,"metrics")")),
            R"(,"metrics":{"time_to_first_token_ms":500.0,"generation_time_ms":500.0,)"
            R"("queue_time_ms":2.0,"mean_itl_ms":250.0,"tokens_per_second":3.0}})");

  completion_responder off(meta, responder_options{});  // vLLM 0.32: null, flag or not
  EXPECT_TRUE(json(split_head(off.on_event(timed(final_event("c", 3, "stop")))).second)["metrics"]
                  .IsNull());
}

TEST(completion_responder, metrics_are_null_in_the_body_of_n_choices) {
  completion_responder r(meta, responder_options{.n = 2, .request_metrics = true});
  EXPECT_EQ(r.on_event(timed(cached(final_event("a", 1, "stop"), 0, 1))), "");
  auto doc = json(split_head(r.on_event(timed(final_event("b", 1, "stop")))).second);
  ASSERT_TRUE(doc.HasMember("metrics"));
  EXPECT_TRUE(doc["metrics"].IsNull());
}

TEST(completion_responder, metrics_ride_only_on_a_streams_usage_chunk_without_nulls) {
  responder_options on{.request_metrics = true};
  const std::vector<actors::generation_event> events = {text_event("a", 1),
                                                        timed(final_event("b", 2, "length"))};
  for (const auto& p : stream_payloads(on, events))  // no usage chunk: no metrics
    EXPECT_EQ(p.find("metrics"), std::string::npos) << p;

  on.include_usage = true;
  auto payloads = stream_payloads(on, events);
  ASSERT_EQ(payloads.size(), 4u);  // a, b, usage, [DONE]
  EXPECT_EQ(payloads[0].find("metrics"), std::string::npos);
  EXPECT_EQ(payloads[1].find("metrics"), std::string::npos);
  EXPECT_EQ(payloads[2].substr(payloads[2].find(R"("usage")")),
            R"("usage":{"prompt_tokens":4,"total_tokens":6,"completion_tokens":2},)"
            R"("metrics":{"time_to_first_token_ms":500.0,)"
            R"("generation_time_ms":500.0,"queue_time_ms":2.0,"mean_itl_ms":500.0,)"
            R"("tokens_per_second":2.0}})");

  // One token: no mean ITL, so no member for it.
  payloads = stream_payloads(on, {timed(final_event("a", 1, "stop"))});
  ASSERT_EQ(payloads.size(), 3u);
  const auto metrics = json(payloads[1])["metrics"].GetObject();
  EXPECT_EQ(metrics.MemberCount(), 4u);
  EXPECT_FALSE(metrics.HasMember("mean_itl_ms"));
  // Untimed (nothing known): an empty object, as vLLM's exclude_none leaves it.
  payloads = stream_payloads(on, {final_event("a", 1, "stop")});
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_EQ(payloads[1].substr(payloads[1].find(R"("metrics")")), R"("metrics":{}})");
}

TEST(completion_responder, a_stream_of_n_choices_has_no_metrics) {
  const responder_options on{.include_usage = true, .n = 2, .request_metrics = true};
  for (const auto& p : stream_payloads(on, {timed(cached(final_event("a", 1, "stop"), 0, 1)),
                                            timed(final_event("b", 1, "stop"))}))
    EXPECT_EQ(p.find("metrics"), std::string::npos) << p;
}

actors::generation_event ids_event(std::vector<int32_t> ids, int32_t num_output) {
  actors::generation_event e = text_event(std::string(ids.size(), 'x'), num_output);
  e.token_ids = std::move(ids);
  return e;
}

// vLLM's return_token_ids: the choice's generated ids and the prompt's, from the first event.
TEST(completion_responder, return_token_ids_lists_the_choices_and_the_prompts_ids) {
  completion_responder r(meta, responder_options{.return_token_ids = true});
  auto first = ids_event({7, 8}, 2);
  first.prompt_token_ids = {1, 2, 3};
  EXPECT_EQ(r.on_event(first), "");
  auto last = ids_event({9}, 3);
  last.finished = true;
  last.finish_reason = "length";
  const auto doc = json(split_head(r.on_event(last)).second);
  const auto& choice = doc["choices"][0];
  ASSERT_TRUE(choice["token_ids"].IsArray());
  EXPECT_EQ(choice["token_ids"].Size(), 3u);
  EXPECT_EQ(choice["token_ids"][2].GetInt(), 9);
  ASSERT_EQ(choice["prompt_token_ids"].Size(), 3u);
  EXPECT_EQ(choice["prompt_token_ids"][0].GetInt(), 1);
  EXPECT_TRUE(choice["prompt_logprobs"].IsNull());  // ids alone are not prompt logprobs

  completion_responder off(meta, responder_options{});
  const auto plain = json(split_head(off.on_event(last)).second);
  EXPECT_TRUE(plain["choices"][0]["token_ids"].IsNull());
  EXPECT_TRUE(plain["choices"][0]["prompt_token_ids"].IsNull());
}

TEST(completion_responder, a_stream_sends_each_events_ids_and_the_prompts_once) {
  completion_responder r(meta, responder_options{.stream = true, .return_token_ids = true});
  auto first = ids_event({7}, 1);
  first.prompt_token_ids = {1, 2};
  std::string bytes = r.on_event(first);
  auto held = ids_event({8}, 2);
  held.text.clear();  // held back (a possible stop string): the chunk still goes out
  bytes += r.on_event(held);
  auto last = ids_event({9}, 3);
  last.finished = true;
  last.finish_reason = "stop";
  bytes += r.on_event(last);
  const auto chunks = dechunk(split_head(bytes).second);
  ASSERT_EQ(chunks.size(), 4u);  // three chunks and [DONE]
  const auto a = json(chunks[0].substr(6));
  EXPECT_EQ(a["choices"][0]["prompt_token_ids"].Size(), 2u);
  EXPECT_EQ(a["choices"][0]["token_ids"][0].GetInt(), 7);
  const auto b = json(chunks[1].substr(6));
  EXPECT_STREQ(b["choices"][0]["text"].GetString(), "");
  EXPECT_TRUE(b["choices"][0]["prompt_token_ids"].IsNull());
  EXPECT_EQ(b["choices"][0]["token_ids"][0].GetInt(), 8);
  EXPECT_FALSE(b.HasMember("system_fingerprint"));
}

TEST(completion_responder, the_fingerprint_is_in_bodies_and_on_a_streams_last_chunk) {
  completion_meta stamped = meta;
  stamped.system_fingerprint = "troupe-1-abcdef01";
  completion_responder whole(stamped, responder_options{});
  const auto doc = json(split_head(whole.on_event(final_event("a", 1, "stop"))).second);
  EXPECT_STREQ(doc["system_fingerprint"].GetString(), "troupe-1-abcdef01");
  EXPECT_TRUE(json(split_head(completion_responder(meta, responder_options{})
                                  .on_event(final_event("a", 1, "stop")))
                       .second)["system_fingerprint"]
                  .IsNull());

  for (bool usage : {false, true}) {
    completion_responder r(stamped, responder_options{.stream = true, .include_usage = usage});
    std::string bytes = r.on_event(text_event("a", 1));
    bytes += r.on_event(final_event("b", 2, "stop"));
    const auto chunks = dechunk(split_head(bytes).second);
    ASSERT_EQ(chunks.size(), usage ? 4u : 3u);
    EXPECT_FALSE(json(chunks[0].substr(6)).HasMember("system_fingerprint"));
    // The usage chunk, when there is one, is the last: it carries the fingerprint instead.
    EXPECT_EQ(json(chunks[1].substr(6)).HasMember("system_fingerprint"), !usage);
    if (usage) EXPECT_TRUE(json(chunks[2].substr(6)).HasMember("system_fingerprint"));
  }
}

// A batch of two prompts with n = 2: prompt p's choices are p * 2 and p * 2 + 1, each echoes its
// own prompt, and the usage adds up the prompts' tokens (each prompt's choices report its count).
TEST(completion_responder, a_batch_numbers_choices_by_prompt_and_sums_the_prompts) {
  responder_options options{.n = 2, .num_prompts = 2, .echo = true};
  options.echo_texts = {"P0:", "P1:"};
  completion_responder r(meta, options);
  for (int32_t index : {3, 0, 2, 1}) {
    auto e = final_event("x", 1, "length");
    e.index = index;
    e.num_prompt_tokens = index < 2 ? 4 : 6;
    r.on_event(e);
  }
  ASSERT_TRUE(r.done());
  EXPECT_EQ(r.usage().prompt_tokens, 4 + 6);
  EXPECT_EQ(r.usage().completion_tokens, 4);
}

TEST(completion_responder, a_batchs_body_lists_every_choice_in_order) {
  responder_options options{.num_prompts = 3, .echo = true, .request_metrics = true};
  options.echo_texts = {"a", "b", "c"};
  completion_responder r(meta, options);
  std::string response;
  for (int32_t index : {2, 0, 1}) {
    auto e = timed(final_event("!", 1, "stop"));
    e.index = index;
    response = r.on_event(e);
  }
  const auto doc = json(split_head(response).second);
  ASSERT_EQ(doc["choices"].Size(), 3u);
  EXPECT_STREQ(doc["choices"][0]["text"].GetString(), "a!");
  EXPECT_STREQ(doc["choices"][2]["text"].GetString(), "c!");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3 * 4);
  EXPECT_TRUE(doc["metrics"].IsNull());  // vLLM: one request's timing would not be the batch's
}

// stream_options.continuous_usage_stats: every chunk carries its choice's usage so far, the
// choice's prompt included (vLLM: no details), and the usage chunk still ends the stream.
TEST(completion_responder, continuous_usage_rides_on_every_chunk) {
  completion_responder r(
      meta,
      responder_options{.stream = true, .include_usage = true, .n = 2, .continuous_usage = true});
  auto a = text_event("a", 1);
  std::string bytes = r.on_event(a);
  auto b = final_event("b", 3, "length");
  b.index = 1;
  bytes += r.on_event(b);
  a = final_event("c", 2, "stop");
  bytes += r.on_event(a);
  const auto chunks = dechunk(split_head(bytes).second);
  ASSERT_EQ(chunks.size(), 5u);  // three chunks, the usage chunk, [DONE]
  const auto first = json(chunks[0].substr(6));
  EXPECT_EQ(first["usage"]["prompt_tokens"].GetInt(), 4);
  EXPECT_EQ(first["usage"]["completion_tokens"].GetInt(), 1);
  EXPECT_EQ(first["usage"]["total_tokens"].GetInt(), 5);
  EXPECT_FALSE(first["usage"].HasMember("prompt_tokens_details"));
  EXPECT_EQ(json(chunks[1].substr(6))["usage"]["completion_tokens"].GetInt(), 3);  // choice 1
  EXPECT_EQ(json(chunks[2].substr(6))["usage"]["completion_tokens"].GetInt(), 2);  // choice 0
  EXPECT_EQ(json(chunks[3].substr(6))["usage"]["completion_tokens"].GetInt(), 5);  // all
}

}  // namespace
}  // namespace troupe::http
