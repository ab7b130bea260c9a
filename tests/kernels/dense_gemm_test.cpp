#include "kernels/cpu/dense_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

std::vector<dense_isa> supported_isas() {
  return test::supported_isas(dense_isa_supported);
}

TEST(dense_gemm, best_isa_is_supported) {
  EXPECT_TRUE(dense_isa_supported(dense_isa::scalar));
  EXPECT_TRUE(dense_isa_supported(dense_best_isa()));
}

TEST(dense_gemm, widening_is_exact) {
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xc040), -3.0f);
  EXPECT_EQ(f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_float(0x0001), 0x1p-24f);
  EXPECT_EQ(f16_to_float(0x8400), -0x1p-14f);
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)) && f16_to_float(0x8000) == 0.0f);
  EXPECT_TRUE(std::isinf(f16_to_float(0xfc00)) && f16_to_float(0xfc00) < 0);
#if defined(__x86_64__)
  if (dense_isa_supported(dense_isa::avx2)) {  // every finite f16 agrees with the F16C hardware
    for (uint32_t bits = 0; bits < 0x10000; ++bits) {
      if (((bits >> 10) & 0x1f) == 0x1f) continue;
      float ref = _cvtsh_ss(static_cast<unsigned short>(bits)), got = f16_to_float(bits);
      ASSERT_TRUE(bitwise_equal(&ref, &got, 1)) << std::hex << bits;
    }
  }
#endif
}

TEST(dense_gemm, scalar_dot_matches_double_reference) {
  for (int64_t K : {0, 1, 15, 16, 17, 100, 576}) {
    auto x = random_floats(K, 1), w = random_floats(K, 2);
    double ref = 0;
    for (int64_t k = 0; k < K; ++k)
      ref += double{x[k]} * w[k];
    EXPECT_NEAR(dense_dot_scalar(dense_type::f32, x.data(), w.data(), K), ref, 1e-5 * (1 + K));
  }
}

// Every implementation this CPU has, every weight type, awkward shapes: bitwise the reference.
TEST(dense_gemm, every_isa_equals_the_scalar_reference_bitwise) {
  thread_pool pool(2);
  for (dense_type type : all_dense_types) {
    for (int64_t K : {1, 15, 16, 17, 576, 1000, 1536}) {
      for (int64_t M : {1, 3, 17, 64, 130}) {
        for (int64_t N : {1, 5, 13, 37}) {
          auto x = random_floats(M * K, 3 + K + M);
          auto w = random_dense_weights(type, N * K, 4 + K + N);
          const int64_t w_row_bytes = static_cast<int64_t>(w.size()) / N;
          std::vector<float> ref(M * N);
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n)
              ref[m * N + n] = dense_dot_scalar(type, x.data() + m * K, &w[n * w_row_bytes], K);
          for (dense_isa isa : supported_isas()) {
            std::vector<float> y(M * N, -1.0f);
            dense_gemm_with(isa, pool, type, x.data(), M, K, w.data(), N, y.data());
            ASSERT_TRUE(bitwise_equal(y.data(), ref.data(), M * N))
                << name(type) << " isa " << static_cast<int>(isa) << " M=" << M << " K=" << K
                << " N=" << N;
          }
        }
      }
    }
  }
}

TEST(dense_gemm, half_precision_weights_equal_their_widened_f32) {
  thread_pool pool(2);
  const int64_t M = 19, K = 333, N = 70;
  auto x = random_floats(M * K, 5);
  for (dense_type type : {dense_type::bf16, dense_type::f16}) {
    auto w = random_dense_weights(type, N * K, 6);
    auto w32 = widened(type, w);
    std::vector<float> y(M * N), y32(M * N);
    dense_gemm(pool, type, x.data(), M, K, w.data(), N, y.data());
    dense_gemm(pool, dense_type::f32, x.data(), M, K, w32.data(), N, y32.data());
    EXPECT_TRUE(bitwise_equal(y.data(), y32.data(), M * N)) << name(type);
  }
}

TEST(dense_gemm, row_is_bitwise_equal_alone_or_inside_a_batch_for_any_thread_count) {
  const int64_t M = 23, K = 581, N = 203;
  auto x = random_floats(M * K, 11);
  for (dense_type type : all_dense_types) {
    auto w = random_dense_weights(type, N * K, 12);
    for (dense_isa isa : supported_isas()) {
      thread_pool pool1(1);
      std::vector<float> batch(M * N);
      dense_gemm_with(isa, pool1, type, x.data(), M, K, w.data(), N, batch.data());
      for (int threads : {1, 2, 3, 5}) {
        thread_pool pool(threads);
        for (int64_t m = 0; m < M; ++m) {
          std::vector<float> alone(N);
          dense_gemm_with(isa, pool, type, x.data() + m * K, 1, K, w.data(), N, alone.data());
          ASSERT_TRUE(bitwise_equal(alone.data(), batch.data() + m * N, N))
              << name(type) << " isa " << static_cast<int>(isa) << " row " << m << " threads "
              << threads;
        }
        std::vector<float> again(M * N);
        dense_gemm_with(isa, pool, type, x.data(), M, K, w.data(), N, again.data());
        EXPECT_TRUE(bitwise_equal(again.data(), batch.data(), M * N)) << "threads " << threads;
      }
    }
  }
}

// Blocks of W rows larger than one L2 block (K * N * 4 bytes > 512 KiB) and many tasks.
TEST(dense_gemm, wide_matrices_split_into_blocks_and_tasks_equal_the_reference) {
  thread_pool pool(3);
  const int64_t M = 7, K = 576, N = 1000;
  auto x = random_floats(M * K, 13);
  auto w = random_dense_weights(dense_type::f32, N * K, 14);
  const float* w32 = reinterpret_cast<const float*>(w.data());
  std::vector<float> y(M * N);
  dense_gemm(pool, dense_type::f32, x.data(), M, K, w.data(), N, y.data());
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      float ref = dense_dot_scalar(dense_type::f32, x.data() + m * K, w32 + n * K, K);
      ASSERT_TRUE(bitwise_equal(&y[m * N + n], &ref, 1)) << "m=" << m << " n=" << n;
    }
  }
}

TEST(dense_gemm, empty_shapes_are_no_ops) {
  thread_pool pool(2);
  std::vector<float> y(4, 5.0f);
  dense_gemm(pool, dense_type::bf16, nullptr, 0, 8, nullptr, 4, y.data());
  dense_gemm(pool, dense_type::f32, nullptr, 4, 8, nullptr, 0, y.data());
  EXPECT_EQ(y[0], 5.0f);
  std::vector<float> x(2, 1.0f);
  for (dense_isa isa : supported_isas()) {  // K = 0: zeros
    y.assign(4, 5.0f);
    dense_gemm_with(isa, pool, dense_type::f16, x.data(), 1, 0, nullptr, 2, y.data());
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[1], 0.0f);
  }
}

}  // namespace
}  // namespace troupe::kernels::cpu
