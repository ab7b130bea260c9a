#include "runtime/formats/weight_dtype.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"

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

TEST(weight_dtype, round_weights_reaches_every_tensor) {
  llama_weights w;
  const float odd = 1.0f + 0x1p-12f;
  w.token_embedding = {odd};
  w.output_norm = {odd};
  w.output = {odd};
  w.layers.resize(2);
  for (auto& layer : w.layers) {
    for (auto* t :
         {&layer.attn_norm, &layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.bq, &layer.bk,
          &layer.bv, &layer.ffn_norm, &layer.w_gate, &layer.w_up, &layer.w_down})
      *t = {odd};
  }
  round_weights(w, weight_dtype::bfloat16);
  EXPECT_EQ(w.token_embedding[0], 1.0f);
  EXPECT_EQ(w.output_norm[0], 1.0f);
  EXPECT_EQ(w.output[0], 1.0f);
  for (auto& layer : w.layers) {
    for (auto* t :
         {&layer.attn_norm, &layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.bq, &layer.bk,
          &layer.bv, &layer.ffn_norm, &layer.w_gate, &layer.w_up, &layer.w_down})
      EXPECT_EQ((*t)[0], 1.0f);
  }
}

std::vector<const std::vector<float>*> all_tensors(const llama_weights& w) {
  std::vector<const std::vector<float>*> out{&w.token_embedding, &w.output_norm, &w.output};
  for (const auto& l : w.layers) {
    for (const auto* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv,
                          &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
      out.push_back(t);
  }
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
    const auto before = all_tensors(*rounded);
    const std::vector<float> first_before = *before[3];
    round_weights(*rounded, dtype);
    EXPECT_NE(*before[3], first_before) << "rounding changed nothing";
    const auto a = all_tensors(*rounded), b = all_tensors(*cast);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(*a[i], *b[i]) << weight_dtype_name(dtype) << " tensor " << i;
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
