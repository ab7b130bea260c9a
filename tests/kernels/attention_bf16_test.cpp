// paged attention's bf16 products (attention.hpp, attention_products::bf16): the scores and the
// weighted values are the documented VDPBF16PS chains bit for bit, the attention stays close to
// the f32 products' and is batch invariant. Skipped on CPUs without AVX512-BF16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_rows.hpp"
#include "tests/kernels/attention_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

float flush(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}

// One VDPBF16PS lane step as the instruction defines it: the odd pair's product first.
float dot_step(float c, const uint16_t* q, const uint16_t* k, int p) {
  const auto value = [](uint16_t w) { return flush(bf16_to_f32(w)); };
  c = flush(flush(c) + value(q[2 * p + 1]) * value(k[2 * p + 1]));
  return flush(c + value(q[2 * p]) * value(k[2 * p]));
}

// attention.hpp's score before the scale: ((c0 + c2) + (c1 + c3)).
float reference_score(const uint16_t* q, const uint16_t* k, int32_t d) {
  float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int p = 0; p < d / 2; ++p)
    c[p % 4] = dot_step(c[p % 4], q, k, p);
  return (c[0] + c[2]) + (c[1] + c[3]);
}

class bf16_products : public ::testing::TestWithParam<int32_t> {
 protected:
  void SetUp() override {
    head_dim = GetParam();
    if (!bf16_products_supported(head_dim))
      GTEST_SKIP() << "this CPU (or build) has no AVX512-BF16 attention products";
    layout = {block_size, num_kv_heads, head_dim};
    const auto size = static_cast<size_t>(num_blocks * layout.block_stride());
    k_words_.assign(size, 0);
    v_words_.assign(size, 0);
    const auto k = random_vector(len * num_kv_heads * head_dim, 1, 3.0f);
    const auto v = random_vector(len * num_kv_heads * head_dim, 2, 3.0f);
    for (int32_t p = 0; p < len; ++p)
      tokens_.push_back({p, blocks.data()});
    store_kv(layout, tokens_.data(), len, k.data(), v.data(), half_format::bf16, k_words_.data(),
             v_words_.data());
  }
  void attend(thread_pool& pool, const token_location* tokens, int64_t n, const float* q,
              float* out, attention_products products, int32_t window = 0) {
    paged_attention(pool, layout, tokens, n, num_heads, 0.3f, q, half_format::bf16, k_words_.data(),
                    v_words_.data(), out, window, products);
  }
  int32_t head_dim = 0;
  paged_kv_layout layout;
  std::vector<uint16_t> k_words_, v_words_;
  std::vector<token_location> tokens_;
};

TEST_P(bf16_products, queries_round_to_nearest_even_bf16) {
  const auto q = random_vector(head_dim, 3, 5.0f);
  std::vector<uint16_t> words(head_dim);
  attention_rows::round_query_bf16(q.data(), head_dim, words.data());
  for (int32_t i = 0; i < head_dim; ++i)
    EXPECT_EQ(words[i], f32_to_bf16(q[i])) << q[i];
}

TEST_P(bf16_products, scores_are_the_documented_chains_bit_for_bit) {
  constexpr int key_block = attention_rows::key_block;
  const auto kf = random_vector(key_block * head_dim, 4, 3.0f);
  std::vector<uint16_t> k(kf.size());
  round_to_half(kf.data(), static_cast<int64_t>(kf.size()), half_format::bf16, k.data());
  for (int rows : {1, 3, 6, 7, 13}) {
    const auto qf = random_vector(rows * head_dim, 5 + rows, 1.0f);
    std::vector<uint16_t> q(qf.size());
    round_to_half(qf.data(), static_cast<int64_t>(qf.size()), half_format::bf16, q.data());
    std::vector<const uint16_t*> qs(rows);
    for (int r = 0; r < rows; ++r)
      qs[r] = q.data() + r * head_dim;
    const uint16_t* keys[key_block];
    for (int i = 0; i < key_block; ++i)
      keys[i] = k.data() + (i == 5 ? 2 : i) * head_dim;  // a repeated key scores alike
    std::vector<float> out(rows * key_block, -1.0f);
    attention_rows::bf16_score_rows(qs.data(), rows, keys, head_dim, out.data());
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < key_block; ++i) {
        const float expected = reference_score(qs[r], keys[i], head_dim);
        EXPECT_EQ(std::memcmp(&out[r * key_block + i], &expected, sizeof(float)), 0)
            << "row " << r << " key " << i << ": " << out[r * key_block + i] << " vs " << expected;
      }
  }
}

