#include "kernels/cpu/gemm.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/dot.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

TEST(dot, simd_equals_scalar_bitwise_for_every_length) {
  for (int64_t n = 0; n <= 70; ++n) {
    auto x = random_floats(n, 1 + n), w = random_floats(n, 100 + n);
    float a = dot(x.data(), w.data(), n), b = dot_scalar(x.data(), w.data(), n);
    EXPECT_TRUE(bitwise_equal(&a, &b, 1)) << "n=" << n;
  }
}

TEST(dot, eight_at_once_equal_eight_dots_bitwise) {
  for (int64_t n = 0; n <= 70; ++n) {
    auto x = random_floats(n, 3 + n);
    std::vector<std::vector<float>> w;
    const float* rows[8];
    for (int j = 0; j < 8; ++j) {
      // Mixed magnitudes, so that a different addition order would show in the low bits.
      w.push_back(random_floats(n, 200 + 8 * n + j));
      for (int64_t k = 0; k < n; k += 3)
        w.back()[k] *= 1000.0f;
    }
    for (int j = 0; j < 8; ++j)
      rows[j] = w[j].data();
    float out[8];
    dot8(x.data(), rows, n, out);
    for (int j = 0; j < 8; ++j) {
      const float ref = dot_scalar(x.data(), rows[j], n);
      EXPECT_TRUE(bitwise_equal(&out[j], &ref, 1)) << "n=" << n << " j=" << j;
    }
  }
}

TEST(gemm, matches_double_reference_for_many_shapes) {
  thread_pool pool(2);
  for (int64_t M : {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33}) {
    for (int64_t K : {1, 7, 8, 13, 64, 100}) {
      for (int64_t N : {1, 3, 4, 9, 37, 130}) {
        auto x = random_floats(M * K, 7), w = random_floats(N * K, 8);
        std::vector<float> y(M * N, -1.0f);
        gemm(pool, x.data(), M, K, w.data(), N, y.data());
        for (int64_t m = 0; m < M; ++m) {
          for (int64_t n = 0; n < N; ++n) {
            double ref = 0;
            for (int64_t k = 0; k < K; ++k)
              ref += double{x[m * K + k]} * w[n * K + k];
            ASSERT_NEAR(y[m * N + n], ref, 1e-5 * (1 + K))
                << "M=" << M << " K=" << K << " N=" << N << " m=" << m << " n=" << n;
          }
        }
      }
    }
  }
}

TEST(gemm, every_element_is_the_canonical_dot) {
  thread_pool pool(2);
  const int64_t M = 33, K = 77, N = 45;
  auto x = random_floats(M * K, 3), w = random_floats(N * K, 4);
  std::vector<float> y(M * N);
  gemm(pool, x.data(), M, K, w.data(), N, y.data());
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      float ref = dot_scalar(x.data() + m * K, w.data() + n * K, K);
      ASSERT_TRUE(bitwise_equal(&y[m * N + n], &ref, 1)) << "m=" << m << " n=" << n;
    }
  }
}

TEST(gemm, row_is_bitwise_equal_alone_or_inside_a_batch_for_any_thread_count) {
  const int64_t M = 17, K = 581, N = 203;
  auto x = random_floats(M * K, 11), w = random_floats(N * K, 12);
  thread_pool pool1(1);
  std::vector<float> batch(M * N);
  gemm(pool1, x.data(), M, K, w.data(), N, batch.data());
  for (int threads : {1, 2, 3, 5}) {
    thread_pool pool(threads);
    for (int64_t m = 0; m < M; ++m) {
      std::vector<float> alone(N);
      gemm(pool, x.data() + m * K, 1, K, w.data(), N, alone.data());
      EXPECT_TRUE(bitwise_equal(alone.data(), batch.data() + m * N, N))
          << "row " << m << " threads " << threads;
    }
    std::vector<float> again(M * N);
    gemm(pool, x.data(), M, K, w.data(), N, again.data());
    EXPECT_TRUE(bitwise_equal(again.data(), batch.data(), M * N)) << "threads " << threads;
  }
}

TEST(gemm, columns_partition_does_not_change_results) {
  const int64_t M = 6, K = 40, N = 50;
  auto x = random_floats(M * K, 21), w = random_floats(N * K, 22);
  std::vector<float> whole(M * N), parts(M * N);
  gemm_columns(x.data(), M, K, w.data(), N, 0, N, whole.data());
  for (int64_t n0 = 0; n0 < N; n0 += 7)
    gemm_columns(x.data(), M, K, w.data(), N, n0, std::min<int64_t>(N, n0 + 7), parts.data());
  EXPECT_TRUE(bitwise_equal(whole.data(), parts.data(), M * N));
}

TEST(gemm, empty_shapes_are_no_ops) {
  thread_pool pool(2);
  std::vector<float> y(4, 5.0f);
  gemm(pool, nullptr, 0, 8, nullptr, 4, y.data());
  EXPECT_EQ(y[0], 5.0f);
}

}  // namespace
}  // namespace troupe::kernels::cpu
