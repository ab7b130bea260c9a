#include "runtime/formats/compressed_tensors.hpp"

#include <gtest/gtest.h>

#include <string>

namespace troupe::runtime {
namespace {

// The quantization_config llm-compressor writes for W8A8 int8 (as in the config.json of
// RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8; compressed-tensors 0.7+ field set).
constexpr const char* redhat_w8a8 = R"({
  "architectures": ["LlamaForCausalLM"],
  "quantization_config": {
    "config_groups": {
      "group_0": {
        "input_activations": {
          "actorder": null, "block_structure": null, "dynamic": true, "group_size": null,
          "num_bits": 8, "observer": "memoryless", "observer_kwargs": {}, "strategy": "token",
          "symmetric": true, "type": "int"
        },
        "output_activations": null,
        "targets": ["Linear"],
        "weights": {
          "actorder": null, "block_structure": null, "dynamic": false, "group_size": null,
          "num_bits": 8, "observer": "mse", "observer_kwargs": {}, "strategy": "channel",
          "symmetric": true, "type": "int"
        }
      }
    },
    "format": "int-quantized",
    "global_compression_ratio": 1.463543865167781,
    "ignore": ["lm_head"],
    "kv_cache_scheme": null,
    "quant_method": "compressed-tensors",
    "quantization_status": "compressed"
  }
})";

// The older spelling (neuralmagic/...-quantized.w8a8 of mid 2024): compression_config,
// naive-quantized, quantization_status frozen, no actorder keys.
constexpr const char* neuralmagic_w8a8 = R"({
  "compression_config": {
    "config_groups": {
      "group_0": {
        "input_activations": {"block_structure": null, "dynamic": true, "group_size": null,
          "num_bits": 8, "observer": "memoryless", "observer_kwargs": {}, "strategy": "token",
          "symmetric": true, "type": "int"},
        "output_activations": null,
        "targets": ["Linear"],
        "weights": {"block_structure": null, "dynamic": false, "group_size": null,
          "num_bits": 8, "observer": "minmax", "observer_kwargs": {}, "strategy": "channel",
          "symmetric": true, "type": "int"}
      }
    },
    "format": "naive-quantized",
    "global_compression_ratio": 1.2405352996226195,
    "ignore": ["lm_head"],
    "kv_cache_scheme": null,
    "quant_method": "compressed-tensors",
    "quantization_status": "frozen"
  }
})";

// `redhat_w8a8` with the text `from` replaced by `to` (which must occur).
std::string edited(const std::string& from, const std::string& to) {
  std::string text = redhat_w8a8;
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The error of a config that must be refused; "" when it was accepted.
std::string refusal(const std::string& text) {
  auto c = read_w8a8_config(text);
  return c ? std::string() : c.message();
}

TEST(compressed_tensors, reads_llm_compressors_w8a8_config) {
  auto c = read_w8a8_config(redhat_w8a8);
  ASSERT_TRUE(c) << c.message();
  ASSERT_TRUE(c->has_value());
  const w8a8_config& w = **c;
  EXPECT_FALSE(w.asymmetric_activations);
  EXPECT_EQ(w.format, "int-quantized");
  EXPECT_EQ(w.targets, std::vector<std::string>{"Linear"});
  EXPECT_EQ(w.ignore, std::vector<std::string>{"lm_head"});
  EXPECT_TRUE(w8a8_is_quantized(w, "model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(w8a8_is_quantized(w, "model.layers.11.mlp.down_proj"));
  EXPECT_FALSE(w8a8_is_quantized(w, "lm_head"));
}

TEST(compressed_tensors, reads_the_older_naive_quantized_spelling) {
  auto c = read_w8a8_config(neuralmagic_w8a8);
  ASSERT_TRUE(c) << c.message();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->format, "naive-quantized");
}

TEST(compressed_tensors, no_quantization_config_is_nullopt) {
  auto c = read_w8a8_config(R"({"architectures": ["LlamaForCausalLM"]})");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->has_value());
}

TEST(compressed_tensors, asymmetric_activations_take_the_azp_path) {
  auto c = read_w8a8_config(edited(R"("strategy": "token",
          "symmetric": true)",
                                   R"("strategy": "token",
          "symmetric": false)"));
  ASSERT_TRUE(c) << c.message();
  EXPECT_TRUE((*c)->asymmetric_activations);
}

TEST(compressed_tensors, group_size_minus_one_means_channel) {
  auto c = read_w8a8_config(edited(R"("group_size": null,
          "num_bits": 8, "observer": "mse", "observer_kwargs": {}, "strategy": "channel",)",
                                   R"("group_size": -1,
          "num_bits": 8, "observer": "mse", "observer_kwargs": {},)"));
  EXPECT_TRUE(c) << c.message();
}

TEST(compressed_tensors, refuses_what_the_kernels_do_not_compute_naming_the_field) {
  struct refused_case {
    std::string from, to, field;
  };
  const refused_case cases[] = {
      {R"("quant_method": "compressed-tensors")", R"("quant_method": "gptq")",
       "quantization_config.quant_method"},
      {R"("format": "int-quantized")", R"("format": "pack-quantized")",
       "quantization_config.format"},
      {R"("format": "int-quantized")", R"("format": "float-quantized")",
       "quantization_config.format"},
      {R"("format": "int-quantized")", R"("format": "marlin-24")", "quantization_config.format"},
      {R"("observer": "mse", "observer_kwargs": {}, "strategy": "channel")",
       R"("observer": "mse", "observer_kwargs": {}, "strategy": "tensor")",
       "group_0.weights.strategy"},
      {R"("group_size": null,
          "num_bits": 8, "observer": "mse")",
       R"("group_size": 128,
          "num_bits": 8, "observer": "mse")",
       "group_0.weights.strategy"},
      {R"("block_structure": null, "dynamic": false)",
       R"("block_structure": [128, 128], "dynamic": false)", "group_0.weights.block_structure"},
      {R"("strategy": "channel",
          "symmetric": true)",
       R"("strategy": "channel",
          "symmetric": false)",
       "group_0.weights.symmetric"},
      {R"("num_bits": 8, "observer": "mse")", R"("num_bits": 4, "observer": "mse")",
       "group_0.weights.num_bits"},
      {R"("strategy": "channel",
          "symmetric": true, "type": "int")",
       R"("strategy": "channel",
          "symmetric": true, "type": "float")",
       "group_0.weights.type"},
      {R"("dynamic": true, "group_size": null)", R"("dynamic": false, "group_size": null)",
       "group_0.input_activations.dynamic"},
      {R"("strategy": "token")", R"("strategy": "tensor")", "group_0.input_activations.strategy"},
      {R"("kv_cache_scheme": null)",
       R"("kv_cache_scheme": {"num_bits": 8, "type": "float", "strategy": "tensor"})",
       "quantization_config.kv_cache_scheme"},
      {R"("kv_cache_scheme": null)",
       R"("kv_cache_scheme": null, "sparsity_config": {"format": "sparse-24-bitmask"})",
       "quantization_config.sparsity_config.format"},
      {R"("targets": ["Linear"])", R"("targets": ["Embedding"])", "group_0.targets[0]"},
      {R"("targets": ["Linear"])", R"("targets": ["re:.*embed_tokens"])", "group_0.targets[0]"},
      {R"("ignore": ["lm_head"])", R"x("ignore": ["re:(?P<x>lm_head)"])x",
       "quantization_config.ignore[0]"},
      {R"("output_activations": null)", R"("output_activations": {"num_bits": 8})",
       "group_0.output_activations"},
      {R"("global_compression_ratio")", R"("surprise": 1, "global_compression_ratio")",
       "quantization_config.surprise"},
  };
  for (const auto& c : cases) {
    const std::string message = refusal(edited(c.from, c.to));
    EXPECT_NE(message.find(c.field), std::string::npos) << c.to << " -> '" << message << "'";
  }
}

