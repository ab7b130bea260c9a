// paged attention over an fp8 cache (attention.hpp): the f32 math over the dequantized cache.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "tests/kernels/attention_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

constexpr int32_t head_dim = 12;
const paged_kv_layout layout{block_size, num_kv_heads, head_dim};

// One sequence of `len` tokens stored into an fp8 cache, and the same cache dequantized to f32.
class fp8_attention : public ::testing::TestWithParam<fp8_kv> {
 protected:
  void SetUp() override {
    fp8_ = GetParam();
    const auto size = static_cast<size_t>(num_blocks * layout.block_stride());
    k_codes_.assign(size, 0);
    v_codes_.assign(size, 0);
    k_ = random_vector(len * num_kv_heads * head_dim, 1, 3.0f);
    v_ = random_vector(len * num_kv_heads * head_dim, 2, 3.0f);
    for (int32_t p = 0; p < len; ++p)
      tokens_.push_back({p, blocks.data()});
    store_kv(layout, tokens_.data(), len, k_.data(), v_.data(), fp8_, k_codes_.data(),
             v_codes_.data());
    k_dequant_.resize(size);
    v_dequant_.resize(size);
    dequantize_fp8(k_codes_.data(), size, fp8_.k_scale, fp8_.format, k_dequant_.data());
    dequantize_fp8(v_codes_.data(), size, fp8_.v_scale, fp8_.format, v_dequant_.data());
  }
  fp8_kv fp8_;
  std::vector<uint8_t> k_codes_, v_codes_;
  std::vector<float> k_, v_, k_dequant_, v_dequant_;
  std::vector<token_location> tokens_;
};

TEST_P(fp8_attention, store_kv_writes_one_code_per_element_by_block_table) {
  // Position 6: block_table[6 / 4] = 1, slot 2.
  const int64_t row = num_kv_heads * head_dim;
  const uint8_t* slot = k_codes_.data() + 1 * layout.block_stride() + 2 * row;
  const uint8_t* vslot = v_codes_.data() + 1 * layout.block_stride() + 2 * row;
  for (int64_t i = 0; i < row; ++i) {
    EXPECT_EQ(slot[i], float_to_fp8(k_[6 * row + i] / fp8_.k_scale, fp8_.format)) << i;
    EXPECT_EQ(vslot[i], float_to_fp8(v_[6 * row + i] / fp8_.v_scale, fp8_.format)) << i;
  }
}

TEST_P(fp8_attention, equals_f32_attention_over_the_dequantized_cache_bitwise) {
  const int64_t row = num_heads * head_dim;
  auto q = random_vector(len * row, 3, 1.0f);
  std::vector<float> fp8_out(q.size()), f32_out(q.size());
  thread_pool pool(2);
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), fp8_,
                  k_codes_.data(), v_codes_.data(), fp8_out.data());
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), k_dequant_.data(),
                  v_dequant_.data(), f32_out.data());
  EXPECT_EQ(std::memcmp(fp8_out.data(), f32_out.data(), q.size() * sizeof(float)), 0);
  // Sliding window too.
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), fp8_,
                  k_codes_.data(), v_codes_.data(), fp8_out.data(), 5);
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), k_dequant_.data(),
                  v_dequant_.data(), f32_out.data(), 5);
  EXPECT_EQ(std::memcmp(fp8_out.data(), f32_out.data(), q.size() * sizeof(float)), 0);
}

TEST_P(fp8_attention, close_to_f32_attention_over_the_original_values) {
  const int64_t row = num_heads * head_dim;
  auto q = random_vector(len * row, 4, 1.0f);
  std::vector<float> f32_k(k_dequant_.size()), f32_v(v_dequant_.size());
  store_kv(layout, tokens_.data(), len, k_.data(), v_.data(), f32_k.data(), f32_v.data());
  std::vector<float> fp8_out(q.size()), f32_out(q.size());
  thread_pool pool(1);
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), fp8_,
                  k_codes_.data(), v_codes_.data(), fp8_out.data());
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.3f, q.data(), f32_k.data(),
                  f32_v.data(), f32_out.data());
  // Values up to 3 carry a relative error of 2^-4 (e4m3) or 2^-3 (e5m2) at most.
  const float tolerance = fp8_.format == fp8_format::e4m3 ? 0.25f : 0.5f;
  for (size_t i = 0; i < q.size(); ++i)
    EXPECT_NEAR(fp8_out[i], f32_out[i], tolerance) << i;
}

TEST_P(fp8_attention, query_result_is_bitwise_independent_of_the_batch) {
  const int64_t row = num_heads * head_dim;
  auto q = random_vector(len * row, 5, 1.0f);
  std::vector<float> batch(q.size());
  thread_pool pool(3);
  paged_attention(pool, layout, tokens_.data(), len, num_heads, 0.25f, q.data(), fp8_,
                  k_codes_.data(), v_codes_.data(), batch.data());
  for (int32_t p = 0; p < len; ++p) {
    std::vector<float> alone(row);
    paged_attention(pool, layout, &tokens_[p], 1, num_heads, 0.25f, q.data() + p * row, fp8_,
                    k_codes_.data(), v_codes_.data(), alone.data());
    EXPECT_EQ(std::memcmp(alone.data(), batch.data() + p * row, row * sizeof(float)), 0) << p;
  }
}

INSTANTIATE_TEST_SUITE_P(formats_and_scales, fp8_attention,
                         ::testing::Values(fp8_kv{fp8_format::e4m3, 1.0f, 1.0f},
                                           fp8_kv{fp8_format::e5m2, 1.0f, 1.0f},
                                           fp8_kv{fp8_format::e4m3, 0.02f, 0.5f},
                                           fp8_kv{fp8_format::e5m2, 2.0f, 0.125f}));

}  // namespace
}  // namespace troupe::kernels::cpu
