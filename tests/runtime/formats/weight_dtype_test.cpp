#include "runtime/formats/weight_dtype.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {
namespace {

TEST(weight_dtype, parses_vllm_names) {
  EXPECT_EQ(*parse_weight_dtype("auto"), weight_dtype::as_stored);
  EXPECT_EQ(*parse_weight_dtype("float32"), weight_dtype::float32);
  EXPECT_EQ(*parse_weight_dtype("float"), weight_dtype::float32);
  EXPECT_EQ(*parse_weight_dtype("bfloat16"), weight_dtype::bfloat16);
  EXPECT_EQ(*parse_weight_dtype("float16"), weight_dtype::float16);
  EXPECT_EQ(*parse_weight_dtype("half"), weight_dtype::float16);
  auto bad = parse_weight_dtype("fp8");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'fp8'"), std::string::npos);
  EXPECT_FALSE(rounds_weights(weight_dtype::as_stored));
  EXPECT_TRUE(rounds_weights(weight_dtype::float16));
}

// bf16 keeps 8 significant bits: 1 + 2^-8 is halfway between 1 and 1 + 2^-7, ties go to even (1);
// 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6, and goes to the even 1 + 2^-6.
TEST(weight_dtype, bfloat16_rounds_to_nearest_even) {
  std::vector<float> v{1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, -2.5f,
                       std::numeric_limits<float>::infinity()};
  round_to_dtype(v, weight_dtype::bfloat16);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 1.0f + 0x1p-6f);
  EXPECT_EQ(v[2], 1.0f + 0x1p-7f);  // just above halfway rounds up
  EXPECT_EQ(v[3], -2.5f);
  EXPECT_TRUE(std::isinf(v[4]));
}

TEST(weight_dtype, float16_rounds_and_overflows_like_a_cast) {
  std::vector<float> v{1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 70000.0f, 1e-8f, 0.1f};
  round_to_dtype(v, weight_dtype::float16);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 1.0f + 0x1p-9f);
  EXPECT_TRUE(std::isinf(v[2]));
  EXPECT_EQ(v[3], 0x1p-24f * std::round(1e-8f / 0x1p-24f));  // subnormal f16
  EXPECT_EQ(v[4], 0.0999755859375f);
}

TEST(weight_dtype, float32_and_auto_keep_values) {
  std::vector<float> v{0.1f, 1.0f + 0x1p-20f};
  const std::vector<float> original = v;
  round_to_dtype(v, weight_dtype::float32);
  EXPECT_EQ(v, original);
  round_to_dtype(v, weight_dtype::as_stored);
  EXPECT_EQ(v, original);
}

// A model whose every tensor is [.][32] of one value: matrices f32 unless `format` (q8_0 blocks
// of that value), norms and biases f32.
llama_weights uniform_model(float value, backend::weight_format format) {
  llama_weights w;
  auto& hp = w.hparams;
  hp.num_layers = 2;
  hp.hidden_size = hp.intermediate_size = hp.head_dim = 32;
  hp.num_heads = hp.num_kv_heads = 1;
  hp.vocab_size = 2;
  hp.attention_bias = true;
  w.layers.resize(2);
  for_each_matrix(w, [&](weight_matrix& m, int64_t rows, int64_t cols, const std::string&) {
    m = dense_matrix(std::vector<float>(static_cast<size_t>(rows * cols), value),
                     backend::weight_format::f32);
    if (format == backend::weight_format::q8_0) {  // d = 1 (f16 0x3c00), every q = 1
      std::vector<uint8_t> row(34, 1);
      row[0] = 0x00;
      row[1] = 0x3c;
      std::vector<uint8_t> bytes;
      for (int64_t r = 0; r < rows; ++r)
        bytes.insert(bytes.end(), row.begin(), row.end());
      m = weight_matrix(format, std::move(bytes));
    }
  });
  w.output_norm.assign(32, value);
  for (auto& l : w.layers)
    for (auto* t : {&l.attn_norm, &l.bq, &l.bk, &l.bv, &l.ffn_norm})
      t->assign(32, value);
  return w;
}

TEST(weight_dtype, bfloat16_stores_dense_matrices_in_bf16_and_rounds_every_vector) {
  const float odd = 1.0f + 0x1p-12f;
  auto w = uniform_model(odd, backend::weight_format::f32);
  apply_weight_dtype(w, weight_dtype::bfloat16);
  int matrices = 0;
  for_each_matrix(w,
                  [&](const weight_matrix& m, int64_t rows, int64_t cols, const std::string& name) {
                    ++matrices;
                    EXPECT_EQ(m.format, backend::weight_format::bf16) << name;
                    EXPECT_EQ(m.bytes.size(), static_cast<size_t>(rows * cols * 2)) << name;
                    EXPECT_EQ(matrix_to_f32(m, rows, cols)[0], 1.0f) << name;
                  });
  EXPECT_EQ(matrices, 1 + 2 * 7 + 1);
  EXPECT_EQ(w.output_norm[0], 1.0f);
  for (const auto& l : w.layers)
    for (const auto* t : {&l.attn_norm, &l.bq, &l.bk, &l.bv, &l.ffn_norm})
      EXPECT_EQ((*t)[0], 1.0f);
  // float32 widens them back, exactly.
  apply_weight_dtype(w, weight_dtype::float32);
  for_each_matrix(w, [&](const weight_matrix& m, int64_t, int64_t, const std::string& name) {
    EXPECT_EQ(m.format, backend::weight_format::f32) << name;
    EXPECT_EQ(m.values[0], 1.0f) << name;
  });
}

