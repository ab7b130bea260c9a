// Prompt logprobs and echo in the completions and chat responses: vLLM's prompt_logprobs list
// (null, then {id: {logprob, rank, decoded_token}} per prompt token) and echo's prompt-first
// text and logprobs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "http/chat_responder.hpp"
#include "http/completion_responder.hpp"
#include "http/openai_json.hpp"
#include "tests/http/fake_engine.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http {
namespace {

const completion_meta meta{"cmpl-1", 1700000000, "smollm"};
const testing::byte_tokenizer tokenizer;

// A 3-token prompt "abc": b after a at -1.5 (rank 4, top 'x' then 'b'), c after ab at -0.5
// (rank 1, the top itself).
actors::generation_event first_event(std::string text, int32_t token) {
  actors::generation_event e;
  e.text = std::move(text);
  e.token_ids = {token};
  e.logprobs = {{token, -0.75f, {{'q', -0.25f}}}};
  e.num_prompt_tokens = 3;
  e.num_output_tokens = 1;
  e.prompt_token_ids = {'a', 'b', 'c'};
  e.prompt_logprobs = {{'b', -1.5f, {{'x', -0.5f}, {'b', -1.5f}}, 4},
                       {'c', -0.5f, {{'c', -0.5f}, {'y', -2.0f}}, 1}};
  e.finished = true;
  e.finish_reason = "length";
  return e;
}

// The JSON body of a whole response.
rapidjson::Document body_json(const std::string& response) {
  return testing::parse_json(std::string_view(response).substr(response.find("\r\n\r\n") + 4));
}

responder_options options(int32_t logprobs) {
  responder_options o;
  o.chunked = false;
  o.logprobs = logprobs;
  o.tokenizer = &tokenizer;
  o.prompt_logprobs = true;
  return o;
}

// Echo of the prompt "abc".
responder_options echo_options(int32_t logprobs, bool echo_only = false, bool stream = false) {
  responder_options o = options(logprobs);
  o.echo = true;
  o.echo_only = echo_only;
  o.stream = stream;
  o.echo_texts = {"abc"};
  return o;
}

TEST(prompt_logprobs_json, the_list_starts_null_and_keys_each_id_once_prompt_token_first) {
  const auto list = make_prompt_logprobs(std::vector<int32_t>{'a', 'b', 'c'},
                                         first_event("", 'd').prompt_logprobs, tokenizer);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_FALSE(list[0].has_value());
  ASSERT_EQ(list[1]->size(), 2u);
  EXPECT_EQ((*list[1])[0].token_id, 'b');
  EXPECT_EQ((*list[1])[0].rank, 2);  // listed as the second best: vLLM's dict keeps that rank
  EXPECT_EQ((*list[1])[0].decoded_token, "b");
  EXPECT_EQ((*list[1])[1].token_id, 'x');
  EXPECT_EQ((*list[1])[1].rank, 1);
  ASSERT_EQ(list[2]->size(), 2u);
  EXPECT_EQ((*list[2])[0].rank, 1);
  EXPECT_EQ((*list[2])[1].token_id, 'y');
  EXPECT_EQ((*list[2])[1].rank, 2);
}

TEST(prompt_logprobs_json, a_completion_choice_carries_them) {
  completion_responder r(meta, options(-1));
  const auto doc = body_json(r.on_event(first_event("d", 'd')));
  const auto& plp = doc["choices"][0]["prompt_logprobs"];
  ASSERT_TRUE(plp.IsArray());
  ASSERT_EQ(plp.Size(), 3u);
  EXPECT_TRUE(plp[0].IsNull());
  const auto& b = plp[1][std::to_string('b').c_str()];
  EXPECT_DOUBLE_EQ(b["logprob"].GetDouble(), -1.5);
  EXPECT_EQ(b["rank"].GetInt(), 2);
  EXPECT_EQ(std::string(b["decoded_token"].GetString()), "b");
  EXPECT_EQ(std::string(plp[1].MemberBegin()->name.GetString()), std::to_string('b'));
  EXPECT_TRUE(doc["choices"][0]["logprobs"].IsNull());
  EXPECT_EQ(std::string(doc["choices"][0]["text"].GetString()), "d");
}

TEST(prompt_logprobs_json, echo_puts_the_prompt_first_its_first_token_null) {
  completion_responder r(meta, echo_options(1));
  const auto doc = body_json(r.on_event(first_event("d", 'd')));
  const auto& choice = doc["choices"][0];
  EXPECT_EQ(std::string(choice["text"].GetString()), "abcd");
  const auto& lp = choice["logprobs"];
  ASSERT_EQ(lp["tokens"].Size(), 4u);
  EXPECT_EQ(std::string(lp["tokens"][0].GetString()), "a");
  EXPECT_TRUE(lp["token_logprobs"][0].IsNull());
  EXPECT_TRUE(lp["top_logprobs"][0].IsNull());
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][1].GetDouble(), -1.5);
  EXPECT_EQ(lp["top_logprobs"][1].MemberCount(), 2u);  // b and the top-1 x
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][3].GetDouble(), -0.75);
  EXPECT_EQ(lp["text_offset"][3].GetInt(), 3);
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 1);
}

TEST(prompt_logprobs_json, echo_of_zero_tokens_leaves_the_generated_one_out) {
  completion_responder r(meta, echo_options(1, /*echo_only=*/true));
  const auto doc = body_json(r.on_event(first_event("d", 'd')));
  const auto& choice = doc["choices"][0];
  EXPECT_EQ(std::string(choice["text"].GetString()), "abc");
  EXPECT_EQ(choice["logprobs"]["tokens"].Size(), 3u);
  // As vLLM, usage counts the token it generated.
  EXPECT_EQ(doc["usage"]["completion_tokens"].GetInt(), 1);
}

