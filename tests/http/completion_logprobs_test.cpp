// The completions responder with logprobs, stop reasons and n > 1 choices: vLLM's shapes.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "http/completion_responder.hpp"
#include "http/openai_json.hpp"
#include "http/wire.hpp"
#include "tests/http/fake_engine.hpp"

namespace troupe::http {
namespace {

const completion_meta meta{"cmpl-1", 1700000000, "smollm"};
const testing::byte_tokenizer tokenizer;

actors::generation_event event(int32_t index, std::string text, std::vector<int32_t> ids,
                               int32_t num_output) {
  actors::generation_event e;
  e.index = index;
  e.text = std::move(text);
  for (int32_t id : ids) {
    e.logprobs.push_back({id, -0.25f * float(id % 4), {{'z', -0.1f}, {id, -0.2f}, {'y', -0.3f}}});
  }
  e.token_ids = std::move(ids);
  e.num_prompt_tokens = 3;
  e.num_output_tokens = num_output;
  return e;
}

actors::generation_event last(actors::generation_event e, std::string reason) {
  e.finished = true;
  e.finish_reason = std::move(reason);
  return e;
}

rapidjson::Document body_json(const std::string& response) {
  rapidjson::Document doc;
  doc.Parse(response.substr(response.find("\r\n\r\n") + 4).c_str());
  EXPECT_FALSE(doc.HasParseError()) << response;
  return doc;
}

responder_options options_with(int32_t logprobs, int32_t n = 1, bool stream = false) {
  responder_options o;
  o.stream = stream;
  o.chunked = false;  // plain SSE text, easy to split
  o.n = n;
  o.logprobs = logprobs;
  o.tokenizer = &tokenizer;
  return o;
}

TEST(completion_logprobs, token_texts_offsets_and_top_entries) {
  completion_logprobs lp;
  const std::vector<actors::token_logprob> tokens = {
      {'a', -0.5f, {{'a', -0.5f}, {'b', -1.0f}}},  // sampled token is the most likely
      {'c', -std::numeric_limits<float>::infinity(), {{'a', -0.1f}, {'b', -0.2f}}},
  };
  append_completion_logprobs(lp, tokens, tokenizer, 2, 5);
  EXPECT_EQ(lp.tokens, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(lp.text_offset, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(lp.token_logprobs[0], -0.5f);
  using entries = std::vector<std::pair<std::string, float>>;
  EXPECT_EQ(lp.top_logprobs[0], (entries{{"a", -0.5f}, {"b", -1.0f}}));  // N entries
  EXPECT_EQ(lp.top_logprobs[1]->size(), 3u);                             // sampled + N
  EXPECT_EQ((*lp.top_logprobs[1])[0].first, "c");
  completion_logprobs only_sampled;
  append_completion_logprobs(only_sampled, tokens, tokenizer, 0, 0);
  EXPECT_EQ(only_sampled.top_logprobs[1], (entries{{"c", *lp.token_logprobs[1]}}));
  EXPECT_EQ(num_characters("h\xC3\xA9\xE2\x82\xAC"), 3);
  // Two tokens of one text (here ids the byte tokenizer reads as "", as a real one reads byte
  // tokens of an incomplete character as U+FFFD) are one entry, at the first's place with the
  // last's logprob (vLLM's dict).
  completion_logprobs same_text;
  const std::vector<actors::token_logprob> partial = {{'x', -0.5f, {{256, -1.0f}, {300, -2.0f}}}};
  append_completion_logprobs(same_text, partial, tokenizer, 2, 0);
  EXPECT_EQ(same_text.top_logprobs[0], (entries{{"x", -0.5f}, {"", -2.0f}}));
}

// A beam search's token: its round's whole dictionary, of which vLLM shows the first N + 1
// entries as they are (here the sampled 'a' leads, the beam took 'c').
TEST(completion_logprobs, a_beam_search_token_shows_its_rounds_dictionary_as_it_is) {
  actors::token_logprob beam_token{'c', -1.5f, {{'a', -0.5f}, {'c', -1.5f}, {'d', -2.0f}}};
  beam_token.whole_dictionary = true;
  const std::vector<actors::token_logprob> tokens = {beam_token};
  using entries = std::vector<std::pair<std::string, float>>;
  completion_logprobs one;
  append_completion_logprobs(one, tokens, tokenizer, 1, 0);
  EXPECT_EQ(one.tokens, (std::vector<std::string>{"c"}));
  EXPECT_EQ(one.token_logprobs[0], -1.5f);
  EXPECT_EQ(one.top_logprobs[0], (entries{{"a", -0.5f}, {"c", -1.5f}}));
  completion_logprobs none;
  append_completion_logprobs(none, tokens, tokenizer, 0, 0);
  EXPECT_EQ(none.top_logprobs[0], (entries{{"a", -0.5f}}));
}

TEST(completion_logprobs, json_completion_has_the_logprobs_object_and_stop_reason) {
  completion_responder r(meta, options_with(1));
  EXPECT_EQ(r.on_event(event(0, "ab", {'a', 'b'}, 2)), "");
  auto e = last(event(0, "c", {'c', 7}, 4), "stop");
  e.stop_token_id = 7;
  const auto doc = body_json(r.on_event(e));
  const auto& choice = doc["choices"][0];
  EXPECT_EQ(std::string(choice["text"].GetString()), "abc");
  EXPECT_EQ(choice["stop_reason"].GetInt(), 7);
  const auto& lp = choice["logprobs"];
  ASSERT_TRUE(lp.IsObject());
  std::vector<std::string> keys;
  for (const auto& m : lp.GetObject())
    keys.emplace_back(m.name.GetString());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"text_offset", "token_logprobs", "tokens", "top_logprobs"}));
  ASSERT_EQ(lp["tokens"].Size(), 4u);
  EXPECT_EQ(std::string(lp["tokens"][2].GetString()), "c");
  EXPECT_EQ(lp["text_offset"][3].GetInt(), 3);
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][1].GetDouble(), -0.25 * ('b' % 4));
  // Sampled 'a' then the top-1 'z'.
  const auto& top0 = lp["top_logprobs"][0];
  EXPECT_EQ(top0.MemberCount(), 2u);
  EXPECT_TRUE(top0.HasMember("a") && top0.HasMember("z"));
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 4);
}

