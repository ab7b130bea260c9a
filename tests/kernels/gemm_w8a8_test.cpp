#include "kernels/cpu/gemm_w8a8.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/activation.hpp"

namespace troupe::kernels::cpu {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

std::vector<int8_t> random_int8(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v)
    x = static_cast<int8_t>(dist(rng));
  return v;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// vLLM's formulas written out independently, without the kernel's helpers: round half to even
// by hand in double (exact for these magnitudes), sums in int64.
double round_half_even(double v) {
  double f = std::floor(v), diff = v - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
}

struct reference_token {
  std::vector<int64_t> q;
  float scale = 0;
  int64_t azp = 0;
};

reference_token reference_quantize(const float* x, int64_t K, bool asymmetric) {
  reference_token t;
  t.q.resize(K);
  if (!asymmetric) {
    float absmax = 0;
    for (int64_t k = 0; k < K; ++k)
      absmax = std::max(absmax, std::fabs(x[k]));
    t.scale = absmax / 127.0f;
    if (absmax == 0) return t;  // q = 0
    const float inv = 127.0f / absmax;
    for (int64_t k = 0; k < K; ++k) {
      const float v = x[k] * inv;  // one f32 multiply, as vLLM
      t.q[k] = static_cast<int64_t>(std::clamp(round_half_even(v), -128.0, 127.0));
    }
    return t;
  }
  float max = FLT_MIN, min = FLT_MAX;
  for (int64_t k = 0; k < K; ++k) {
    max = std::max(max, x[k]);
    min = std::min(min, x[k]);
  }
  t.scale = (max - min) / 255.0f;
  if (t.scale == 0) {
    t.scale = 0;
    return t;
  }
  const float shifted = -128.0f - min / t.scale;
  t.azp = static_cast<int64_t>(round_half_even(shifted));
  for (int64_t k = 0; k < K; ++k) {
    const float v = x[k] / t.scale;
    t.q[k] = std::clamp<int64_t>(static_cast<int64_t>(round_half_even(v)) + t.azp, -128, 127);
  }
  return t;
}

std::vector<float> reference_gemm(const std::vector<float>& x, int64_t M, int64_t K,
                                  const std::vector<int8_t>& w, const std::vector<float>& w_scale,
                                  int64_t N, bool asymmetric) {
  std::vector<float> y(M * N);
  for (int64_t m = 0; m < M; ++m) {
    reference_token t = reference_quantize(x.data() + m * K, K, asymmetric);
    for (int64_t n = 0; n < N; ++n) {
      int64_t acc = 0, row_sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        acc += t.q[k] * w[n * K + k];
        row_sum += w[n * K + k];
      }
      const float corrected = static_cast<float>(acc - t.azp * row_sum);
      y[m * N + n] = t.scale * (w_scale[n] * corrected);
    }
  }
  return y;
}

struct problem {
  int64_t M, K, N;
  std::vector<float> x, w_scale;
  std::vector<int8_t> w;
  std::vector<int32_t> row_sums;
  problem(int64_t m, int64_t k, int64_t n, uint32_t seed) : M(m), K(k), N(n) {
    x = random_floats(M * K, seed, -3.0f, 2.0f);
    w = random_int8(N * K, seed + 1);
    w_scale = random_floats(N, seed + 2, 1e-3f, 2e-2f);
    row_sums = w8a8_row_sums(w.data(), N, K);
  }
  std::vector<float> run(w8a8_path path, thread_pool& pool, bool asymmetric) const {
    std::vector<float> y(M * N, -7.0f);
    gemm_w8a8_on(path, pool, x.data(), M, K, w.data(), w_scale.data(), row_sums.data(), N,
                 asymmetric, y.data());
    return y;
  }
};

TEST(gemm_w8a8, lists_the_paths_this_cpu_runs) {
  const auto& paths = w8a8_supported_paths();
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths.front(), w8a8_path::scalar);
  std::string names;
  for (auto p : paths)
    names += std::string(w8a8_path_name(p)) + " ";
  std::printf("w8a8 paths: %s\n", names.c_str());
}

