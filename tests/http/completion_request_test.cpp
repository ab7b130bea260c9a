#include "http/completion_request.hpp"
#include "http/request_fields.hpp"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

const completion_limits limits = [] {
  completion_limits l{"smollm", 1000};
  l.max_model_len = 8192;
  return l;
}();
constexpr uint64_t default_seed = 4242;

completion_request parse_ok(const std::string& body) {
  auto parsed = parse_completion_request(body, limits, default_seed);
  if (auto* error = std::get_if<api_error>(&parsed)) {
    ADD_FAILURE() << body << " -> " << error->status << " " << error->message;
    return {};
  }
  return std::get<completion_request>(std::move(parsed));
}

api_error parse_error(const std::string& body) {
  auto parsed = parse_completion_request(body, limits, default_seed);
  if (auto* error = std::get_if<api_error>(&parsed)) return *error;
  ADD_FAILURE() << body << " was accepted";
  return {};
}

TEST(parse_completion_request, defaults_follow_openai) {
  completion_request r = parse_ok(R"({"prompt": "Hi"})");
  EXPECT_EQ(r.generation.prompt, "Hi");
  EXPECT_TRUE(r.generation.prompt_token_ids.empty());
  EXPECT_EQ(r.generation.max_tokens, 16);
  EXPECT_FALSE(r.zero_max_tokens);
  EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.generation.sampling.top_p, 1.0f);
  EXPECT_EQ(r.generation.sampling.top_k, -1);
  EXPECT_EQ(r.generation.sampling.seed, default_seed);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.generation.ignore_eos);
  EXPECT_TRUE(r.generation.add_special_tokens);
}

TEST(parse_completion_request, reads_every_supported_field) {
  completion_request r = parse_ok(R"({"model": "smollm", "prompt": "Hi", "max_tokens": 7,
      "temperature": 0.5, "top_p": 0.9, "top_k": 40, "seed": 7, "n": 1, "stream": true,
      "stream_options": {"include_usage": true}, "ignore_eos": true,
      "add_special_tokens": false, "user": "ignored", "unknown_key": [1, 2]})");
  EXPECT_EQ(r.generation.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.generation.sampling.top_p, 0.9f);
  EXPECT_EQ(r.generation.sampling.top_k, 40);
  EXPECT_EQ(r.generation.sampling.seed, 7u);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.generation.ignore_eos);
  EXPECT_FALSE(r.generation.add_special_tokens);
}

TEST(parse_completion_request, null_means_default_and_null_max_tokens_means_model_length) {
  completion_request r = parse_ok(
      R"({"prompt": "Hi", "max_tokens": null, "temperature": null, "seed": null, "stop": null})");
  EXPECT_EQ(r.generation.max_tokens, 0);
  EXPECT_FALSE(r.zero_max_tokens);
  EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 1.0f);
  // vLLM 0.32: 0 is an echo's only (the prompt's logprobs, nothing generated).
  EXPECT_EQ(parse_error(R"({"prompt": "Hi", "max_tokens": 0})").message,
            "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)");
  EXPECT_TRUE(parse_ok(R"({"prompt": "Hi", "max_tokens": 0, "echo": true})").echo_only);
  EXPECT_EQ(parse_ok(R"({"prompt": "Hi", "max_tokens": 16.0})").generation.max_tokens, 16);
}

TEST(parse_completion_request, seed_covers_the_unsigned_64bit_range) {
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "seed": 18446744073709551615})").generation.sampling.seed,
            UINT64_MAX);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "seed": -1})").generation.sampling.seed, UINT64_MAX);
}

TEST(parse_completion_request, prompt_shapes) {
  EXPECT_EQ(parse_ok(R"({"prompt": ["one"]})").generation.prompt, "one");
  EXPECT_EQ(parse_ok(R"({"prompt": [1, 2, 999]})").generation.prompt_token_ids,
            (std::vector<int32_t>{1, 2, 999}));
  EXPECT_EQ(parse_ok(R"({"prompt": [[5, 6]]})").generation.prompt_token_ids,
            (std::vector<int32_t>{5, 6}));

  EXPECT_EQ(parse_error(R"({"prompt": []})").status, 400);
  EXPECT_EQ(parse_error(R"({"prompt": [1, "a"]})").status, 400);
  EXPECT_EQ(parse_error(R"({"prompt": [1000]})").status, 400);  // vocab is 1000
  EXPECT_EQ(parse_error(R"({"prompt": [-1]})").status, 400);
  EXPECT_EQ(parse_error(R"({"prompt": 5})").param, "prompt");
  EXPECT_EQ(parse_error(R"({"max_tokens": 5})").param, "prompt");
}