TEST(weight_dtype, quantized_matrices_stay_quantized_unless_float32) {
  auto w = uniform_model(1.0f, backend::weight_format::q8_0);
  for (auto dtype : {weight_dtype::as_stored, weight_dtype::bfloat16, weight_dtype::float16}) {
    apply_weight_dtype(w, dtype);
    for_each_matrix(w, [&](const weight_matrix& m, int64_t, int64_t, const std::string& name) {
      EXPECT_EQ(m.format, backend::weight_format::q8_0) << name << " " << weight_dtype_name(dtype);
    });
  }
  apply_weight_dtype(w, weight_dtype::float32);
  for_each_matrix(
      w, [&](const weight_matrix& m, int64_t rows, int64_t cols, const std::string& name) {
        ASSERT_EQ(m.format, backend::weight_format::f32) << name;
        EXPECT_EQ(m.values, std::vector<float>(static_cast<size_t>(rows * cols), 1.0f)) << name;
      });
}

// Every norm and bias of `w`.
std::vector<const std::vector<float>*> all_vectors(const llama_weights& w) {
  std::vector<const std::vector<float>*> out{&w.output_norm};
  for (const auto& l : w.layers)
    for (const auto* t : {&l.attn_norm, &l.bq, &l.bk, &l.bv, &l.ffn_norm})
      out.push_back(t);
  return out;
}

// Every matrix of `w` as (format, bytes or f32 values).
std::vector<std::pair<backend::weight_format, std::vector<uint8_t>>> all_matrices(
    const llama_weights& w) {
  std::vector<std::pair<backend::weight_format, std::vector<uint8_t>>> out;
  for_each_matrix(w, [&](const weight_matrix& m, int64_t, int64_t, const std::string&) {
    const auto* v = reinterpret_cast<const uint8_t*>(m.values.data());
    out.emplace_back(m.format, m.values.empty()
                                   ? m.bytes
                                   : std::vector<uint8_t>(v, v + m.values.size() * sizeof(float)));
  });
  return out;
}

// --dtype X on a float32 checkpoint gives exactly the weights of the same checkpoint saved as X
// (make-model writes X by rounding its f32 values to nearest even, as torch's cast does).
TEST(weight_dtype, rounding_an_f32_checkpoint_equals_the_checkpoint_cast) {
  namespace fs = std::filesystem;
  const fs::path root =
      fs::temp_directory_path() / ("troupe_weight_dtype_test_" + std::to_string(::getpid()));
  for (auto [dtype, stored] : {std::pair{weight_dtype::bfloat16, safetensors_dtype::bf16},
                               std::pair{weight_dtype::float16, safetensors_dtype::f16}}) {
    tiny_model_spec spec;
    spec.family = "qwen2";  // with biases
    spec.seed = 7;
    ASSERT_TRUE(write_tiny_model(spec, (root / "f32").string()).ok());
    spec.dtype = stored;
    ASSERT_TRUE(write_tiny_model(spec, (root / "cast").string()).ok());
    auto rounded = load_hf_model((root / "f32").string());
    auto cast = load_hf_model((root / "cast").string());
    ASSERT_TRUE(rounded.ok() && cast.ok());
    const std::vector<float> norm_before = rounded->layers[0].attn_norm;
    apply_weight_dtype(*rounded, dtype);
    apply_weight_dtype(*cast, dtype);  // already stored so: nothing changes
    EXPECT_NE(rounded->layers[0].attn_norm, norm_before) << "rounding changed nothing";
    const auto a = all_vectors(*rounded), b = all_vectors(*cast);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(*a[i], *b[i]) << weight_dtype_name(dtype) << " vector " << i;
    const auto ma = all_matrices(*rounded), mb = all_matrices(*cast);
    ASSERT_EQ(ma.size(), mb.size());
    for (size_t i = 0; i < ma.size(); ++i)
      EXPECT_EQ(ma[i], mb[i]) << weight_dtype_name(dtype) << " matrix " << i;
  }
  fs::remove_all(root);
}

TEST(weight_dtype, checkpoint_dtype_reads_torch_dtype) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("troupe_checkpoint_dtype_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  EXPECT_EQ(checkpoint_dtype(dir.string()), weight_dtype::as_stored);  // no config.json
  std::ofstream(dir / "config.json") << R"({"torch_dtype": "bfloat16"})";
  EXPECT_EQ(checkpoint_dtype(dir.string()), weight_dtype::bfloat16);
  std::ofstream(dir / "config.json") << R"({"dtype": "float16"})";  // transformers v5
  EXPECT_EQ(checkpoint_dtype(dir.string()), weight_dtype::float16);
  std::ofstream(dir / "config.json") << R"({"torch_dtype": "float32"})";
  EXPECT_EQ(checkpoint_dtype(dir.string()), weight_dtype::float32);
  std::ofstream(dir / "config.json") << R"({"torch_dtype": "int8"})";
  EXPECT_EQ(checkpoint_dtype(dir.string()), weight_dtype::as_stored);
  EXPECT_EQ(checkpoint_dtype((dir / "model.gguf").string()), weight_dtype::as_stored);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace troupe::runtime
