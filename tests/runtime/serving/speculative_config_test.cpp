// parse_speculative_config (runtime/serving/speculative_config.hpp): vLLM 0.32's
// --speculative-config, ngram only.
#include "runtime/serving/speculative_config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace troupe::runtime {
namespace {

speculative_config parse_ok(std::string_view json) {
  auto config = parse_speculative_config(json);
  EXPECT_TRUE(config.ok()) << json << ": " << (config.ok() ? "" : config.message());
  return config.ok() ? *config : speculative_config{};
}

// The error message, checked to start with the flag's name.
std::string parse_error(std::string_view json) {
  auto config = parse_speculative_config(json);
  if (config.ok()) {
    ADD_FAILURE() << json << ": accepted";
    return "";
  }
  EXPECT_EQ(config.message().rfind("--speculative-config: ", 0), 0u) << config.message();
  return config.message();
}

speculative_config ngram(int32_t k, int32_t min_n, int32_t max_n) {
  return {.num_speculative_tokens = k, .prompt_lookup_min = min_n, .prompt_lookup_max = max_n};
}

TEST(SpeculativeConfig, NgramMethod) {
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": 3})"), ngram(3, 5, 5));
  EXPECT_TRUE(parse_ok(R"({"method": "ngram", "num_speculative_tokens": 3})").enabled());
  EXPECT_EQ(
      parse_ok(
          R"({"method":"ngram","num_speculative_tokens":4,"prompt_lookup_min":2,"prompt_lookup_max":6})"),
      ngram(4, 2, 6));
}

TEST(SpeculativeConfig, NgramByModelName) {
  EXPECT_EQ(parse_ok(R"({"model": "ngram", "num_speculative_tokens": 2})"), ngram(2, 5, 5));
  EXPECT_EQ(parse_ok(R"({"model": "[ngram]", "num_speculative_tokens": 2})"), ngram(2, 5, 5));
  EXPECT_EQ(parse_ok(R"({"method": null, "model": "[ngram]", "num_speculative_tokens": 2})"),
            ngram(2, 5, 5));
  // With method ngram, vLLM ignores the model.
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "model": "org/draft", "num_speculative_tokens": 2})"),
            ngram(2, 5, 5));
}

TEST(SpeculativeConfig, OffWhenUnsetOrNull) {
  EXPECT_FALSE(parse_ok("").enabled());
  EXPECT_FALSE(parse_ok("None").enabled());
  EXPECT_FALSE(parse_ok("null").enabled());
  EXPECT_EQ(parse_ok(" null "), speculative_config{});
}

TEST(SpeculativeConfig, OtherMethodsAndModelsAreRefused) {
  for (const char* method :
       {"eagle", "eagle3", "medusa", "mtp", "deepseek_mtp", "draft_model", "suffix", "ngram_gpu",
        "mlp_speculator", "custom_class", "dflash", "NGRAM", "whatever"}) {
    const std::string json =
        std::string(R"({"method": ")") + method + R"(", "num_speculative_tokens": 3})";
    const std::string message = parse_error(json);
    EXPECT_NE(message.find(std::string("method '") + method + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("only the ngram method (prompt lookup decoding), no draft model"),
              std::string::npos)
        << message;
  }
  for (const char* model : {"yuhuili/EAGLE-LLaMA3-Instruct-8B", "/models/draft", "pkg.Proposer"}) {
    const std::string json =
        std::string(R"({"model": ")") + model + R"(", "num_speculative_tokens": 3})";
    const std::string message = parse_error(json);
    EXPECT_NE(message.find(std::string("model '") + model + "' is not supported"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("only the ngram method"), std::string::npos) << message;
  }
  // vLLM's method list has no "[ngram]": only the model may be spelled so.
  EXPECT_NE(parse_error(R"({"method": "[ngram]", "num_speculative_tokens": 3})")
                .find("use \"method\": \"ngram\""),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"num_speculative_tokens": 3})").find("no method"), std::string::npos);
  EXPECT_NE(parse_error(R"({"method": 3, "num_speculative_tokens": 3})").find("method must be"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"method": "ngram", "model": 1, "num_speculative_tokens": 3})")
                .find("model must be a string"),
            std::string::npos);
}

TEST(SpeculativeConfig, NumSpeculativeTokens) {
  EXPECT_NE(parse_error(R"({"method": "ngram"})").find("num_speculative_tokens is required"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"method": "ngram", "num_speculative_tokens": null})")
                .find("num_speculative_tokens is required"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"method": "ngram", "num_speculative_tokens": 0})")
                .find("num_speculative_tokens must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"method": "ngram", "num_speculative_tokens": -2})").find(">= 1"),
            std::string::npos);
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": 128})"), ngram(128, 5, 5));
  const std::string too_many = parse_error(R"({"method": "ngram", "num_speculative_tokens": 129})");
  EXPECT_NE(too_many.find("at most 128"), std::string::npos) << too_many;
  EXPECT_NE(too_many.find("MAX_SPEC_LEN"), std::string::npos) << too_many;
  EXPECT_NE(parse_error(R"({"method": "ngram", "num_speculative_tokens": 1e30})")
                .find("must be an integer"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"method": "ngram", "num_speculative_tokens": 99999999999999999999})")
                .find("num_speculative_tokens"),
            std::string::npos);
}

