// Sliding-window attention: a query at position p sees exactly the keys in (p - window, p], and
// add_bias adds a row bias.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/elementwise.hpp"

namespace troupe::kernels::cpu {
namespace {

constexpr int32_t block_size = 4, num_kv_heads = 1, num_heads = 2, head_dim = 8, len = 23;

// Softmax-weighted mean of V rows lo..p for one head, in double.
std::vector<double> naive(const std::vector<float>& q, const std::vector<float>& k,
                          const std::vector<float>& v, int p, int lo, float scale) {
  std::vector<double> w, out(head_dim, 0.0);
  double mx = -1e300, sum = 0;
  for (int j = lo; j <= p; ++j) {
    double d = 0;
    for (int i = 0; i < head_dim; ++i)
      d += double{q[i]} * k[j * head_dim + i];
    w.push_back(d * scale);
    mx = std::max(mx, w.back());
  }
  for (auto& x : w)
    sum += (x = std::exp(x - mx));
  for (int j = lo; j <= p; ++j)
    for (int i = 0; i < head_dim; ++i)
      out[i] += w[j - lo] / sum * v[j * head_dim + i];
  return out;
}

TEST(sliding_window, sees_only_the_last_window_keys) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  auto random = [&](size_t n) {
    std::vector<float> x(n);
    for (auto& e : x)
      e = dist(rng);
    return x;
  };
  const paged_kv_layout layout{block_size, num_kv_heads, head_dim};
  std::vector<int32_t> blocks((len + block_size - 1) / block_size);
  std::iota(blocks.rbegin(), blocks.rend(), 0);  // reversed: scattered placement
  std::vector<float> k = random(len * head_dim), v = random(len * head_dim);
  std::vector<float> q = random(len * num_heads * head_dim);
  std::vector<token_location> tokens;
  for (int32_t p = 0; p < len; ++p)
    tokens.push_back({p, blocks.data()});
  std::vector<float> k_cache(blocks.size() * layout.block_stride(), NAN), v_cache = k_cache;
  store_kv(layout, tokens.data(), len, k.data(), v.data(), k_cache.data(), v_cache.data());
  thread_pool pool(2);
  const float scale = 0.35f;
  for (int32_t window : {0, 1, 5, 8, 100}) {
    std::vector<float> out(q.size());
    paged_attention(pool, layout, tokens.data(), len, num_heads, scale, q.data(), k_cache.data(),
                    v_cache.data(), out.data(), window);
    for (int p = 0; p < len; ++p) {
      const int lo = window > 0 ? std::max(0, p - window + 1) : 0;
      for (int h = 0; h < num_heads; ++h) {
        const size_t offset = (p * num_heads + h) * head_dim;
        std::vector<float> qh(q.begin() + offset, q.begin() + offset + head_dim);
        auto ref = naive(qh, k, v, p, lo, scale);
        for (int i = 0; i < head_dim; ++i)
          ASSERT_NEAR(out[offset + i], ref[i], 1e-5) << window << " " << p << " " << h;
      }
    }
  }
}

TEST(add_bias, adds_the_bias_to_every_row) {
  std::vector<float> y = {1, 2, 3, 4, 5, 6};
  const std::vector<float> bias = {10, 20, 30};
  add_bias(y.data(), bias.data(), 2, 3);
  EXPECT_EQ(y, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

}  // namespace
}  // namespace troupe::kernels::cpu