TEST(completion_logprobs, no_logprobs_is_null_and_stop_string_is_the_reason) {
  completion_responder r(meta, options_with(-1));
  auto e = last(event(0, "x", {'x'}, 1), "stop");
  e.stop_string = "\n\n";
  const auto doc = body_json(r.on_event(e));
  EXPECT_TRUE(doc["choices"][0]["logprobs"].IsNull());
  EXPECT_EQ(std::string(doc["choices"][0]["stop_reason"].GetString()), "\n\n");
}

TEST(completion_logprobs, n_choices_are_aggregated_by_index) {
  completion_responder r(meta, options_with(-1, 2));
  EXPECT_EQ(r.on_event(event(1, "B", {'B'}, 1)), "");
  EXPECT_EQ(r.on_event(event(0, "a", {'a'}, 1)), "");
  EXPECT_EQ(r.on_event(last(event(1, "b", {'b'}, 2), "length")), "");
  EXPECT_FALSE(r.done());
  const auto doc = body_json(r.on_event(last(event(0, "", {0}, 2), "stop")));
  ASSERT_EQ(doc["choices"].Size(), 2u);
  EXPECT_EQ(doc["choices"][0]["index"].GetInt(), 0);
  EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()), "a");
  EXPECT_EQ(std::string(doc["choices"][0]["finish_reason"].GetString()), "stop");
  EXPECT_EQ(std::string(doc["choices"][1]["text"].GetString()), "Bb");
  EXPECT_EQ(std::string(doc["choices"][1]["finish_reason"].GetString()), "length");
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 4);
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 3);
}

std::vector<rapidjson::Document> chunks_of(const std::string& sse) {
  std::vector<rapidjson::Document> docs;
  size_t at = 0;
  while ((at = sse.find("data: ", at)) != std::string::npos) {
    const size_t end = sse.find("\n\n", at);
    const std::string payload = sse.substr(at + 6, end - at - 6);
    at = end;
    if (payload == "[DONE]") break;
    docs.emplace_back().Parse(payload.c_str());
  }
  return docs;
}

TEST(completion_logprobs, stream_chunks_carry_index_logprobs_and_offsets) {
  completion_responder r(meta, options_with(0, 2, true));
  std::string sse = r.on_event(event(0, "ab", {'a', 'b'}, 2));
  sse += r.on_event(event(1, "", {'q'}, 1));  // text held back: the chunk still goes out
  sse += r.on_event(last(event(0, "c", {'c'}, 3), "length"));
  EXPECT_FALSE(r.done());
  sse += r.on_event(last(event(1, "qr", {'r'}, 2), "length"));
  EXPECT_TRUE(r.done());
  EXPECT_NE(sse.find("data: [DONE]"), std::string::npos);
  const auto chunks = chunks_of(sse);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[1]["choices"][0]["index"].GetInt(), 1);
  EXPECT_EQ(std::string(chunks[1]["choices"][0]["text"].GetString()), "");
  const auto& lp = chunks[2]["choices"][0]["logprobs"];
  EXPECT_EQ(lp["text_offset"][0].GetInt(), 2);  // after the "ab" already sent for choice 0
  EXPECT_EQ(lp["top_logprobs"][0].MemberCount(), 1u);
  // After the "q" reported, its text still held back (vLLM 0.32 counts the tokens' texts).
  EXPECT_EQ(chunks[3]["choices"][0]["logprobs"]["text_offset"][0].GetInt(), 1);
  EXPECT_TRUE(chunks[0]["choices"][0]["finish_reason"].IsNull());
  EXPECT_EQ(std::string(chunks[3]["choices"][0]["finish_reason"].GetString()), "length");
}

}  // namespace
}  // namespace troupe::http