TEST(prompt_logprobs_json, a_stream_echoes_the_prompt_in_its_first_chunk) {
  completion_responder r(meta, echo_options(0, false, /*stream=*/true));
  const std::string response = r.on_event(first_event("d", 'd'));
  const auto payloads =
      testing::sse_payloads(std::string_view(response).substr(response.find("\r\n\r\n") + 4));
  ASSERT_GE(payloads.size(), 2u);  // the chunk, then [DONE]
  const auto chunk = testing::parse_json(payloads[0]);
  const auto& choice = chunk["choices"][0];
  EXPECT_EQ(std::string(choice["text"].GetString()), "abcd");
  EXPECT_EQ(choice["logprobs"]["tokens"].Size(), 4u);
  EXPECT_FALSE(choice.HasMember("prompt_logprobs"));
}

TEST(prompt_logprobs_json, a_chat_completion_has_them_at_the_top_level) {
  chat_responder_options o;
  o.response.chunked = false;
  o.logprobs = {&tokenizer, -1};
  o.prompt_logprobs = true;
  chat_responder r(meta, o);
  const auto doc = body_json(r.on_event(first_event("d", 'd')));
  ASSERT_TRUE(doc["prompt_logprobs"].IsArray());
  EXPECT_EQ(doc["prompt_logprobs"].Size(), 3u);
  EXPECT_TRUE(doc["prompt_logprobs"][0].IsNull());
  EXPECT_EQ(doc["prompt_logprobs"][2][std::to_string('c').c_str()]["rank"].GetInt(), 1);
}

TEST(prompt_logprobs_json, a_chat_echo_starts_every_choice_with_the_last_message) {
  chat_responder_options o;
  o.response.chunked = false;
  o.num_choices = 2;
  o.logprobs = {&tokenizer, 0};
  o.echo_text = "The answer is";
  chat_responder r(meta, o);
  auto e = first_event(" 4", '4');
  e.prompt_token_ids.clear();
  e.prompt_logprobs.clear();
  EXPECT_EQ(r.on_event(e), "");
  e.index = 1;
  e.text = " 5";
  const auto doc = body_json(r.on_event(e));
  EXPECT_EQ(std::string(doc["choices"][0]["message"]["content"].GetString()), "The answer is 4");
  EXPECT_EQ(std::string(doc["choices"][1]["message"]["content"].GetString()), "The answer is 5");
  // The logprobs are the generated tokens' only.
  EXPECT_EQ(doc["choices"][0]["logprobs"]["content"].Size(), 1u);

  o.response.stream = true;
  o.num_choices = 1;
  chat_responder streamed(meta, o);
  e.index = 0;
  const std::string response = streamed.on_event(e);
  const auto payloads =
      testing::sse_payloads(std::string_view(response).substr(response.find("\r\n\r\n") + 4));
  ASSERT_GE(payloads.size(), 3u);  // the role, the echo, the text (with the finish)
  const auto role = testing::parse_json(payloads[0]);
  EXPECT_EQ(std::string(role["choices"][0]["delta"]["role"].GetString()), "assistant");
  const auto echo = testing::parse_json(payloads[1]);
  EXPECT_EQ(std::string(echo["choices"][0]["delta"]["content"].GetString()), "The answer is");
  EXPECT_TRUE(echo["choices"][0]["logprobs"].IsNull());
  const auto text = testing::parse_json(payloads[2]);
  EXPECT_EQ(std::string(text["choices"][0]["delta"]["content"].GetString()), " 5");
}

// vLLM's return_tokens_as_token_ids: "token_id:<id>" for every token named in logprobs.
TEST(prompt_logprobs_json, tokens_as_ids_name_every_logprob_token_by_its_id) {
  auto o = echo_options(1);
  o.tokens_as_ids = true;
  completion_responder r(meta, o);
  const auto doc = body_json(r.on_event(first_event("d", 'd')));
  const auto& lp = doc["choices"][0]["logprobs"];
  EXPECT_EQ(std::string(lp["tokens"][0].GetString()), "token_id:97");  // the echoed 'a'
  EXPECT_EQ(std::string(lp["tokens"][3].GetString()), "token_id:100");
  EXPECT_TRUE(lp["top_logprobs"][3].HasMember("token_id:113"));
  EXPECT_EQ(lp["text_offset"][1].GetInt(), 11);  // offsets count the names' characters
  // prompt_logprobs keep their decoded tokens.
  EXPECT_EQ(std::string(doc["choices"][0]["prompt_logprobs"][1]["98"]["decoded_token"].GetString()),
            "b");

  chat_responder_options c;
  c.response.chunked = false;
  c.logprobs = {&tokenizer, 1, /*tokens_as_ids=*/true};
  chat_responder chat(meta, c);
  auto e = first_event("d", 'd');
  const auto chat_doc = body_json(chat.on_event(e));
  const auto& step = chat_doc["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(std::string(step["token"].GetString()), "token_id:100");
  ASSERT_EQ(step["bytes"].Size(), 1u);  // the sampled token's bytes stay its text's
  EXPECT_EQ(step["bytes"][0].GetInt(), 'd');
  const auto& top = step["top_logprobs"][0];
  EXPECT_EQ(std::string(top["token"].GetString()), "token_id:100");
  EXPECT_EQ(top["bytes"].Size(), std::string("token_id:100").size());
}

}  // namespace
}  // namespace troupe::http
