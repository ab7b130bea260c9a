// paged attention over a 16-bit cache (attention.hpp): store_kv rounds to bf16 / f16 bits, and the
// attention is the f32 math over the widened cache, bit for bit. Head dims 64 and 128 read the
// cache in place (widened in the vector kernels' registers); 12 through widened copies.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "tests/kernels/attention_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

uint16_t reference_bits(float x, half_format format) {
  return format == half_format::bf16 ? f32_to_bf16(x) : f32_to_f16(x);
}

// One sequence of `len` tokens stored into a 16-bit cache, and the same cache widened to f32.
// Every seventh key and value is scaled into f16's subnormal range (and bf16's tiny normals).
class half_attention : public ::testing::TestWithParam<std::tuple<half_format, int32_t>> {
 protected:
  void SetUp() override {
    format_ = std::get<0>(GetParam());
    head_dim = std::get<1>(GetParam());
    layout = {block_size, num_kv_heads, head_dim};
    const auto size = static_cast<size_t>(num_blocks * layout.block_stride());
    k_words_.assign(size, 0);
    v_words_.assign(size, 0);
    k_ = random_vector(len * num_kv_heads * head_dim, 1, 3.0f);
    v_ = random_vector(len * num_kv_heads * head_dim, 2, 3.0f);
    for (size_t i = 0; i < k_.size(); i += 7) {
      k_[i] *= 1e-6f;
      v_[i] *= 1e-6f;
    }
    for (int32_t p = 0; p < len; ++p)
      tokens_.push_back({p, blocks.data()});
    store_kv(layout, tokens_.data(), len, k_.data(), v_.data(), format_, k_words_.data(),
             v_words_.data());
    k_wide_.resize(size);
    v_wide_.resize(size);
    widen_half(k_words_.data(), static_cast<int64_t>(size), format_, k_wide_.data());
    widen_half(v_words_.data(), static_cast<int64_t>(size), format_, v_wide_.data());
  }
  void attend(const std::vector<float>& q, float* out, int32_t window = 0, int threads = 2) {
    thread_pool pool(threads);
    paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), format_,
                    k_words_.data(), v_words_.data(), out, window);
  }
  half_format format_;
  int32_t head_dim = 0;
  paged_kv_layout layout;
  std::vector<uint16_t> k_words_, v_words_;
  std::vector<float> k_, v_, k_wide_, v_wide_;
  std::vector<token_location> tokens_;
};

TEST_P(half_attention, store_kv_writes_one_rounded_word_per_element_by_block_table) {
  // Position 6: block_table[6 / 4] = 1, slot 2.
  const int64_t row = num_kv_heads * head_dim;
  const uint16_t* slot = k_words_.data() + 1 * layout.block_stride() + 2 * row;
  const uint16_t* vslot = v_words_.data() + 1 * layout.block_stride() + 2 * row;
  for (int64_t i = 0; i < row; ++i) {
    EXPECT_EQ(slot[i], reference_bits(k_[6 * row + i], format_)) << i;
    EXPECT_EQ(vslot[i], reference_bits(v_[6 * row + i], format_)) << i;
  }
}