TEST(parse_completion_request, wrong_types_and_ranges_are_400_with_the_param) {
  struct bad_case {
    const char* body;
    const char* param;
  };
  for (const bad_case& c : {
           bad_case{R"({"prompt": "a", "max_tokens": "x"})", "max_tokens"},
           bad_case{R"({"prompt": "a", "max_tokens": -1})", "max_tokens"},
           bad_case{R"({"prompt": "a", "max_tokens": 1.5})", "max_tokens"},
           bad_case{R"({"prompt": "a", "temperature": -1})", "temperature"},
           bad_case{R"({"prompt": "a", "temperature": "hot"})", "temperature"},
           bad_case{R"({"prompt": "a", "top_p": 0})", "top_p"},
           bad_case{R"({"prompt": "a", "top_p": 1.5})", "top_p"},
           bad_case{R"({"prompt": "a", "top_k": -2})", ""},  // vLLM's SamplingParams: null
           bad_case{R"({"prompt": "a", "seed": 1.5})", "seed"},
           bad_case{R"({"prompt": "a", "stream": "yes"})", "stream"},
           bad_case{R"({"prompt": "a", "ignore_eos": 1})", "ignore_eos"},
           bad_case{R"({"prompt": "a", "n": 129})", "n"},
           bad_case{R"({"prompt": "a", "n": 0})", ""},
           bad_case{R"({"prompt": "a", "max_tokens": 9000})", "max_tokens"},  // max_model_len
           bad_case{R"({"prompt": "a", "truncate_prompt_tokens": 9000})", "truncate_prompt_tokens"},
           bad_case{R"({"prompt": "a", "model": 3})", "model"},
           bad_case{R"({"prompt": "a", "stream_options": {"include_usage": true}})",
                    "stream_options"},
       }) {
    api_error e = parse_error(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(parse_completion_request, malformed_json_is_400) {
  EXPECT_EQ(parse_error(R"({"prompt": )").status, 400);
  EXPECT_EQ(parse_error("").status, 400);
  EXPECT_EQ(parse_error(R"(["prompt"])").status, 400);
  EXPECT_EQ(parse_error("{\"prompt\": \"\xff\xfe\"}").status, 400);  // not UTF-8
}

TEST(parse_completion_request, unknown_model_is_404_with_vllm_message) {
  api_error e = parse_error(R"({"model": "gpt-4", "prompt": "a"})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.message, "The model `gpt-4` does not exist. Valid aliases: smollm.");
}

TEST(parse_completion_request, unsupported_parameters_are_rejected_unless_neutral) {
  for (const char* body : {
           R"({"prompt": "a", "suffix": "end"})",
           R"({"prompt": "a", "prompt_embeds": "AAAA"})",
       }) {
    api_error e = parse_error(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_NE(e.message.find("not supported"), std::string::npos) << body;
    EXPECT_FALSE(e.param.empty()) << body;
  }
  parse_ok(R"({"prompt": "a", "stop": [], "logprobs": null, "echo": false, "best_of": 1,
      "presence_penalty": 0, "frequency_penalty": 0.0, "repetition_penalty": 1, "logit_bias": {},
      "suffix": null, "skip_special_tokens": true, "response_format": {"type": "text"},
      "return_token_ids": false})");
}

TEST(parse_completion_request, return_token_ids_asks_the_engine_for_the_prompts_ids) {
  EXPECT_FALSE(parse_ok(R"({"prompt": "a"})").generation.return_prompt_token_ids);
  const auto on = parse_ok(R"({"prompt": "a", "return_token_ids": true})");
  EXPECT_TRUE(on.return_token_ids);
  EXPECT_TRUE(on.generation.return_prompt_token_ids);
  EXPECT_FALSE(parse_ok(R"({"prompt": "a", "return_token_ids": null})").return_token_ids);
  EXPECT_EQ(parse_error(R"({"prompt": "a", "return_token_ids": 1})").param, "return_token_ids");
}

TEST(parse_completion_request, a_list_of_prompts_is_a_batch) {
  const auto texts = parse_ok(R"({"prompt": ["a", "b", "c"]})");
  EXPECT_EQ(texts.generation.prompt, "a");
  ASSERT_EQ(texts.more_prompts.size(), 2u);
  EXPECT_EQ(texts.more_prompts[1].text, "c");
  const auto ids = parse_ok(R"({"prompt": [[1, 2], [3]]})");
  EXPECT_EQ(ids.generation.prompt_token_ids, (std::vector<int32_t>{1, 2}));
  ASSERT_EQ(ids.more_prompts.size(), 1u);
  EXPECT_EQ(ids.more_prompts[0].token_ids, (std::vector<int32_t>{3}));
  const auto one = parse_ok(R"({"prompt": ["only"]})");
  EXPECT_EQ(one.generation.prompt, "only");
  EXPECT_TRUE(one.more_prompts.empty());
  EXPECT_TRUE(parse_ok(R"({"prompt": [5, 6]})").more_prompts.empty());  // one prompt of ids

  EXPECT_EQ(parse_error(R"({"prompt": []})").message, "You must pass at least one prompt");
  EXPECT_EQ(parse_error(R"({"prompt": ["a", 5]})").param, "prompt");
  EXPECT_EQ(parse_error(R"({"prompt": [[1], []]})").param, "prompt");
  std::string many = R"({"n": 2, "temperature": 1, "prompt": [)";
  for (int i = 0; i < 513; ++i)
    many += i == 0 ? "\"x\"" : ", \"x\"";
  EXPECT_NE(parse_error(many + "]}").message.find("at most 1024 choices"), std::string::npos);
}

TEST(parse_completion_request, continuous_usage_stats_needs_include_usage) {
  const auto on = parse_ok(R"({"prompt": "a", "stream": true,
      "stream_options": {"include_usage": true, "continuous_usage_stats": true}})");
  EXPECT_TRUE(on.continuous_usage);
  EXPECT_FALSE(parse_ok(R"({"prompt": "a", "stream": true,
      "stream_options": {"continuous_usage_stats": true}})")
                   .continuous_usage);  // vLLM: only with include_usage
}

TEST(parse_completion_request, greedy_requests_have_one_choice) {
  api_error e = parse_error(R"({"prompt": "a", "n": 2, "temperature": 0})");
  EXPECT_EQ(e.message, "n must be 1 when using greedy sampling, got 2.");
  EXPECT_TRUE(e.param.empty());  // vLLM's param: null
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "n": 2, "temperature": 0.5})").generation.n, 2);
}

