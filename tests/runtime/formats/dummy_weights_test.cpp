// --load-format dummy's weights: the repository's benchmark configs (models/dummy) parse into the
// shapes of the real checkpoints and load as random matrices in the checkpoints' formats without
// allocating them; every matrix has its own seed, two loads agree, norms are 1, biases small, and
// no weight file is read.
#include "runtime/formats/dummy_weights.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <unistd.h>

#include "kernels/cpu/random_weights.hpp"
#include "runtime/formats/compressed_tensors.hpp"
#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/weight_matrix.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;
using backend::weight_format;

std::string repo_model(const std::string& name) {
  return testing::source_dir() + "/models/dummy/" + name;
}

// Sum of matrix_bytes over every matrix, by format name.
std::map<std::string, int64_t> bytes_by_format(const llama_weights& w) {
  std::map<std::string, int64_t> out;
  for_each_matrix(w, [&](const weight_matrix& m, int64_t rows, int64_t cols, const std::string&) {
    out[backend::weight_format_name(m.format)] += matrix_bytes(m, rows, cols);
  });
  return out;
}

// Every matrix random, holding no data, of its shape's format (has_shape).
void expect_all_random(const llama_weights& w) {
  for_each_matrix(w,
                  [&](const weight_matrix& m, int64_t rows, int64_t cols, const std::string& name) {
                    EXPECT_TRUE(m.random.has_value()) << name;
                    EXPECT_EQ(m.size_bytes(), 0) << name;
                    EXPECT_TRUE(has_shape(m, rows, cols)) << name;
                  });
}

class dummy_weights : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("troupe_dummy_weights_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A directory holding only the config.json of `spec`.
  static std::string config_dir(const std::string& name, const tiny_model_spec& spec) {
    const fs::path dir = root_ / name;
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << tiny_model_config_json(spec);
    return dir.string();
  }

  static inline fs::path root_;
};

TEST_F(dummy_weights, repo_configs_have_the_benchmark_shapes) {
  auto llama = read_hf_config(repo_model("llama-3-8b"));
  ASSERT_TRUE(llama) << llama.message();
  EXPECT_EQ(llama->architecture, "llama");
  EXPECT_EQ(llama->num_layers, 32);
  EXPECT_EQ(llama->hidden_size, 4096);
  EXPECT_EQ(llama->num_heads, 32);
  EXPECT_EQ(llama->num_kv_heads, 8);
  EXPECT_EQ(llama->head_dim, 128);
  EXPECT_EQ(llama->intermediate_size, 14336);
  EXPECT_EQ(llama->vocab_size, 128256);
  EXPECT_EQ(llama->max_position_embeddings, 8192);
  EXPECT_EQ(llama->rope_theta, 500000.0f);
  EXPECT_EQ(llama->rms_norm_eps, 1e-5f);
  EXPECT_FALSE(llama->tie_word_embeddings);
  EXPECT_EQ(llama->rope_scale.type, rope_scaling_type::none);

  auto w8a8 = read_hf_config(repo_model("llama-3-8b-w8a8"));
  ASSERT_TRUE(w8a8) << w8a8.message();
  EXPECT_EQ(w8a8->num_layers, 32);
  EXPECT_EQ(w8a8->num_kv_heads, 8);
  EXPECT_EQ(w8a8->vocab_size, 128256);
  auto text = read_hf_config_text(repo_model("llama-3-8b-w8a8"));
  ASSERT_TRUE(text) << text.message();
  auto quant = read_w8a8_config(*text);
  ASSERT_TRUE(quant) << quant.message();
  ASSERT_TRUE(quant->has_value());
  EXPECT_FALSE((*quant)->asymmetric_activations);
  EXPECT_TRUE(w8a8_is_quantized(**quant, "model.layers.31.mlp.down_proj"));
  EXPECT_FALSE(w8a8_is_quantized(**quant, "lm_head"));

  auto nemo = read_hf_config(repo_model("mistral-nemo-12b"));
  ASSERT_TRUE(nemo) << nemo.message();
  EXPECT_EQ(nemo->architecture, "mistral");
  EXPECT_EQ(nemo->num_layers, 40);
  EXPECT_EQ(nemo->hidden_size, 5120);
  EXPECT_EQ(nemo->num_heads, 32);
  EXPECT_EQ(nemo->head_dim, 128);
  EXPECT_EQ(nemo->num_heads * nemo->head_dim, 4096);  // q_dim != hidden
  EXPECT_EQ(nemo->num_kv_heads, 8);
  EXPECT_EQ(nemo->intermediate_size, 14336);
  EXPECT_EQ(nemo->vocab_size, 131072);
  EXPECT_EQ(nemo->max_position_embeddings, 1024000);
  EXPECT_EQ(nemo->rope_theta, 1000000.0f);
  EXPECT_EQ(nemo->sliding_window, 0);  // null: none
}

