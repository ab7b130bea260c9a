// config.json as transformers 5 writes it (rope_parameters, dtype, layer_types) and as 4 did
// (rope_theta + rope_scaling, torch_dtype); fields that change the math and are not implemented
// are errors, not defaults. The transformers-5 texts are LlamaConfig / MistralConfig /
// Qwen2Config.save_pretrained output (transformers 5.25), sizes shrunk.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "runtime/formats/hf_model.hpp"

namespace troupe::runtime {
namespace {

const char* tf5_llama = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 0, "dtype": "bfloat16", "eos_token_id": 1, "head_dim": 16,
  "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
  "max_position_embeddings": 256, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 2, "num_hidden_layers": 2, "num_key_value_heads": 1,
  "pad_token_id": null, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_parameters": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 32, "rope_theta": 100000.0,
                      "rope_type": "llama3"},
  "tie_word_embeddings": true, "transformers_version": "5.25.0", "use_cache": true,
  "vocab_size": 320})";

const char* tf5_qwen2 = R"({
  "attention_dropout": 0.0, "bos_token_id": null, "eos_token_id": null, "hidden_act": "silu",
  "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 128,
  "layer_types": ["full_attention", "full_attention"], "max_position_embeddings": 32768,
  "max_window_layers": 28, "model_type": "qwen2", "num_attention_heads": 4,
  "num_hidden_layers": 2, "num_key_value_heads": 2, "pad_token_id": null, "rms_norm_eps": 1e-06,
  "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}, "sliding_window": null,
  "tie_word_embeddings": false, "transformers_version": "5.25.0", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 300})";

// A small Llama config.json with `extra` members added at the top.
std::string llama_with(const std::string& extra) {
  return R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10, )" +
         extra + "}";
}

TEST(hf_config_tf5, rope_parameters_carry_theta_and_llama3_scaling) {
  auto hp = hf_hparams_from_config_json(tf5_llama);
  ASSERT_TRUE(hp) << hp.message();
  EXPECT_EQ(hp->rope_theta, 100000.0f);
  EXPECT_EQ(hp->rope_scale.type, rope_scaling_type::llama3);
  EXPECT_EQ(hp->rope_scale.factor, 8.0f);
  EXPECT_EQ(hp->rope_scale.low_freq_factor, 1.0f);
  EXPECT_EQ(hp->rope_scale.high_freq_factor, 4.0f);
  EXPECT_EQ(hp->rope_scale.original_max_position_embeddings, 32);
  EXPECT_EQ(hp->head_dim, 16);
  EXPECT_EQ(hp->num_kv_heads, 1);
  EXPECT_EQ(hp->rms_norm_eps, 1e-5f);
  EXPECT_TRUE(hp->tie_word_embeddings);
}

TEST(hf_config_tf5, qwen2_with_full_attention_layer_types) {
  auto hp = hf_hparams_from_config_json(tf5_qwen2);
  ASSERT_TRUE(hp) << hp.message();
  EXPECT_EQ(hp->architecture, "qwen2");
  EXPECT_EQ(hp->rope_theta, 1000000.0f);
  EXPECT_EQ(hp->rope_scale.type, rope_scaling_type::none);
  EXPECT_EQ(hp->sliding_window, 0);
  EXPECT_TRUE(hp->attention_bias);
}

