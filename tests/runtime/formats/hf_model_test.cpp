// Hugging Face directories: config.json parsing for the three families, clear errors for what is
// not supported, and make-model's directories loaded back exactly.
#include "runtime/formats/hf_model.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/formats/hf_make_model.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

const char* llama3_config = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
  "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0, "tie_word_embeddings": false, "hidden_act": "silu",
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";

const char* nemo_config = R"({
  "architectures": ["MistralForCausalLM"], "hidden_size": 5120, "intermediate_size": 14336,
  "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
  "vocab_size": 131072, "max_position_embeddings": 1024000, "rope_theta": 1000000.0,
  "sliding_window": 4096, "rope_scaling": null})";

TEST(hf_config, llama3) {
  auto hp = hf_hparams_from_config_json(llama3_config);
  ASSERT_TRUE(hp) << hp.message();
  EXPECT_EQ(hp->architecture, "llama");
  EXPECT_EQ(hp->num_layers, 32);
  EXPECT_EQ(hp->num_kv_heads, 8);
  EXPECT_EQ(hp->head_dim, 128);
  EXPECT_EQ(hp->rope, rope_style::neox);
  EXPECT_EQ(hp->rope_theta, 500000.0f);
  EXPECT_EQ(hp->max_position_embeddings, 131072);
  EXPECT_EQ(hp->rope_scale.type, rope_scaling_type::llama3);
  EXPECT_EQ(hp->rope_scale.factor, 8.0f);
  EXPECT_EQ(hp->rope_scale.original_max_position_embeddings, 8192);
  EXPECT_FALSE(hp->attention_bias);
  EXPECT_EQ(hp->sliding_window, 0);
}

TEST(hf_config, mistral_nemo_explicit_head_dim_and_window) {
  auto hp = hf_hparams_from_config_json(nemo_config);
  ASSERT_TRUE(hp) << hp.message();
  EXPECT_EQ(hp->architecture, "mistral");
  EXPECT_EQ(hp->head_dim, 128);  // not 5120 / 32 = 160
  EXPECT_EQ(hp->sliding_window, 4096);
  EXPECT_EQ(hp->rope_scale.type, rope_scaling_type::none);
  EXPECT_EQ(hp->rms_norm_eps, 1e-6f);  // transformers' default
}

TEST(hf_config, qwen2_has_qkv_bias) {
  auto hp = hf_hparams_from_config_json(R"({"architectures": ["Qwen2ForCausalLM"],
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
    "sliding_window": 32768, "use_sliding_window": false, "tie_word_embeddings": true,
    "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}})");
  ASSERT_TRUE(hp) << hp.message();
  EXPECT_TRUE(hp->attention_bias);
  EXPECT_TRUE(hp->tie_word_embeddings);
  EXPECT_EQ(hp->sliding_window, 0);  // use_sliding_window false
  EXPECT_EQ(hp->head_dim, 64);
  EXPECT_EQ(hp->rope_scale.type, rope_scaling_type::yarn);
  EXPECT_EQ(hp->rope_scale.beta_fast, 32.0f);
}

TEST(hf_config, unsupported_settings_are_clear_errors) {
  const std::string base = R"("hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 10)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"architectures": ["GPT2LMHeadModel"], )" + base + "}", "GPT2LMHeadModel"},
      {R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "longrope",
        "factor": 2}, )" +
           base + "}",
       "rope_type 'longrope' is not supported"},
      {R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "linear"}, )" +
           base + "}",
       "needs \"factor\""},
      {R"({"architectures": ["Qwen2ForCausalLM"], "use_sliding_window": true,
        "num_key_value_heads": 2, )" +
           base + "}",
       "use_sliding_window"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_act": "gelu", )" + base + "}",
       "hidden_act"},
      {R"({"architectures": ["LlamaForCausalLM"], "num_key_value_heads": 3, )" + base + "}",
       "multiple of num_key_value_heads"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})", "missing"},
      {"[1, 2]", "not a JSON object"},
  };
  for (const auto& [json, expected] : cases) {
    auto hp = hf_hparams_from_config_json(json);
    ASSERT_FALSE(hp) << json;
    EXPECT_NE(hp.message().find(expected), std::string::npos) << hp.message();
  }
}

class hf_dir_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("troupe_hf_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(hf_dir_test, make_model_round_trips_through_the_loader) {
  for (const std::string family : {"llama", "mistral", "qwen2"}) {
    tiny_model_spec spec;
    spec.family = family;
    spec.seed = 7;
    spec.head_dim = family == "mistral" ? 24 : 0;
    spec.sliding_window = family == "mistral" ? 5 : 0;
    spec.tie_word_embeddings = family == "qwen2";
    spec.dtype = family == "qwen2" ? safetensors_dtype::bf16 : safetensors_dtype::f32;
    spec.rope_scale = *parse_rope_scaling_spec("yarn:factor=4,original_max_position_embeddings=64");
    const std::string dir = (dir_ / family).string();
    ASSERT_TRUE(write_tiny_model(spec, dir));
    ASSERT_TRUE(is_hf_model_dir(dir));
    auto w = load_hf_model(dir, 2);
    ASSERT_TRUE(w) << w.message();
    const auto& hp = w->hparams;
    EXPECT_EQ(hp.architecture, family);
    EXPECT_EQ(hp.head_dim, family == "mistral" ? 24 : 16);
    EXPECT_EQ(hp.sliding_window, spec.sliding_window);
    EXPECT_EQ(hp.attention_bias, family == "qwen2");
    EXPECT_EQ(hp.tie_word_embeddings, spec.tie_word_embeddings);
    EXPECT_EQ(hp.rope_scale.type, rope_scaling_type::yarn);
    EXPECT_EQ(hp.rope_scale.original_max_position_embeddings, 64);
    auto tensors = tiny_model_tensors(spec);
    EXPECT_EQ(tensors[0].name, "model.embed_tokens.weight");
    if (family != "qwen2") {
      EXPECT_EQ(w->token_embedding.values, tensors[0].values);
    }
    EXPECT_EQ(w->output.empty(), spec.tie_word_embeddings);
    EXPECT_EQ(w->layers[1].bq.size(), family == "qwen2" ? 64u : 0u);
  }
}