TEST(parse_completion_request, return_tokens_as_token_ids_is_a_boolean_or_unset) {
  EXPECT_FALSE(parse_ok(R"({"prompt": "a"})").return_tokens_as_token_ids.has_value());
  EXPECT_EQ(
      parse_ok(R"({"prompt": "a", "return_tokens_as_token_ids": true})").return_tokens_as_token_ids,
      true);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "return_tokens_as_token_ids": false})")
                .return_tokens_as_token_ids,
            false);
  EXPECT_EQ(parse_error(R"({"prompt": "a", "return_tokens_as_token_ids": 1})").param,
            "return_tokens_as_token_ids");
}

TEST(parse_completion_request, prompt_logprobs_follow_vllms_checks) {
  EXPECT_EQ(parse_ok(R"({"prompt": "a"})").generation.sampling.num_prompt_logprobs, -1);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "prompt_logprobs": null})")
                .generation.sampling.num_prompt_logprobs,
            -1);
  EXPECT_EQ(
      parse_ok(R"({"prompt": "a", "prompt_logprobs": 0})").generation.sampling.num_prompt_logprobs,
      0);
  EXPECT_EQ(
      parse_ok(R"({"prompt": "a", "prompt_logprobs": 20})").generation.sampling.num_prompt_logprobs,
      20);
  // A stream may ask for 0 only (nothing to carry them).
  parse_ok(R"({"prompt": "a", "prompt_logprobs": 0, "stream": true})");
  const std::pair<const char*, const char*> refused[] = {
      {R"({"prompt": "a", "prompt_logprobs": 21})",
       "Requested prompt logprobs of 21, which is greater than max allowed: 20 "
       "(parameter=prompt_logprobs, value=21)"},
      {R"({"prompt": "a", "prompt_logprobs": -1})",
       "Requested prompt logprobs of 1000, which is greater than max allowed: 20 "
       "(parameter=prompt_logprobs, value=1000)"},
      {R"({"prompt": "a", "prompt_logprobs": -2})",
       "`prompt_logprobs` must be a positive value or -1. (parameter=prompt_logprobs, value=-2)"},
      {R"({"prompt": "a", "prompt_logprobs": "1"})", "`prompt_logprobs` must be an integer."},
      {R"({"prompt": "a", "prompt_logprobs": 1, "stream": true})",
       "`prompt_logprobs` are not available when `stream=True`. (parameter=prompt_logprobs)"},
  };
  for (const auto& [body, message] : refused) {
    api_error e = parse_error(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.message, message) << body;
    EXPECT_EQ(e.param, "prompt_logprobs") << body;
  }
}