TEST(hf_config_tf5, every_rope_type_in_rope_parameters) {
  auto yarn = hf_hparams_from_config_json(llama_with(
      R"("rope_parameters": {"rope_type": "yarn", "rope_theta": 5e5, "factor": 4.0,
         "original_max_position_embeddings": 1024, "beta_fast": 16, "attention_factor": 0.8,
         "truncate": true})"));
  ASSERT_TRUE(yarn) << yarn.message();
  EXPECT_EQ(yarn->rope_theta, 500000.0f);
  EXPECT_EQ(yarn->rope_scale.type, rope_scaling_type::yarn);
  EXPECT_EQ(yarn->rope_scale.beta_fast, 16.0f);
  EXPECT_EQ(yarn->rope_scale.beta_slow, 1.0f);
  EXPECT_EQ(yarn->rope_scale.attention_factor, 0.8f);
  for (auto [type, expected] :
       {std::pair{"linear", rope_scaling_type::linear}, {"dynamic", rope_scaling_type::dynamic}}) {
    auto hp = hf_hparams_from_config_json(llama_with(
        std::string(R"("rope_parameters": {"rope_type": ")") + type + R"(", "factor": 2})"));
    ASSERT_TRUE(hp) << hp.message();
    EXPECT_EQ(hp->rope_scale.type, expected);
    EXPECT_EQ(hp->rope_scale.factor, 2.0f);
    EXPECT_EQ(hp->rope_theta, 10000.0f);  // transformers' default_theta
  }
}

TEST(hf_config_tf5, both_layouts_must_agree) {
  auto same = hf_hparams_from_config_json(llama_with(
      R"("rope_theta": 5e5, "rope_scaling": {"type": "linear", "factor": 2},
         "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000})"));
  ASSERT_TRUE(same) << same.message();
  EXPECT_EQ(same->rope_theta, 500000.0f);
  // transformers 5 fills original_max_position_embeddings with max_position_embeddings.
  auto filled = hf_hparams_from_config_json(llama_with(
      R"("max_position_embeddings": 4096, "rope_scaling": {"rope_type": "yarn", "factor": 2},
         "rope_parameters": {"rope_type": "yarn", "factor": 2,
                             "original_max_position_embeddings": 4096})"));
  ASSERT_TRUE(filled) << filled.message();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("rope_theta": 10000, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6})",
       "rope_theta (10000.000000) and rope_parameters.rope_theta (1000000.000000) disagree"},
      {R"("rope_scaling": {"rope_type": "linear", "factor": 2},
          "rope_parameters": {"rope_type": "linear", "factor": 4})",
       "rope_parameters and rope_scaling disagree"},
      {R"("rope_scaling": {"rope_type": "linear", "factor": 2},
          "rope_parameters": {"rope_type": "default"})",
       "rope_parameters and rope_scaling disagree"},
      {R"("rope_parameters": {"rope_type": "linear", "type": "dynamic", "factor": 2})",
       "\"rope_type\" 'linear' and \"type\" 'dynamic' disagree"},
      {R"("original_max_position_embeddings": 64, "rope_parameters": {"rope_type": "llama3",
          "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
          "original_max_position_embeddings": 32})",
       "original_max_position_embeddings at the top level and in the RoPE settings disagree"},
  };
  for (const auto& [extra, expected] : cases) {
    auto hp = hf_hparams_from_config_json(llama_with(extra));
    ASSERT_FALSE(hp) << extra;
    EXPECT_NE(hp.message().find(expected), std::string::npos) << hp.message();
  }
}

TEST(hf_config_tf5, top_level_original_context_feeds_llama3) {
  auto hp = hf_hparams_from_config_json(llama_with(
      R"("original_max_position_embeddings": 8192, "rope_parameters": {"rope_type": "llama3",
         "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4})"));
  ASSERT_TRUE(hp) << hp.message();
  EXPECT_EQ(hp->rope_scale.original_max_position_embeddings, 8192);
}

TEST(hf_config_tf5, rope_settings_troupe_does_not_implement_are_errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("rope_parameters": {"rope_type": "longrope", "short_factor": [1], "long_factor": [1]})",
       "rope_parameters: rope_type 'longrope' is not supported"},
      {R"("rope_parameters": {"rope_type": "default", "partial_rotary_factor": 0.5})",
       "partial_rotary_factor"},
      {R"("partial_rotary_factor": 0.5, "rope_theta": 10000)", "partial_rotary_factor"},
      {R"("rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3]})",
       "\"mrope_section\" is not supported with rope_type 'default'"},
      {R"("rope_parameters": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1,
          "high_freq_factor": 4, "attention_factor": 2})",
       "\"attention_factor\" is not supported with rope_type 'llama3'"},
      {R"("rope_scaling": {"rope_type": "linear", "factor": 2, "finetuned": true})",
       "rope_scaling: \"finetuned\" is not supported with rope_type 'linear'"},
      {R"("rope_parameters": {"rope_type": "llama3", "factor": 8, "high_freq_factor": 4})",
       "needs \"low_freq_factor\""},
      {R"("rope_parameters": {"rope_type": "yarn", "factor": 4, "truncate": false})",
       "\"truncate\": false"},
      {R"("rope_parameters": {"rope_type": "linear"})", "needs \"factor\""},
      {R"("rope_parameters": {"rope_type": "yarn", "factor": 4, "attention_factor": 0})",
       "\"attention_factor\" must be a positive number"},
      {R"("rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
          "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}})",
       "RoPE settings per attention type are not supported"},
      {R"("rope_parameters": [1])", "rope_parameters must be an object or null"},
  };
  for (const auto& [extra, expected] : cases) {
    auto hp = hf_hparams_from_config_json(llama_with(extra));
    ASSERT_FALSE(hp) << extra;
    EXPECT_NE(hp.message().find(expected), std::string::npos) << hp.message();
  }
}

}  // namespace
}  // namespace troupe::runtime