TEST(compressed_tensors, refuses_weight_only_int8) {
  std::string text = redhat_w8a8;
  const size_t begin = text.find(R"("input_activations": {)");
  const size_t end = text.find(R"("output_activations")", begin);
  text.replace(begin, end - begin, R"("input_activations": null, )");
  EXPECT_NE(refusal(text).find("input_activations: null"), std::string::npos) << refusal(text);
}

TEST(compressed_tensors, accepts_a_dense_sparsity_config) {
  EXPECT_EQ(refusal(edited(R"("kv_cache_scheme": null)",
                           R"("kv_cache_scheme": null, "sparsity_config": {"format": "dense",
                              "global_sparsity": 0.1, "sparsity_structure": "unstructured",
                              "targets": [], "ignore": []})")),
            "");
  EXPECT_EQ(refusal(edited(R"("kv_cache_scheme": null)",
                           R"("kv_cache_scheme": null, "sparsity_config": {})")),
            "");
}

TEST(compressed_tensors, refuses_both_spellings_at_once) {
  std::string text = redhat_w8a8;
  text.replace(text.find(R"("architectures")"), 0, R"("compression_config": {}, )");
  EXPECT_NE(refusal(text).find("both"), std::string::npos);
}

TEST(compressed_tensors, ignore_entries_are_exact_names_or_anchored_regexes) {
  w8a8_config c;
  c.targets = {"Linear"};
  c.ignore = {"lm_head", "re:.*mlp\\.down_proj$", "re:model\\.layers\\.1\\.", "self_attn.q_proj"};
  EXPECT_FALSE(w8a8_is_quantized(c, "lm_head"));
  EXPECT_FALSE(w8a8_is_quantized(c, "model.layers.0.mlp.down_proj"));
  EXPECT_TRUE(w8a8_is_quantized(c, "model.layers.0.mlp.up_proj"));
  EXPECT_FALSE(w8a8_is_quantized(c, "model.layers.1.self_attn.k_proj"));  // prefix match
  EXPECT_TRUE(w8a8_is_quantized(c, "model.layers.10.self_attn.k_proj"));
  // An exact entry matches the whole name only; re.match anchors at the start only.
  EXPECT_TRUE(w8a8_is_quantized(c, "model.layers.0.self_attn.q_proj"));
  c.ignore = {"re:self_attn"};
  EXPECT_TRUE(w8a8_is_quantized(c, "model.layers.0.self_attn.q_proj"));
}

TEST(compressed_tensors, regex_targets_select_only_the_named_projections) {
  auto c = read_w8a8_config(
      edited(R"("targets": ["Linear"])", R"("targets": ["re:.*self_attn\\.(q|k|v|o)_proj$"])"));
  ASSERT_TRUE(c) << c.message();
  EXPECT_TRUE(w8a8_is_quantized(**c, "model.layers.3.self_attn.v_proj"));
  EXPECT_FALSE(w8a8_is_quantized(**c, "model.layers.3.mlp.gate_proj"));
  EXPECT_FALSE(w8a8_is_quantized(**c, "lm_head"));
}

}  // namespace
}  // namespace troupe::runtime