TEST(gemm_w8a8, every_path_equals_the_reference_bitwise) {
  thread_pool pool(2);
  for (bool asymmetric : {false, true}) {
    for (int64_t M : {1, 2, 3, 5, 16, 17, 33, 48}) {
      for (int64_t K : {1, 15, 16, 17, 63, 64, 65, 130, 576}) {
        for (int64_t N : {1, 3, 4, 5, 9, 67}) {
          problem p(M, K, N, static_cast<uint32_t>(M * 1000 + K * 10 + N));
          const auto ref = reference_gemm(p.x, M, K, p.w, p.w_scale, N, asymmetric);
          for (w8a8_path path : w8a8_supported_paths()) {
            ASSERT_TRUE(bitwise_equal(p.run(path, pool, asymmetric), ref))
                << w8a8_path_name(path) << " asym=" << asymmetric << " M=" << M << " K=" << K
                << " N=" << N;
          }
        }
      }
    }
  }
}

TEST(gemm_w8a8, batch_invariant_across_batch_sizes_and_threads) {
  const int64_t K = 200, N = 150, M_max = 70;
  problem big(M_max, K, N, 5);
  for (bool asymmetric : {false, true}) {
    thread_pool one(1);
    const auto full = big.run(w8a8_supported_paths().back(), one, asymmetric);
    for (int threads : {1, 2, 3}) {
      thread_pool pool(threads);
      for (int64_t M : {1, 2, 4, 7, 16, 33, 70}) {
        problem p = big;
        p.M = M;
        p.x.resize(M * K);
        const auto y = p.run(w8a8_supported_paths().back(), pool, asymmetric);
        ASSERT_EQ(std::memcmp(y.data(), full.data(), y.size() * sizeof(float)), 0)
            << "M=" << M << " threads=" << threads << " asym=" << asymmetric;
      }
    }
  }
}

TEST(gemm_w8a8, large_prefill_matches_the_reference) {
  thread_pool pool(2);
  problem p(300, 576, 70, 9);  // quantized in parallel: M * K above the caller-only threshold
  for (bool asymmetric : {false, true}) {
    const auto ref = reference_gemm(p.x, p.M, p.K, p.w, p.w_scale, p.N, asymmetric);
    for (w8a8_path path : w8a8_supported_paths())
      EXPECT_TRUE(bitwise_equal(p.run(path, pool, asymmetric), ref)) << w8a8_path_name(path);
  }
}

// W regrouped once into AMX tiles (the CPU backend's form on an AMX CPU): the reference's bits at
// every M from one row up, on 1 and 2 threads.
TEST(gemm_w8a8, tiles_packed_once_equal_the_reference_bitwise) {
  if (!w8a8_tiles_supported()) GTEST_SKIP() << "this CPU has no usable AMX-INT8 tiles";
  for (int threads : {1, 2}) {
    thread_pool pool(threads);
    for (bool asymmetric : {false, true}) {
      for (int64_t M : {1, 3, 16, 17, 40}) {
        for (int64_t K : {1, 63, 64, 130, 576}) {
          for (int64_t N : {1, 31, 33, 67}) {
            problem p(M, K, N, static_cast<uint32_t>(M * 7 + K * 3 + N));
            const auto tiles = pack_w8a8_tiles(p.w.data(), N, K);
            EXPECT_EQ(tiles.size_bytes(), (N + 31) / 32 * 32 * ((K + 63) / 64 * 64));
            std::vector<int8_t> row(K);
            for (int64_t n = 0; n < N; ++n) {
              w8a8_tiles_row(tiles, n, row.data());
              ASSERT_TRUE(std::equal(row.begin(), row.end(), p.w.begin() + n * K)) << "row " << n;
            }
            std::vector<float> y(M * N, -7.0f);
            gemm_w8a8_tiles(pool, p.x.data(), M, tiles, p.w_scale.data(), p.row_sums.data(),
                            asymmetric, y.data());
            ASSERT_TRUE(bitwise_equal(y, reference_gemm(p.x, M, K, p.w, p.w_scale, N, asymmetric)))
                << "M=" << M << " K=" << K << " N=" << N << " asym=" << asymmetric
                << " threads=" << threads;
          }
        }
      }
    }
  }
}