TEST(parse_completion_request, echo_with_logprobs_asks_for_the_prompts_and_zero_tokens_make_one) {
  completion_request r = parse_ok(R"({"prompt": "a", "echo": true})");
  EXPECT_TRUE(r.echo);
  EXPECT_FALSE(r.echo_only);
  EXPECT_EQ(r.generation.sampling.num_prompt_logprobs, -1);  // no logprobs, none of the prompt
  r = parse_ok(R"({"prompt": "a", "echo": true, "logprobs": 3})");
  EXPECT_EQ(r.generation.sampling.num_prompt_logprobs, 3);
  r = parse_ok(R"({"prompt": "a", "echo": true, "logprobs": 3, "prompt_logprobs": 1})");
  EXPECT_EQ(r.generation.sampling.num_prompt_logprobs, 1);  // its own value wins
  // lm-eval's loglikelihood request: the prompt's logprobs only; the engine makes one token.
  r = parse_ok(R"({"prompt": "a", "echo": true, "logprobs": 1, "max_tokens": 0})");
  EXPECT_TRUE(r.echo_only);
  EXPECT_FALSE(r.zero_max_tokens);
  EXPECT_EQ(r.generation.max_tokens, 1);
  EXPECT_EQ(r.generation.sampling.num_prompt_logprobs, 1);
  EXPECT_EQ(parse_error(R"({"prompt": "a", "echo": "yes"})").param, "echo");
}

}  // namespace
}  // namespace troupe::http

namespace troupe::http {
namespace {

// A deeply nested body is a 400 before anything walks it recursively (a megabyte of '[' must not
// overflow the stack); nesting up to max_json_depth is accepted.
TEST(parse_completion_request, deeply_nested_body_is_a_400) {
  std::string body = R"({"prompt": "Hi", "x": )" + std::string(1 << 20, '[');
  EXPECT_EQ(parse_error(body).status, 400);
  const int depth = max_json_depth - 1;  // the body object is one level
  body = R"({"prompt": "Hi", "x": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
  EXPECT_EQ(parse_ok(body).generation.prompt, "Hi");
  body =
      R"({"prompt": "Hi", "x": )" + std::string(depth + 1, '[') + std::string(depth + 1, ']') + "}";
  EXPECT_NE(parse_error(body).message.find("nests deeper"), std::string::npos);
}

TEST(parse_completion_request, cache_salt_is_a_non_empty_string_or_absent) {
  EXPECT_EQ(parse_ok(R"({"prompt": "a"})").generation.cache_salt, "");
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "cache_salt": null})").generation.cache_salt, "");
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "cache_salt": "tenant-7"})").generation.cache_salt,
            "tenant-7");
  for (const char* body :
       {R"({"prompt": "a", "cache_salt": ""})", R"({"prompt": "a", "cache_salt": 5})",
        R"({"prompt": "a", "cache_salt": true})", R"({"prompt": "a", "cache_salt": ["s"]})",
        R"({"prompt": "a", "cache_salt": {"s": 1}})"}) {
    api_error e = parse_error(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.message,
              "Parameter 'cache_salt' must be a non-empty string if provided. "
              "(parameter=cache_salt)")
        << body;
    EXPECT_EQ(e.param, "cache_salt") << body;
  }
}