// Ties to even, overflow, subnormals, signed zeros, infinities and NaN store the reference
// conversion's bits.
TEST_P(half_attention, store_kv_rounds_special_values_as_the_reference) {
  const float bf16_tie = std::bit_cast<float>(0x3f808000u), f16_tie = 1.0f + 0x1p-11f;
  const std::vector<float> specials = {bf16_tie,
                                       std::bit_cast<float>(0x3f818000u),
                                       f16_tie,
                                       1.0f + 0x3p-11f,
                                       65520.0f,
                                       -1e10f,
                                       3.4e38f,
                                       0x1.8p-25f,
                                       1e-40f,
                                       0.0f,
                                       -0.0f,
                                       std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::quiet_NaN(),
                                       -0.1f,
                                       std::bit_cast<float>(0xff800001u)};
  std::vector<float> k(num_kv_heads * head_dim), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = specials[i % specials.size()];
    v[i] = specials[(i + 5) % specials.size()];
  }
  const token_location at{9, blocks.data()};  // block 4, slot 1
  store_kv(layout, &at, 1, k.data(), v.data(), format_, k_words_.data(), v_words_.data());
  const int64_t offset = 4 * layout.block_stride() + 1 * num_kv_heads * head_dim;
  for (size_t i = 0; i < k.size(); ++i) {
    EXPECT_EQ(k_words_[offset + i], reference_bits(k[i], format_)) << k[i];
    EXPECT_EQ(v_words_[offset + i], reference_bits(v[i], format_)) << v[i];
  }
  // Spot checks of the reference itself: ties went to even, NaN stays NaN.
  EXPECT_EQ(reference_bits(bf16_tie, half_format::bf16), 0x3f80);
  EXPECT_EQ(reference_bits(f16_tie, half_format::f16), 0x3c00);
  EXPECT_EQ(reference_bits(65520.0f, half_format::f16), 0x7c00);
  const uint16_t nan = k_words_[offset + 13];
  EXPECT_TRUE(std::isnan(format_ == half_format::bf16 ? bf16_to_f32(nan) : f16_to_f32(nan)));
}

TEST_P(half_attention, equals_f32_attention_over_the_widened_cache_bitwise) {
  const int64_t row = num_heads * head_dim;
  auto q = random_vector(len * row, 3, 1.0f);
  std::vector<float> half_out(q.size()), f32_out(q.size());
  thread_pool pool(2);
  for (int32_t window : {0, 5}) {
    attend(q, half_out.data(), window);
    paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), k_wide_.data(),
                    v_wide_.data(), f32_out.data(), window);
    EXPECT_EQ(std::memcmp(half_out.data(), f32_out.data(), q.size() * sizeof(float)), 0) << window;
  }
}

TEST_P(half_attention, close_to_f32_attention_over_the_original_values) {
  const int64_t row = num_heads * head_dim;
  auto q = random_vector(len * row, 4, 1.0f);
  std::vector<float> f32_k(k_wide_.size()), f32_v(v_wide_.size());
  store_kv(layout, tokens_.data(), len, k_.data(), v_.data(), f32_k.data(), f32_v.data());
  std::vector<float> half_out(q.size()), f32_out(q.size());
  attend(q, half_out.data(), 0, 1);
  thread_pool pool(1);
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), f32_k.data(),
                  f32_v.data(), f32_out.data());
  // Values up to 3 carry a relative error of 2^-9 (bf16) or 2^-12 (f16) at most.
  const float tolerance = format_ == half_format::bf16 ? 0.03f : 0.004f;
  float worst = 0.0f;
  for (size_t i = 0; i < q.size(); ++i) {
    EXPECT_NEAR(half_out[i], f32_out[i], tolerance) << i;
    worst = std::max(worst, std::abs(half_out[i] - f32_out[i]));
  }
  EXPECT_GT(worst, 0.0f);  // the cache really is 16-bit
}

TEST_P(half_attention, query_result_is_bitwise_independent_of_the_batch) {
  const int64_t row = num_heads * head_dim;
  auto q = random_vector(len * row, 5, 1.0f);
  std::vector<float> batch(q.size());
  thread_pool pool(3);
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.25f, q.data(), format_,
                  k_words_.data(), v_words_.data(), batch.data());
  for (int32_t p = 0; p < len; ++p) {
    std::vector<float> alone(row);
    paged_attention(pool, layout, &tokens_[p], 1, num_heads, 0.25f, q.data() + p * row, format_,
                    k_words_.data(), v_words_.data(), alone.data());
    EXPECT_EQ(std::memcmp(alone.data(), batch.data() + p * row, row * sizeof(float)), 0) << p;
  }
}

INSTANTIATE_TEST_SUITE_P(formats, half_attention,
                         ::testing::Combine(::testing::Values(half_format::bf16, half_format::f16),
                                            ::testing::Values(12, 64, 128)),
                         [](const auto& info) {
                           const bool bf16 = std::get<0>(info.param) == half_format::bf16;
                           return std::string(bf16 ? "bf16" : "f16") + "_head_dim_" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace troupe::kernels::cpu
