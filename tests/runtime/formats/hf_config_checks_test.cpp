// config.json fields that would make troupe compute another model than transformers or vLLM
// are refused with a reason; fields without effect on the logits are ignored; defaults are
// transformers' per family.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/formats/hf_model.hpp"

namespace troupe::runtime {
namespace {

constexpr const char* small_sizes = R"("hidden_size": 64, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 10)";

// A config.json of `architecture` with `sizes` and `extra` members.
std::string config(const std::string& architecture, const std::string& extra,
                   const std::string& sizes = small_sizes) {
  return R"({"architectures": [")" + architecture + R"("], )" + sizes +
         (extra.empty() ? "" : ", " + extra) + "}";
}

TEST(hf_config_checks, math_changing_fields_are_errors) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"LlamaForCausalLM", R"("hidden_act": "gelu")", "hidden_act 'gelu' is not supported"},
      {"LlamaForCausalLM", R"("attention_bias": true)", "attention_bias"},
      {"MistralForCausalLM", R"("attention_bias": true)", "attention_bias"},
      {"LlamaForCausalLM", R"("qkv_bias": true)", "qkv_bias"},
      {"LlamaForCausalLM", R"("mlp_bias": true)", "mlp_bias"},
      {"Qwen2ForCausalLM", R"("mlp_bias": true)", "mlp_bias"},
      {"LlamaForCausalLM", R"("attention_bias": "yes")", "must be true or false"},
      {"LlamaForCausalLM", R"("quantization_config": {"quant_method": "compressed-tensors"})",
       "quantization_config.config_groups: must be a non-empty object"},
      {"LlamaForCausalLM", R"("quantization_config": {"quant_method": "gptq", "bits": 4})",
       "quantization_config.quant_method"},
      {"Qwen2ForCausalLM", R"("layer_types": ["full_attention", "sliding_attention"])",
       "layer_types other than \"full_attention\""},
      {"Qwen2ForCausalLM", R"("layer_types": ["full_attention"])", "one attention type per layer"},
      {"MistralForCausalLM", R"("layer_types": ["full_attention", "full_attention"])",
       "layer_types on a Mistral model"},
      {"Qwen2ForCausalLM", R"("use_sliding_window": true, "sliding_window": 4096)",
       "use_sliding_window"},
      {"LlamaForCausalLM", R"("sliding_window": 4096)", "sliding_window on a Llama model"},
      {"LlamaForCausalLM", R"("logit_scale": 0.5)", "logit_scale"},
      {"LlamaForCausalLM", R"("dtype": "bfloat16", "torch_dtype": "float16")",
       "dtype 'bfloat16' and torch_dtype 'float16' disagree"},
      {"LlamaForCausalLM", R"("dtype": "float8_e4m3fn")", "dtype 'float8_e4m3fn' is not supported"},
      {"LlamaForCausalLM", R"("model_type": "mistral")",
       "model_type 'mistral' with architecture 'LlamaForCausalLM' is not supported"},
      {"LlamaForCausalLM", R"("tie_word_embeddings": "true")", "tie_word_embeddings"},
  };
  for (const auto& [arch, extra, expected] : cases) {
    auto hp = hf_hparams_from_config_json(config(arch, extra));
    ASSERT_FALSE(hp) << arch << " " << extra;
    EXPECT_NE(hp.message().find(expected), std::string::npos) << hp.message();
  }
  auto uneven = hf_hparams_from_config_json(config("LlamaForCausalLM", "",
                                                   R"("hidden_size": 60, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 10)"));
  ASSERT_FALSE(uneven);
  EXPECT_NE(uneven.message().find("no head_dim"), std::string::npos) << uneven.message();
}

TEST(hf_config_checks, fields_without_effect_on_logits_are_ignored) {
  auto hp = hf_hparams_from_config_json(
      config("LlamaForCausalLM",
             R"("pretraining_tp": 2, "use_cache": false, "initializer_range": 0.5,
         "attention_dropout": 0.1, "bos_token_id": 7, "transformers_version": "5.0.0",
         "attention_bias": false, "mlp_bias": false, "logit_scale": 1.0, "sliding_window": null,
         "torch_dtype": "bfloat16", "dtype": "bfloat16", "model_type": "llama",
         "partial_rotary_factor": 1.0, "layer_types": ["full_attention", "full_attention"])"));
  ASSERT_TRUE(hp) << hp.message();
  auto qwen = hf_hparams_from_config_json(
      config("Qwen2ForCausalLM", R"("attention_bias": true, "sliding_window": 4096,
                             "use_sliding_window": false, "max_window_layers": 1)"));
  ASSERT_TRUE(qwen) << qwen.message();
  EXPECT_EQ(qwen->sliding_window, 0);
}

TEST(hf_config_checks, defaults_are_transformers_per_family) {
  const char* sizes = R"("hidden_size": 128, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 32, "vocab_size": 10)";
  auto mistral = hf_hparams_from_config_json(config("MistralForCausalLM", "", sizes));
  ASSERT_TRUE(mistral) << mistral.message();
  EXPECT_EQ(mistral->sliding_window, 4096);  // MistralConfig's default
  EXPECT_EQ(mistral->num_kv_heads, 8);
  EXPECT_EQ(mistral->max_position_embeddings, 131072);
  auto no_window =
      hf_hparams_from_config_json(config("MistralForCausalLM", R"("sliding_window": null)"));
  ASSERT_TRUE(no_window) << no_window.message();
  EXPECT_EQ(no_window->sliding_window, 0);
  auto llama = hf_hparams_from_config_json(config("LlamaForCausalLM", "", sizes));
  ASSERT_TRUE(llama) << llama.message();
  EXPECT_EQ(llama->num_kv_heads, 32);
  EXPECT_EQ(llama->max_position_embeddings, 2048);
  EXPECT_EQ(llama->rms_norm_eps, 1e-6f);
  auto qwen = hf_hparams_from_config_json(config("Qwen2ForCausalLM", "", sizes));
  ASSERT_TRUE(qwen) << qwen.message();
  EXPECT_EQ(qwen->num_kv_heads, 32);
  EXPECT_EQ(qwen->max_position_embeddings, 32768);
}

}  // namespace
}  // namespace troupe::runtime