// Several products of one x in one job (q/k/v, gate/up): each its own reference bits, whatever
// their sizes (a product with no rows included) and the number of threads.
TEST(gemm_w8a8, tiles_many_give_each_product_its_reference_bits) {
  if (!w8a8_tiles_supported()) GTEST_SKIP() << "this CPU has no usable AMX-INT8 tiles";
  const int64_t K = 130;
  for (int threads : {1, 2}) {
    thread_pool pool(threads);
    for (bool asymmetric : {false, true}) {
      for (int64_t M : {1, 16, 40}) {
        std::vector<problem> ps;
        for (int64_t N : {96, 0, 33, 200})
          ps.emplace_back(M, K, N, static_cast<uint32_t>(N * 5 + M));
        for (problem& p : ps)
          p.x = ps[0].x;
        std::vector<w8a8_tiles> tiles;
        for (const problem& p : ps)
          tiles.push_back(pack_w8a8_tiles(p.w.data(), p.N, K));
        std::vector<std::vector<float>> ys;
        for (const problem& p : ps)
          ys.emplace_back(M * p.N, -7.0f);
        std::vector<w8a8_tiles_product> products;
        for (size_t i = 0; i < ps.size(); ++i)
          products.push_back(
              {&tiles[i], ps[i].w_scale.data(), ps[i].row_sums.data(), ys[i].data()});
        gemm_w8a8_tiles_many(pool, ps[0].x.data(), M, products, asymmetric);
        for (size_t i = 0; i < ps.size(); ++i) {
          EXPECT_TRUE(bitwise_equal(
              ys[i], reference_gemm(ps[i].x, M, K, ps[i].w, ps[i].w_scale, ps[i].N, asymmetric)))
              << "product " << i << " M=" << M << " asym=" << asymmetric << " threads=" << threads;
        }
      }
    }
  }
}

// The down projection of a SiLU: gemm_w8a8_tiles of silu_mul's f32 rows, bit for bit.
TEST(gemm_w8a8, tiles_silu_of_gate_and_up_equals_the_product_of_silu_mul) {
  if (!w8a8_tiles_supported()) GTEST_SKIP() << "this CPU has no usable AMX-INT8 tiles";
  for (int threads : {1, 2}) {
    thread_pool pool(threads);
    for (bool asymmetric : {false, true}) {
      for (int64_t K : {130, 1536}) {
        for (int64_t M : {1, 3, 16, 70}) {
          problem p(M, K, 40, static_cast<uint32_t>(M + K));
          const auto up = random_floats(M * K, 17);
          std::vector<float> x(M * K), expected(M * p.N, -1.0f), y(M * p.N, -2.0f);
          silu_mul(p.x.data(), up.data(), M * K, x.data());
          const auto tiles = pack_w8a8_tiles(p.w.data(), p.N, K);
          gemm_w8a8_tiles(pool, x.data(), M, tiles, p.w_scale.data(), p.row_sums.data(), asymmetric,
                          expected.data());
          gemm_w8a8_tiles_silu(pool, p.x.data(), up.data(), M, tiles, p.w_scale.data(),
                               p.row_sums.data(), asymmetric, y.data());
          EXPECT_TRUE(bitwise_equal(y, expected))
              << "M=" << M << " K=" << K << " asym=" << asymmetric << " threads=" << threads;
        }
      }
    }
  }
}

TEST(gemm_w8a8, all_zero_rows_give_zero) {
  thread_pool pool(2);
  problem p(3, 70, 9, 11);
  std::fill(p.x.begin() + 70, p.x.begin() + 140, 0.0f);  // row 1
  for (bool asymmetric : {false, true}) {
    std::vector<int8_t> q(70, 99);
    w8a8_token_scale s = w8a8_quantize_token(p.x.data() + 70, 70, asymmetric, q.data());
    if (!asymmetric) {
      EXPECT_EQ(s.scale, 0.0f);
      for (int8_t v : q)
        EXPECT_EQ(v, 0);
    } else {
      // vLLM's max starts at FLT_MIN: scale FLT_MIN / 255 (subnormal), azp -128, q = -128.
      EXPECT_EQ(s.scale, FLT_MIN / 255.0f);
      EXPECT_EQ(s.azp, -128);
      for (int8_t v : q)
        EXPECT_EQ(v, -128);
    }
    const auto ref = reference_gemm(p.x, p.M, p.K, p.w, p.w_scale, p.N, asymmetric);
    for (w8a8_path path : w8a8_supported_paths()) {
      const auto y = p.run(path, pool, asymmetric);
      EXPECT_TRUE(bitwise_equal(y, ref)) << w8a8_path_name(path);
      for (int64_t n = 0; n < p.N; ++n)
        EXPECT_EQ(y[1 * p.N + n], 0.0f);
    }
  }
}

