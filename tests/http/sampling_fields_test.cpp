// The sampling and stop fields of /v1/completions: good values reach the generation request,
// bad ones are 400s with vLLM's messages; server-wide defaults fill what a request leaves unset.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http/completion_request.hpp"
#include "http/sampling_fields.hpp"

namespace troupe::http {
namespace {

const completion_limits limits{"smollm", 1000};

completion_request parse_ok(const std::string& body, const completion_limits& l = limits) {
  auto parsed = parse_completion_request(body, l, 1);
  if (auto* error = std::get_if<api_error>(&parsed)) {
    ADD_FAILURE() << body << " -> " << error->status << " " << error->message;
    return {};
  }
  return std::get<completion_request>(std::move(parsed));
}

api_error parse_error(const std::string& body) {
  auto parsed = parse_completion_request(body, limits, 1);
  if (auto* error = std::get_if<api_error>(&parsed)) return *error;
  ADD_FAILURE() << body << " was accepted";
  return {};
}

TEST(sampling_fields, defaults_are_neutral) {
  const auto r = parse_ok(R"({"prompt": "a"})").generation;
  EXPECT_TRUE(r.stop.empty());
  EXPECT_TRUE(r.stop_token_ids.empty());
  EXPECT_FALSE(r.include_stop_str_in_output);
  EXPECT_TRUE(r.skip_special_tokens);
  EXPECT_EQ(r.logprobs, -1);
  EXPECT_EQ(r.sampling.min_p, 0.0f);
  EXPECT_EQ(r.sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(r.sampling.presence_penalty, 0.0f);
  EXPECT_EQ(r.sampling.frequency_penalty, 0.0f);
  EXPECT_EQ(r.sampling.min_tokens, 0);
  EXPECT_TRUE(r.sampling.logit_bias.empty());
  EXPECT_TRUE(r.sampling.min_tokens_stop_ids.empty());
}

TEST(sampling_fields, reads_every_field) {
  const auto r = parse_ok(R"({"prompt": "a", "max_tokens": 10, "stop": ["x", "yz"],
      "stop_token_ids": [5, 7], "include_stop_str_in_output": true, "skip_special_tokens": false,
      "min_p": 0.1, "presence_penalty": -2, "frequency_penalty": 1.5, "repetition_penalty": 1.2,
      "logit_bias": {"3": 150, " 12 ": -0.5, "999": -200}, "min_tokens": 10, "logprobs": 20})")
                     .generation;
  EXPECT_EQ(r.stop, (std::vector<std::string>{"x", "yz"}));
  EXPECT_EQ(r.stop_token_ids, (std::vector<int32_t>{5, 7}));
  EXPECT_TRUE(r.include_stop_str_in_output);
  EXPECT_FALSE(r.skip_special_tokens);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, -2.0f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, 1.5f);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.2f);
  EXPECT_EQ(r.sampling.min_tokens, 10);
  EXPECT_EQ(r.logprobs, 20);
  const std::vector<std::pair<int32_t, float>> bias = {{3, 100.0f}, {12, -0.5f}, {999, -100.0f}};
  EXPECT_EQ(r.sampling.logit_bias, bias);  // sorted by id, clamped to [-100, 100]
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "stop": "\n\n"})").generation.stop,
            std::vector<std::string>{"\n\n"});
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "logprobs": 0})").generation.logprobs, 0);
  EXPECT_EQ(parse_ok(R"({"prompt": "a", "max_tokens": null, "min_tokens": 5000})")
                .generation.sampling.min_tokens,
            5000);  // no max_tokens to compare with
}