TEST(SpeculativeConfig, IntegersAreLaxAsPydantic) {
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": 3.0})"), ngram(3, 5, 5));
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": "3"})"), ngram(3, 5, 5));
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": " +3 "})"), ngram(3, 5, 5));
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": "1_0"})"), ngram(10, 5, 5));
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": true})"), ngram(1, 5, 5));
  EXPECT_EQ(
      parse_ok(R"({"method": "ngram", "num_speculative_tokens": 2, "prompt_lookup_min": "2.0"})"),
      ngram(2, 2, 2));
  for (const char* bad : {"3.5", "\"3.5\"", "\"abc\"", "\"\"", "[3]", "{}", "\"0x10\""}) {
    const std::string json =
        std::string(R"({"method": "ngram", "num_speculative_tokens": )") + bad + "}";
    EXPECT_NE(parse_error(json).find("num_speculative_tokens must be an integer"),
              std::string::npos)
        << json;
  }
}

TEST(SpeculativeConfig, PromptLookupDefaults) {
  // Neither: vLLM's 5 and 5; one: the other takes its value.
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 4})"),
            ngram(3, 4, 4));
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 7})"),
            ngram(3, 7, 7));
  EXPECT_EQ(
      parse_ok(
          R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": null, "prompt_lookup_max": null})"),
      ngram(3, 5, 5));
  EXPECT_EQ(
      parse_ok(
          R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 1, "prompt_lookup_max": 1})"),
      ngram(3, 1, 1));
}

TEST(SpeculativeConfig, PromptLookupBounds) {
  EXPECT_EQ(
      parse_error(
          R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 4, "prompt_lookup_max": 2})"),
      "--speculative-config: prompt_lookup_min=4 must be <= prompt_lookup_max=2");
  EXPECT_NE(
      parse_error(R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 0})")
          .find("prompt_lookup_min must be >= 1, got 0"),
      std::string::npos);
  EXPECT_NE(
      parse_error(R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": -1})")
          .find("prompt_lookup_max must be >= 1"),
      std::string::npos);
  EXPECT_NE(
      parse_error(R"({"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": "x"})")
          .find("prompt_lookup_max must be an integer"),
      std::string::npos);
}

TEST(SpeculativeConfig, DashedKeysAndRepeatedKeys) {
  EXPECT_EQ(parse_ok(R"({"method": "ngram", "num-speculative-tokens": 3, "prompt-lookup-max": 2})"),
            ngram(3, 2, 2));
  // The last of a repeated key counts, as with Python's json.loads.
  EXPECT_EQ(
      parse_ok(R"({"method": "ngram", "num_speculative_tokens": 0, "num_speculative_tokens": 6})"),
      ngram(6, 5, 5));
  EXPECT_EQ(
      parse_ok(R"({"method": "ngram", "num_speculative_tokens": 2, "num-speculative-tokens": 4})"),
      ngram(4, 5, 5));
}

TEST(SpeculativeConfig, KeysWithoutEffectOnNgramAreIgnored) {
  const char* harmless[] = {
      R"("enforce_eager": true)",
      R"("enforce_eager": null)",
      R"("enforce_eager": "yes")",
      R"("disable_padded_drafter_batch": true)",
      R"("disable_eagle_block_drop": false)",
      R"("use_local_argmax_reduction": 1)",
      R"("draft_tensor_parallel_size": 1)",
      R"("max_model_len": 4096)",
      R"("dspark_draft_topk": 8)",
      R"("suffix_decoding_max_tree_depth": 24)",
      R"("suffix_decoding_max_cached_requests": 0)",
      R"("suffix_decoding_max_spec_factor": 1.5)",
      R"("suffix_decoding_min_token_prob": "0.2")",
      R"("quantization": "fp8")",
      R"("moe_backend": null)",
      R"("attention_backend": "FLASH_ATTN")",
      R"("kv_cache_dtype": "auto")",
      R"("revision": "main")",
      R"("code_revision": null)",
      R"("draft_load_config": null)",
      R"("draft_sample_method": "probabilistic")",
      R"("rejection_sample_method": "standard")",
      R"("tensor_parallel_size": null)",
      R"("index_share_for_mtp_iteration": null)",
      R"("use_heterogeneous_vocab": false)",
      R"("parallel_drafting": false)",
      R"("enable_adaptive_verification": false)",
      R"("synthetic_acceptance_rates": null)",
      R"("num_speculative_tokens_per_batch_size": [])",
      R"("draft_model_config": {"anything": 1})",
  };
  for (const char* member : harmless) {
    const std::string json =
        std::string(R"({"method": "ngram", "num_speculative_tokens": 3, )") + member + "}";
    EXPECT_EQ(parse_ok(json), ngram(3, 5, 5)) << json;
  }
}