// The real checkpoints' bytes: Llama-3-8B's 8,029,995,008 matrix weights in bf16; its W8A8 form
// int8 with a scale per row, embeddings in bf16; Mistral-NeMo's in bf16.
TEST_F(dummy_weights, repo_configs_load_in_their_formats_without_allocating) {
  auto llama = load_dummy_weights(repo_model("llama-3-8b"));
  ASSERT_TRUE(llama) << llama.message();
  expect_all_random(*llama);
  EXPECT_EQ(bytes_by_format(*llama), (std::map<std::string, int64_t>{{"bf16", 16059990016}}));

  auto w8a8 = load_dummy_weights(repo_model("llama-3-8b-w8a8"));
  ASSERT_TRUE(w8a8) << w8a8.message();
  expect_all_random(*w8a8);
  EXPECT_EQ(w8a8->layers[0].wq.format, weight_format::w8a8);
  EXPECT_EQ(w8a8->layers[31].w_down.format, weight_format::w8a8);
  EXPECT_EQ(w8a8->token_embedding.format, weight_format::bf16);
  EXPECT_EQ(w8a8->output.format, weight_format::bf16);  // ignore: ["lm_head"]
  EXPECT_EQ(bytes_by_format(*w8a8),
            (std::map<std::string, int64_t>{{"bf16", 2101346304}, {"w8a8", 6984826880}}));

  auto nemo = load_dummy_weights(repo_model("mistral-nemo-12b"));
  ASSERT_TRUE(nemo) << nemo.message();
  expect_all_random(*nemo);
  EXPECT_EQ(bytes_by_format(*nemo), (std::map<std::string, int64_t>{{"bf16", 24494735360}}));
}

TEST_F(dummy_weights, every_matrix_has_its_own_seed_and_loads_agree) {
  tiny_model_spec spec;
  const std::string dir = config_dir("seeds", spec);
  auto a = load_dummy_weights(dir), b = load_dummy_weights(dir);
  ASSERT_TRUE(a) << a.message();
  ASSERT_TRUE(b) << b.message();
  expect_all_random(*a);
  std::set<uint64_t> seeds;
  std::vector<uint64_t> a_seeds, b_seeds;
  for_each_matrix(*a, [&](const weight_matrix& m, int64_t, int64_t, const std::string&) {
    seeds.insert(m.random->seed);
    a_seeds.push_back(m.random->seed);
    EXPECT_EQ(m.random->bound, 1e-3f);
    EXPECT_EQ(m.format, weight_format::f32);  // the tiny config says float32
  });
  for_each_matrix(*b, [&](const weight_matrix& m, int64_t, int64_t, const std::string&) {
    b_seeds.push_back(m.random->seed);
  });
  EXPECT_EQ(seeds.size(), a_seeds.size());  // 2 layers x 7 + embedding + LM head, all distinct
  EXPECT_EQ(a_seeds.size(), 16u);
  EXPECT_EQ(a_seeds, b_seeds);
  EXPECT_EQ(a->layers[1].wq.random->seed,
            dummy_weight_seed("model.layers.1.self_attn.q_proj.weight"));
  // Norms are 1 (not vLLM's uniform(-1e-3, 1e-3)), KV scales 1, no biases for Llama.
  EXPECT_EQ(a->output_norm, std::vector<float>(64, 1.0f));
  for (const auto& layer : a->layers) {
    EXPECT_EQ(layer.attn_norm, std::vector<float>(64, 1.0f));
    EXPECT_EQ(layer.ffn_norm, std::vector<float>(64, 1.0f));
    EXPECT_TRUE(layer.bq.empty());
    EXPECT_EQ(layer.k_scale, 1.0f);
    EXPECT_EQ(layer.v_scale, 1.0f);
  }
}