// vLLM's priority: any 64-bit integer (written 3.0 too), read whatever the policy.
TEST(parse_completion_request, priority_is_a_64bit_integer) {
  EXPECT_EQ(parse_ok(R"({"prompt": "a"})").generation.priority, 0);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "priority": null})").generation.priority, 0);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "priority": -5})").generation.priority, -5);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "priority": 3.0})").generation.priority, 3);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "priority": 9223372036854775807})").generation.priority,
            INT64_MAX);
  for (const char* body :
       {R"({"prompt": "a", "priority": 1.5})", R"({"prompt": "a", "priority": "1"})",
        R"({"prompt": "a", "priority": true})", R"({"prompt": "a", "priority": [1]})",
        R"({"prompt": "a", "priority": 9223372036854775808})"}) {
    api_error e = parse_error(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.param, "priority") << body;
  }
}

// The X-Vllm-Priority header: what Python's int() reads, else nothing (the body's stands).
TEST(parse_int_header, reads_what_python_int_reads) {
  EXPECT_EQ(parse_int_header("7"), 7);
  EXPECT_EQ(parse_int_header(" -12 "), -12);
  EXPECT_EQ(parse_int_header("+3"), 3);
  EXPECT_EQ(parse_int_header("1_000"), 1000);
  EXPECT_EQ(parse_int_header("007"), 7);
  EXPECT_EQ(parse_int_header("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(parse_int_header("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", " ", "-", "1.5", "0x10", "1__0", "_1", "1_", "abc", "1 2",
                          "9223372036854775808", "-9223372036854775809"}) {
    EXPECT_EQ(parse_int_header(bad), std::nullopt) << bad;
  }
}

// --max-logprobs -1 (the whole vocabulary, 1000 here): logprobs and prompt_logprobs -1 ask for
// all of it.
TEST(parse_completion_request, minus_one_logprobs_are_the_vocabulary_when_the_server_allows) {
  completion_limits all = limits;
  all.vocab_size = 1000;
  all.max_logprobs = 1000;
  auto parsed = parse_completion_request(
      R"({"prompt": "a", "logprobs": -1, "prompt_logprobs": -1})", all, default_seed);
  ASSERT_TRUE(std::holds_alternative<completion_request>(parsed));
  const auto& r = std::get<completion_request>(parsed);
  EXPECT_EQ(r.generation.logprobs, 1000);
  EXPECT_EQ(r.generation.sampling.num_prompt_logprobs, 1000);
  all.max_logprobs = 999;
  parsed = parse_completion_request(R"({"prompt": "a", "logprobs": -1})", all, default_seed);
  ASSERT_TRUE(std::holds_alternative<api_error>(parsed));
  EXPECT_EQ(std::get<api_error>(parsed).message,
            "Requested sample logprobs of 1000, which is greater than max allowed: 999 "
            "(parameter=logprobs, value=1000)");
}

// vLLM's use_beam_search: n is the beam width (greedy or not), length_penalty a number; what
// vLLM refuses with it is refused, and sample logprobs (troupe's refusal).
TEST(parse_completion_request, beam_search_takes_its_fields_and_refuses_what_it_cannot_do) {
  const completion_request plain = parse_ok(R"({"prompt": "a", "length_penalty": 2})");
  EXPECT_FALSE(plain.beam_search);
  const completion_request beam = parse_ok(
      R"({"prompt": "a", "n": 3, "temperature": 0, "use_beam_search": true, "length_penalty": 0.5,
          "include_stop_str_in_output": true, "echo": true})");
  ASSERT_TRUE(beam.beam_search);
  EXPECT_EQ(beam.beam_search->beam_width, 3);
  EXPECT_DOUBLE_EQ(beam.beam_search->length_penalty, 0.5);
  EXPECT_EQ(beam.beam_search->temperature, 0.0f);
  EXPECT_TRUE(beam.beam_search->include_stop_str_in_output);
  EXPECT_EQ(beam.generation.sampling.num_prompt_logprobs, -1);
  EXPECT_EQ(parse_error(R"({"prompt": "a", "use_beam_search": true, "stream": true})").message,
            "Streaming is not currently supported with beam search");
  EXPECT_EQ(
      parse_error(R"({"prompt": "a", "use_beam_search": true, "echo": true, "logprobs": 1})").param,
      "echo");
  EXPECT_EQ(
      parse_ok(R"({"prompt": "a", "use_beam_search": true, "logprobs": 1})").generation.logprobs,
      1);
  EXPECT_EQ(parse_error(R"({"prompt": "a", "use_beam_search": 1})").param, "use_beam_search");
  EXPECT_EQ(parse_error(R"({"prompt": "a", "length_penalty": "long"})").param, "length_penalty");
}

}  // namespace
}  // namespace troupe::http