TEST(SpeculativeConfig, IgnoredKeysStillNeedTheirType) {
  const char* wrong[] = {
      R"("enforce_eager": "maybe")",
      R"("disable_padded_drafter_batch": null)",
      R"("draft_tensor_parallel_size": 0)",
      R"("max_model_len": "x")",
      R"("suffix_decoding_max_tree_depth": 1.5)",
      R"("suffix_decoding_min_token_prob": "x")",
      R"("quantization": 8)",
      R"("draft_load_config": "x")",
      R"("draft_sample_method": "argmax")",
      R"("rejection_sample_method": "fancy")",
  };
  for (const char* member : wrong) {
    const std::string json =
        std::string(R"({"method": "ngram", "num_speculative_tokens": 3, )") + member + "}";
    const std::string message = parse_error(json);
    const std::string key = std::string(member).substr(1, std::string(member).find('"', 1) - 1);
    EXPECT_NE(message.find(key + " must be"), std::string::npos) << message;
  }
}

TEST(SpeculativeConfig, KeysThatWouldChangeNgramAreRefused) {
  const char* refused[] = {
      R"("parallel_drafting": true)",
      R"("enable_adaptive_verification": true)",
      R"("rejection_sample_method": "synthetic")",
      R"("rejection_sample_method": "block")",
      R"("synthetic_acceptance_rates": [0.5, 0.2, 0.1])",
      R"("synthetic_acceptance_length": 2.0)",
      R"("tensor_parallel_size": 1)",
      R"("index_share_for_mtp_iteration": false)",
      R"("use_heterogeneous_vocab": true)",
  };
  for (const char* member : refused) {
    const std::string json =
        std::string(R"({"method": "ngram", "num_speculative_tokens": 3, )") + member + "}";
    const std::string message = parse_error(json);
    const std::string key = std::string(member).substr(1, std::string(member).find('"', 1) - 1);
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
  EXPECT_EQ(
      parse_error(R"({"method": "ngram", "num_speculative_tokens": 3, "tensor_parallel_size": 2})"),
      "--speculative-config: 'tensor_parallel_size' is not a valid argument in the "
      "speculative_config. Please pass 'draft_tensor_parallel_size' instead.");
}

TEST(SpeculativeConfig, UnknownKeysAreRefused) {
  EXPECT_EQ(parse_error(R"({"method": "ngram", "num_speculative_tokens": 3, "foo": 1})"),
            "--speculative-config: unknown key 'foo'");
  EXPECT_EQ(parse_error(R"({"method": "ngram", "num_speculative_tokens": 3, "Method": "x"})"),
            "--speculative-config: unknown key 'Method'");
}

TEST(SpeculativeConfig, NotAJsonObject) {
  EXPECT_NE(parse_error("{\"method\": \"ngram\",").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("ngram").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("{} {}").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("3").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(parse_error(R"(["ngram"])").find("expected a JSON object"), std::string::npos);
  // An empty object is vLLM's draft-model default, with no model: refused.
  EXPECT_NE(parse_error("{}").find("no method"), std::string::npos);
}

}  // namespace
}  // namespace troupe::runtime

namespace troupe::runtime {
namespace {

// vLLM's dynamic schedule: ranges sorted, validated as its validate_and_normalize_dynamic_sd_
// schedule does, and looked up as its dense table (gaps and the tail carry the range before).
TEST(SpeculativeConfig, PerBatchSizeScheduleIsVllmsDynamicSchedule) {
  auto config = parse_speculative_config(
      R"({"method": "ngram", "num_speculative_tokens": 3,
          "num_speculative_tokens_per_batch_size": [[8, 16, 2], [1, 4, 4]]})");
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_EQ(config->per_batch_size, (std::vector<batch_size_drafts>{{1, 4, 4}, {8, 16, 2}}));
  EXPECT_EQ(config->drafts_for_batch_size(1), 3);  // never above num_speculative_tokens
  EXPECT_EQ(config->drafts_for_batch_size(5), 3);  // a gap: the range before
  EXPECT_EQ(config->drafts_for_batch_size(8), 2);
  EXPECT_EQ(config->drafts_for_batch_size(200), 2);  // past the last: the last
  const char* wrong[] = {
      R"("x")",
      R"([[1, 4]])",
      R"([[0, 4, 1]])",
      R"([[1, 4, -1]])",
      R"([[4, 1, 2]])",
      R"([[2, 4, 2]])",
      R"([[1, 4, 2], [4, 8, 1]])",
  };
  for (const char* schedule : wrong) {
    const std::string json = std::string(R"({"method": "ngram", "num_speculative_tokens": 3, )") +
                             R"("num_speculative_tokens_per_batch_size": )" + schedule + "}";
    EXPECT_FALSE(parse_speculative_config(json).ok()) << json;
  }
}

}  // namespace
}  // namespace troupe::runtime