// Two blocks of values (the second with an odd count) into rows that start at zero, then put in
// order: each element is the documented chain over key pairs, bit for bit; the sums are the
// weights added in ascending order.
TEST_P(bf16_products, values_are_the_documented_chains_bit_for_bit) {
  constexpr int counts[] = {32, 13};
  const auto vf = random_vector(45 * head_dim, 8, 3.0f);
  std::vector<uint16_t> v(vf.size());
  round_to_half(vf.data(), static_cast<int64_t>(vf.size()), half_format::bf16, v.data());
  for (int rows : {1, 2, 3, 4, 5, 9}) {
    std::vector<float> e = random_vector(rows * 45, 9 + rows, 1.0f);
    for (float& x : e)
      x = std::abs(x);
    std::vector<float> out(rows * head_dim, 0.0f), sums(rows, 0.5f);
    std::vector<float*> outs(rows);
    for (int r = 0; r < rows; ++r)
      outs[r] = out.data() + r * head_dim;
    int j0 = 0;
    for (int count : counts) {
      std::vector<const uint16_t*> values(count);
      std::vector<const float*> es(rows);
      for (int j = 0; j < count; ++j)
        values[j] = v.data() + (j0 + j) * head_dim;
      for (int r = 0; r < rows; ++r)
        es[r] = e.data() + r * 45 + j0;
      attention_rows::bf16_accumulate_values(values.data(), es.data(), rows, count, head_dim,
                                             outs.data(), sums.data());
      j0 += count;
    }
    for (int r = 0; r < rows; ++r) {
      attention_rows::bf16_values_to_order(outs[r], head_dim);
      float sum = 0.5f;
      for (int j = 0; j < 45; ++j)
        sum += e[r * 45 + j];
      EXPECT_EQ(std::memcmp(&sums[r], &sum, sizeof(float)), 0) << "row " << r;
      for (int32_t i = 0; i < head_dim; ++i) {
        float o = 0.0f;
        auto add = [&](int j) {
          const float w = flush(bf16_to_f32(f32_to_bf16(e[r * 45 + j])));
          o = flush(flush(o) + w * flush(bf16_to_f32(v[j * head_dim + i])));
        };
        for (int first = 0, block = 0; block < 2; first += counts[block++])
          for (int j = first; j < first + counts[block]; j += 2) {
            if (j + 1 < first + counts[block]) add(j + 1);
            add(j);
          }
        EXPECT_EQ(std::memcmp(&outs[r][i], &o, sizeof(float)), 0)
            << "row " << r << " element " << i << ": " << outs[r][i] << " vs " << o;
      }
    }
  }
}

TEST_P(bf16_products, attention_is_close_to_the_f32_products) {
  const int64_t row = num_heads * head_dim;
  const auto q = random_vector(len * row, 6, 1.0f);
  std::vector<float> bf16_out(q.size()), f32_out(q.size());
  thread_pool pool(2);
  for (int32_t window : {0, 5}) {
    attend(pool, tokens_.data(), len, q.data(), bf16_out.data(), attention_products::bf16, window);
    attend(pool, tokens_.data(), len, q.data(), f32_out.data(), attention_products::f32, window);
    // Queries rounded to bf16 move each score by about 2^-9 of |q| |k|.
    float worst = 0.0f;
    for (size_t i = 0; i < q.size(); ++i) {
      EXPECT_NEAR(bf16_out[i], f32_out[i], 0.05f) << i;
      worst = std::max(worst, std::abs(bf16_out[i] - f32_out[i]));
    }
    EXPECT_GT(worst, 0.0f) << window;  // the products really are bf16
  }
}

TEST_P(bf16_products, query_result_is_bitwise_independent_of_the_batch) {
  const int64_t row = num_heads * head_dim;
  const auto q = random_vector(len * row, 7, 1.0f);
  for (int threads : {1, 3}) {
    thread_pool pool(threads);
    for (int32_t window : {0, 5}) {
      std::vector<float> batch(q.size());
      attend(pool, tokens_.data(), len, q.data(), batch.data(), attention_products::bf16, window);
      for (int32_t p = 0; p < len; ++p) {
        std::vector<float> alone(row);
        attend(pool, &tokens_[p], 1, q.data() + p * row, alone.data(), attention_products::bf16,
               window);
        EXPECT_EQ(std::memcmp(alone.data(), batch.data() + p * row, row * sizeof(float)), 0)
            << "position " << p << ", window " << window << ", threads " << threads;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(head_dims, bf16_products, ::testing::Values(64, 128),
                         [](const auto& info) { return "head_dim_" + std::to_string(info.param); });

TEST(bf16_products_where, preferred_only_where_supported) {
  for (int32_t d : {12, 64, 96, 128})
    EXPECT_TRUE(!bf16_products_preferred(d) || bf16_products_supported(d)) << d;
  EXPECT_FALSE(bf16_products_supported(12));  // head dims 64 and 128 only
}

}  // namespace
}  // namespace troupe::kernels::cpu
