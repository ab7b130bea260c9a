// Random matrices (--load-format dummy) through weight_matrix's conversions and --dtype: they stay
// random (no data appears), --dtype changes only their format, a slice is a random matrix with a
// seed of its own, has_shape accepts only formats that can be generated, and matrix_to_f32 /
// matrix_bytes give what the backend will generate.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/backend/random_weight.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {
namespace {

using backend::weight_format;

constexpr backend::random_fill fill{77, 1e-3f};

TEST(random_matrix, has_shape_accepts_only_generable_dataless_matrices) {
  EXPECT_TRUE(has_shape(random_matrix(weight_format::bf16, fill), 8, 16));
  EXPECT_TRUE(has_shape(random_matrix(weight_format::w8a8_azp, fill), 8, 16));
  EXPECT_FALSE(has_shape(random_matrix(weight_format::q4_0, fill), 8, 32));  // blocks: no
  weight_matrix with_data = random_matrix(weight_format::f32, fill);
  with_data.values.assign(8 * 16, 0.0f);
  EXPECT_FALSE(has_shape(with_data, 8, 16));
  EXPECT_FALSE(has_shape(random_matrix(weight_format::f32, {77, 0.0f}), 8, 16));
  EXPECT_FALSE(random_matrix(weight_format::f32, fill).empty());
}

TEST(random_matrix, bytes_are_what_generation_makes) {
  EXPECT_EQ(matrix_bytes(random_matrix(weight_format::f32, fill), 8, 16), 8 * 16 * 4);
  EXPECT_EQ(matrix_bytes(random_matrix(weight_format::bf16, fill), 8, 16), 8 * 16 * 2);
  EXPECT_EQ(matrix_bytes(random_matrix(weight_format::w8a8, fill), 8, 16), 8 * 16 + 8 * 4);
  const weight_matrix held(std::vector<float>(8 * 16, 1.0f));
  EXPECT_EQ(matrix_bytes(held, 8, 16), held.size_bytes());
}

TEST(random_matrix, f32_values_are_the_generated_ones) {
  for (auto format : {weight_format::f32, weight_format::bf16, weight_format::w8a8}) {
    const auto values = matrix_to_f32(random_matrix(format, fill), 4, 8);
    const auto generated =
        matrix_to_f32(backend::generate_random_weight({4, 8, format}, fill), 4, 8);
    EXPECT_EQ(values, generated) << backend::weight_format_name(format);
    ASSERT_EQ(values.size(), 32u);
    for (float v : values)
      EXPECT_LE(std::abs(v), fill.bound);
  }
}

// Rows and columns of a random matrix: random, same format, a seed per (rows|columns, offset).
TEST(random_matrix, slices_stay_random_with_their_own_seeds) {
  const weight_matrix m = random_matrix(weight_format::bf16, fill);
  const weight_matrix top = matrix_rows(m, 16, 0, 4), bottom = matrix_rows(m, 16, 4, 4);
  const weight_matrix left = matrix_cols(m, 8, 16, 0, 5), right = matrix_cols(m, 8, 16, 5, 11);
  for (const weight_matrix* s : {&top, &bottom, &left, &right}) {
    ASSERT_TRUE(s->random.has_value());
    EXPECT_EQ(s->format, weight_format::bf16);  // an odd column split keeps the format too
    EXPECT_EQ(s->random->bound, fill.bound);
    EXPECT_NE(s->random->seed, fill.seed);
    EXPECT_TRUE(s->bytes.empty());
  }
  EXPECT_NE(top.random->seed, bottom.random->seed);
  EXPECT_NE(left.random->seed, right.random->seed);
  EXPECT_NE(top.random->seed, left.random->seed);
  EXPECT_EQ(matrix_rows(m, 16, 4, 2).random->seed, bottom.random->seed);  // same offset, same
  EXPECT_TRUE(has_shape(right, 8, 11));
}

// --dtype converts a random matrix by changing its format: it is then generated in the new one.
TEST(random_matrix, dtype_changes_only_the_format) {
  llama_weights w;
  w.hparams.num_layers = 1;
  w.hparams.hidden_size = 8;
  w.hparams.intermediate_size = 16;
  w.hparams.num_heads = 2;
  w.hparams.num_kv_heads = 1;
  w.hparams.head_dim = 4;
  w.hparams.vocab_size = 10;
  w.hparams.tie_word_embeddings = true;
  w.token_embedding = random_matrix(weight_format::bf16, {1, 1e-3f});
  llama_layer_weights l;
  l.wq = random_matrix(weight_format::w8a8, {2, 1e-3f});
  l.wk = l.wv = l.wo = l.w_gate = l.w_up = l.w_down = random_matrix(weight_format::f32, {3, 1e-3f});
  l.attn_norm = l.ffn_norm = std::vector<float>(8, 1.0f);
  w.layers.push_back(l);
  w.output_norm = std::vector<float>(8, 1.0f);

  llama_weights half = w;
  apply_weight_dtype(half, weight_dtype::float16);
  EXPECT_EQ(half.token_embedding.format, weight_format::f16);
  EXPECT_EQ(half.layers[0].w_down.format, weight_format::f16);
  EXPECT_EQ(half.layers[0].wq.format, weight_format::w8a8);  // quantized stays quantized
  EXPECT_EQ(half.layers[0].w_down.random->seed, 3u);
  EXPECT_TRUE(half.layers[0].w_down.bytes.empty());

  llama_weights f32 = w;
  apply_weight_dtype(f32, weight_dtype::float32);  // explicit float32: dequantize everything
  EXPECT_EQ(f32.layers[0].wq.format, weight_format::f32);
  EXPECT_EQ(f32.layers[0].wq.random->seed, 2u);
  EXPECT_TRUE(f32.layers[0].wq.values.empty());
  EXPECT_EQ(f32.token_embedding.format, weight_format::f32);
  llama_weights kept = w;
  apply_weight_dtype(kept, weight_dtype::float32, false);  // auto on a float32 checkpoint
  EXPECT_EQ(kept.layers[0].wq.format, weight_format::w8a8);
}

}  // namespace
}  // namespace troupe::runtime