TEST(gemm_w8a8, constant_positive_row_is_zero_in_asymmetric_mode) {
  std::vector<float> x(40, 0.75f);
  std::vector<int8_t> q(40, 5);
  w8a8_token_scale s = w8a8_quantize_token(x.data(), 40, true, q.data());
  EXPECT_EQ(s.scale, 0.0f);
  EXPECT_EQ(s.azp, 0);
  for (int8_t v : q)
    EXPECT_EQ(v, 0);
}

TEST(gemm_w8a8, symmetric_quantization_rounds_half_even_and_saturates) {
  // absmax 127 makes the inverse scale exactly 1, so q = rn(x). Three copies (24 values), so the
  // 16-wide SIMD loop sees them as well as the scalar tail; a NaN is skipped by the maximum and
  // quantizes to 0.
  const std::vector<float> values = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -127.0f, 126.49f};
  const std::vector<int8_t> expected = {127, 0, 2, 2, 0, -2, -127, 126};
  std::vector<float> x;
  std::vector<int8_t> expect;
  for (int copy = 0; copy < 3; ++copy) {
    x.insert(x.end(), values.begin(), values.end());
    expect.insert(expect.end(), expected.begin(), expected.end());
  }
  x[9] = NAN;
  expect[9] = 0;
  std::vector<int8_t> q(x.size());
  w8a8_token_scale s =
      w8a8_quantize_token(x.data(), static_cast<int64_t>(x.size()), false, q.data());
  EXPECT_EQ(s.scale, 1.0f);
  EXPECT_EQ(s.azp, 0);
  EXPECT_EQ(q, expect);
}

TEST(gemm_w8a8, extreme_weights_and_activations_stay_exact) {
  // Every product at the int8 extremes: the VNNI offset and AVX2 madd must not saturate.
  thread_pool pool(2);
  const int64_t M = 4, K = 4096, N = 8;
  problem p(M, K, N, 3);
  for (int64_t i = 0; i < M * K; ++i)
    p.x[i] = (i % 2 == 0) ? -1.0f : 1.0f;
  for (int64_t i = 0; i < N * K; ++i)
    p.w[i] = (i / K) % 2 == 0 ? int8_t{-128} : int8_t{127};
  p.row_sums = w8a8_row_sums(p.w.data(), N, K);
  for (bool asymmetric : {false, true}) {
    const auto ref = reference_gemm(p.x, M, K, p.w, p.w_scale, N, asymmetric);
    for (w8a8_path path : w8a8_supported_paths())
      EXPECT_TRUE(bitwise_equal(p.run(path, pool, asymmetric), ref)) << w8a8_path_name(path);
  }
}

TEST(gemm_w8a8, asymmetric_uses_the_full_range_of_a_shifted_row) {
  // Values in [0, 5.1]: the zero point moves the grid so q spans -128..127.
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.02f * static_cast<float>(i);
  std::vector<int8_t> q(x.size());
  w8a8_token_scale s = w8a8_quantize_token(x.data(), 256, true, q.data());
  EXPECT_EQ(s.scale, (x.back() - 0.0f) / 255.0f);
  EXPECT_EQ(s.azp, -128);
  EXPECT_EQ(q.front(), -128);
  EXPECT_EQ(q.back(), 127);
}

TEST(gemm_w8a8, row_sums_are_exact) {
  std::vector<int8_t> w = {-128, -128, 127, 1, 2, 3};
  EXPECT_EQ(w8a8_row_sums(w.data(), 2, 3), (std::vector<int32_t>{-129, 6}));
}

}  // namespace
}  // namespace troupe::kernels::cpu