TEST_F(dummy_weights, matrices_take_the_checkpoints_dtype) {
  tiny_model_spec spec;
  spec.dtype = safetensors_dtype::bf16;
  auto bf16 = load_dummy_weights(config_dir("bf16", spec));
  ASSERT_TRUE(bf16) << bf16.message();
  spec.dtype = safetensors_dtype::f16;
  auto f16 = load_dummy_weights(config_dir("f16", spec));
  ASSERT_TRUE(f16) << f16.message();
  for_each_matrix(*bf16, [](const weight_matrix& m, int64_t, int64_t, const std::string& name) {
    EXPECT_EQ(m.format, weight_format::bf16) << name;
  });
  for_each_matrix(*f16, [](const weight_matrix& m, int64_t, int64_t, const std::string& name) {
    EXPECT_EQ(m.format, weight_format::f16) << name;
  });
}

TEST_F(dummy_weights, w8a8_configs_give_int8_projections) {
  tiny_model_spec spec;
  spec.w8a8 = true;
  auto sym = load_dummy_weights(config_dir("w8a8", spec));
  ASSERT_TRUE(sym) << sym.message();
  expect_all_random(*sym);
  EXPECT_EQ(sym->token_embedding.format, weight_format::f32);
  EXPECT_EQ(sym->output.format, weight_format::f32);
  for (const auto& l : sym->layers) {
    for (const weight_matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      EXPECT_EQ(m->format, weight_format::w8a8);
  }
  spec.w8a8_asymmetric = true;
  auto azp = load_dummy_weights(config_dir("w8a8_azp", spec));
  ASSERT_TRUE(azp) << azp.message();
  EXPECT_EQ(azp->layers[1].w_up.format, weight_format::w8a8_azp);
}

// Qwen2's q/k/v biases are generated on the host: small, deterministic, one stream per tensor.
TEST_F(dummy_weights, qwen2_biases_are_small_random_vectors) {
  tiny_model_spec spec;
  spec.family = "qwen2";
  spec.tie_word_embeddings = true;
  auto w = load_dummy_weights(config_dir("qwen2", spec));
  ASSERT_TRUE(w) << w.message();
  EXPECT_TRUE(w->output.empty());  // tied: the embedding is the LM head
  const auto& l = w->layers[0];
  ASSERT_EQ(l.bq.size(), 64u);
  ASSERT_EQ(l.bk.size(), 32u);
  ASSERT_EQ(l.bv.size(), 32u);
  const uint64_t seed = dummy_weight_seed("model.layers.0.self_attn.q_proj.bias");
  for (size_t i = 0; i < l.bq.size(); ++i) {
    EXPECT_EQ(l.bq[i], kernels::cpu::random_uniform(seed, i, 1e-3f));
    EXPECT_LE(std::abs(l.bq[i]), 1e-3f);
  }
  EXPECT_NE(l.bk, l.bv);
  EXPECT_NE(l.bq, w->layers[1].bq);
}

// The weights come from config.json alone: a weight file that is present is not read.
TEST_F(dummy_weights, no_weight_file_is_read) {
  tiny_model_spec spec;
  const std::string dir = config_dir("garbage", spec);
  std::ofstream(fs::path(dir) / "model.safetensors") << "not a safetensors file";
  EXPECT_FALSE(load_hf_model(dir).ok());
  auto w = load_dummy_weights(dir);
  ASSERT_TRUE(w) << w.message();
  expect_all_random(*w);
}

TEST_F(dummy_weights, errors_name_the_directory) {
  const std::string empty = (root_ / "empty").string();
  fs::create_directories(empty);
  auto missing = load_dummy_weights(empty);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find(empty + "/config.json"), std::string::npos) << missing.message();
  const fs::path gelu = root_ / "gelu";
  fs::create_directories(gelu);
  std::ofstream(gelu / "config.json") << R"({"architectures": ["LlamaForCausalLM"],
      "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 2,
      "num_attention_heads": 4, "vocab_size": 10, "hidden_act": "gelu"})";
  auto unsupported = load_dummy_weights(gelu.string());
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.message().rfind(gelu.string() + ": ", 0), 0u) << unsupported.message();
}

}  // namespace
}  // namespace troupe::runtime