TEST(sampling_fields, bad_values_are_400_with_vllm_messages) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"prompt": "a", "stop": 3})", "`stop` must be a string or a list of strings."},
      {R"({"prompt": "a", "stop": ["a", 1]})", "`stop` must be a string or a list of strings."},
      {R"({"prompt": "a", "stop_token_ids": [1.5]})",
       "`stop_token_ids` must be a list of integers."},
      {R"({"prompt": "a", "stop_token_ids": 3})", "`stop_token_ids` must be a list of integers."},
      {R"({"prompt": "a", "include_stop_str_in_output": 1})",
       "`include_stop_str_in_output` must be a boolean."},
      {R"({"prompt": "a", "skip_special_tokens": "no"})",
       "`skip_special_tokens` must be a boolean."},
      {R"({"prompt": "a", "min_p": 1.5})", "min_p must be in [0, 1], got 1.5."},
      {R"({"prompt": "a", "min_p": -1})", "min_p must be in [0, 1], got -1.0."},
      {R"({"prompt": "a", "presence_penalty": 2.5})",
       "presence_penalty must be in [-2, 2], got 2.5."},
      {R"({"prompt": "a", "frequency_penalty": -3})",
       "frequency_penalty must be in [-2, 2], got -3.0."},
      {R"({"prompt": "a", "repetition_penalty": 0})",
       "repetition_penalty must be greater than zero, got 0.0."},
      {R"({"prompt": "a", "repetition_penalty": "x"})", "`repetition_penalty` must be a number."},
      {R"({"prompt": "a", "logit_bias": {"1000": 1, "-1": 2}})",
       "token_id(s) [1000, -1] in logit_bias contain out-of-vocab token ids. Vocabulary size: "
       "1000 (parameter=logit_bias, value=[1000, -1])"},
      {R"({"prompt": "a", "logit_bias": {"abc": 1}})",
       "logit_bias contains key(s) that cannot be converted to integer token IDs: ['abc'] "
       "(parameter=logit_bias, value=['abc'])"},
      {R"({"prompt": "a", "logit_bias": {"1": "x"}})",
       "`logit_bias` must be an object of token ids to numbers."},
      {R"({"prompt": "a", "logit_bias": [1]})",
       "`logit_bias` must be an object of token ids to numbers."},
      {R"({"prompt": "a", "min_tokens": -1})",
       "min_tokens must be greater than or equal to 0, got -1."},
      {R"({"prompt": "a", "max_tokens": 4, "min_tokens": 5})",
       "min_tokens must be less than or equal to max_tokens=4, got 5."},
      {R"({"prompt": "a", "min_tokens": 17})",
       "min_tokens must be less than or equal to max_tokens=16, got 17."},
      {R"({"prompt": "a", "logprobs": -1})",  // the whole vocabulary
       "Requested sample logprobs of 1000, which is greater than max allowed: 20 "
       "(parameter=logprobs, value=1000)"},
      {R"({"prompt": "a", "logprobs": -2})",
       "`logprobs` must be a positive value or -1. (parameter=logprobs, value=-2)"},
      {R"({"prompt": "a", "logprobs": 21})",
       "Requested sample logprobs of 21, which is greater than max allowed: 20 "
       "(parameter=logprobs, value=21)"},
      {R"({"prompt": "a", "stop": ["x", ""]})", "stop cannot contain an empty string."},
      {R"({"prompt": "a", "logprobs": true})", "`logprobs` must be an integer."},
  };
  for (const auto& [body, message] : cases) {
    const api_error e = parse_error(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.message, message) << body;
    // vLLM's param: the one its message names (VLLMValidationError), a type error's field, else
    // null (its SamplingParams' other checks).
    const std::string_view m = message;
    std::string param;
    if (const size_t at = m.find("(parameter="); at != std::string_view::npos) {
      param = m.substr(at + 11, m.find_first_of(",)", at) - at - 11);
    } else if (m.starts_with("`")) {
      param = m.substr(1, m.find('`', 1) - 1);
    }
    EXPECT_EQ(e.param, param) << body;
  }
}

TEST(sampling_fields, server_defaults_fill_unset_fields_only) {
  completion_limits with_defaults = limits;
  with_defaults.defaults.temperature = 0.6f;
  with_defaults.defaults.top_p = 0.9f;
  with_defaults.defaults.top_k = 20;
  with_defaults.defaults.min_p = 0.05f;
  with_defaults.defaults.repetition_penalty = 1.1f;
  with_defaults.defaults.max_tokens = 8;
  with_defaults.defaults.eos_token_ids = {2, 7};
  auto r = parse_ok(R"({"prompt": "a", "max_tokens": 100})", with_defaults).generation;
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.6f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 20);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r.max_tokens, 8);  // max_new_tokens caps max_tokens
  EXPECT_EQ(r.stop_token_ids, (std::vector<int32_t>{2, 7}));

  r = parse_ok(R"({"prompt": "a", "temperature": 0, "top_p": 1, "top_k": -1, "min_p": 0,
      "repetition_penalty": 1, "max_tokens": 3, "stop_token_ids": [7, 9], "ignore_eos": false})",
               with_defaults)
          .generation;
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, -1);
  EXPECT_EQ(r.sampling.min_p, 0.0f);
  EXPECT_EQ(r.sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(r.max_tokens, 3);
  EXPECT_EQ(r.stop_token_ids, (std::vector<int32_t>{7, 9, 2}));

  r = parse_ok(R"({"prompt": "a", "ignore_eos": true, "max_tokens": null})", with_defaults)
          .generation;
  EXPECT_TRUE(r.stop_token_ids.empty());  // ignore_eos: no generation-config EOS either
  EXPECT_EQ(r.max_tokens, 8);
}

TEST(sampling_fields, py_float_writes_like_python) {
  EXPECT_EQ(py_float(3.0), "3.0");
  EXPECT_EQ(py_float(-2.5), "-2.5");
  EXPECT_EQ(py_float(1e-05), "1e-05");
  EXPECT_EQ(py_float(1.0 / 0.0), "inf");
}

}  // namespace
}  // namespace troupe::http