TEST_F(hf_dir_test, make_model_is_deterministic_per_seed) {
  tiny_model_spec spec;
  auto a = tiny_model_tensors(spec);
  auto b = tiny_model_tensors(spec);
  spec.seed = 1;
  auto c = tiny_model_tensors(spec);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_EQ(a[3].values, b[3].values);
  EXPECT_NE(a[3].values, c[3].values);
  EXPECT_NE(a[2].values, a[3].values);  // every tensor has its own stream
  float lo = 1e9, hi = -1e9;
  for (float v : a[0].values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -1.0f);
  EXPECT_LT(hi, 1.0f);
  EXPECT_LT(lo, -0.99f);
  EXPECT_GT(hi, 0.99f);
}

TEST_F(hf_dir_test, missing_or_misshaped_tensors_are_named) {
  tiny_model_spec spec;
  ASSERT_TRUE(write_tiny_model(spec, dir_.string()));
  spec.num_layers = 3;
  std::ofstream(dir_ / "config.json") << tiny_model_config_json(spec);
  auto w = load_hf_model(dir_.string());
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("missing tensor 'model.layers.2."), std::string::npos) << w.message();
  spec.num_layers = 2;
  spec.intermediate_size = 96;
  std::ofstream(dir_ / "config.json") << tiny_model_config_json(spec);
  w = load_hf_model(dir_.string());
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("has shape [128, 64], expected [96, 64]"), std::string::npos)
      << w.message();
}

// vLLM's per-layer fp8 KV-cache scales: read when present (1.0 when absent), anything else about
// them an error naming the tensor.
TEST_F(hf_dir_test, kv_cache_scales_are_read_or_refused_by_name) {
  tiny_model_spec spec;
  ASSERT_TRUE(write_tiny_model(spec, dir_.string()));
  const auto safetensors = (dir_ / "model.safetensors").string();
  auto with = [&](std::vector<safetensors_entry> extra) {
    auto tensors = tiny_model_tensors(spec);
    tensors.insert(tensors.end(), extra.begin(), extra.end());
    EXPECT_TRUE(write_safetensors(safetensors, tensors));
    return load_hf_model(dir_.string());
  };
  auto w = with({});
  ASSERT_TRUE(w) << w.message();
  EXPECT_EQ(w->layers[0].k_scale, 1.0f);
  EXPECT_EQ(w->layers[1].v_scale, 1.0f);
  w = with({{"model.layers.1.self_attn.k_scale", safetensors_dtype::f32, {}, {0.5f}},
            {"model.layers.1.self_attn.v_scale", safetensors_dtype::bf16, {1}, {0.25f}}});
  ASSERT_TRUE(w) << w.message();
  EXPECT_EQ(w->layers[0].k_scale, 1.0f);
  EXPECT_EQ(w->layers[1].k_scale, 0.5f);
  EXPECT_EQ(w->layers[1].v_scale, 0.25f);
  w = with({{"model.layers.0.self_attn.kv_scale", safetensors_dtype::f32, {}, {0.5f}}});
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("tensor 'model.layers.0.self_attn.kv_scale' is a KV-cache scale "
                             "spelling troupe does not read"),
            std::string::npos)
      << w.message();
  w = with({{"model.layers.0.self_attn.k_scale", safetensors_dtype::f32, {2}, {0.5f, 1.0f}}});
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("tensor 'model.layers.0.self_attn.k_scale' has shape [2]"),
            std::string::npos)
      << w.message();
  w = with({{"model.layers.0.self_attn.v_scale", safetensors_dtype::f32, {}, {0.0f}}});
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("must be finite and positive"), std::string::npos) << w.message();
}

TEST(make_model_spec, rejects_bad_specs) {
  tiny_model_spec spec;
  spec.family = "gpt2";
  EXPECT_FALSE(check_tiny_model_spec(spec));
  spec.family = "llama";
  spec.sliding_window = 4;
  EXPECT_FALSE(check_tiny_model_spec(spec));
  spec.sliding_window = 0;
  spec.num_kv_heads = 3;
  EXPECT_FALSE(check_tiny_model_spec(spec));
  EXPECT_FALSE(parse_rope_scaling_spec("ntk:factor=2"));
  EXPECT_FALSE(parse_rope_scaling_spec("linear:factor"));
  EXPECT_FALSE(parse_rope_scaling_spec("linear:factor=abc"));
  auto r = parse_rope_scaling_spec("llama3:factor=8,low_freq_factor=1,high_freq_factor=4");
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->type, rope_scaling_type::llama3);
  EXPECT_EQ(r->factor, 8.0f);
}

}  // namespace
}  // namespace troupe::runtime
