// quant_gemm: block decoding bitwise as runtime::dequantize, every SIMD path bitwise equal to the
// scalar reference, results close to the f32 product, and batch invariance.
#include "kernels/cpu/quant_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "runtime/formats/dequant.hpp"
#include "runtime/formats/ggml_types.hpp"
#include "runtime/formats/gguf.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

runtime::ggml_type ggml_type_of(block_format f) {
  using runtime::ggml_type;
  const ggml_type types[] = {ggml_type::q8_0, ggml_type::q4_0, ggml_type::q4_1, ggml_type::q5_0,
                             ggml_type::q5_1, ggml_type::q4_k, ggml_type::q5_k, ggml_type::q6_k};
  return types[static_cast<int>(f)];
}

// N rows of K weights: random quants with sane f16 scales (and mins) in every block.
std::vector<uint8_t> random_weights(block_format f, int64_t N, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> w(N * row_bytes(f, K));
  for (auto& b : w)
    b = static_cast<uint8_t>(byte(rng));
  set_sane_block_scales(f, w, rng);
  return w;
}

std::vector<float> run(quant_path path, thread_pool& pool, block_format f, const float* x,
                       int64_t M, int64_t K, const std::vector<uint8_t>& w, int64_t N) {
  std::vector<float> y(M * N, -12345.0f);
  quant_gemm_on(path, pool, f, x, M, K, w.data(), N, y.data());
  return y;
}

TEST(quant_gemm, block_sizes_match_ggml) {
  for (block_format f : all_block_formats) {
    const auto* info = runtime::ggml_type_info(static_cast<uint32_t>(ggml_type_of(f)));
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(block_elements(f), info->block_size) << name(f);
    EXPECT_EQ(block_bytes(f), info->type_size) << name(f);
    EXPECT_EQ(row_bytes(f, 4 * block_elements(f)), 4 * info->type_size) << name(f);
  }
}

TEST(quant_gemm, dequantize_row_equals_runtime_dequantize_bitwise) {
  for (block_format f : all_block_formats) {
    const int64_t rows = 3, cols = 4 * block_elements(f);
    auto w = random_weights(f, rows, cols, 11);
    std::vector<float> expected(rows * cols), got(rows * cols);
    ASSERT_TRUE(runtime::dequantize(static_cast<uint32_t>(ggml_type_of(f)), w, expected, "w"));
    for (int64_t r = 0; r < rows; ++r)
      dequantize_row(f, w.data() + r * row_bytes(f, cols), cols, got.data() + r * cols);
    EXPECT_TRUE(bitwise_equal(got, expected)) << name(f);
  }
}

TEST(quant_gemm, every_path_equals_scalar_bitwise) {
  thread_pool pool(2);
  for (block_format f : all_block_formats) {
    const int64_t bs = block_elements(f);
    for (int64_t K : {bs, 3 * bs, bs == 32 ? 18 * bs : 6 * bs}) {
      for (int64_t M : {1, 3, 17, 64, 130}) {
        for (int64_t N : {1, 5, 16, 37, 100}) {
          const auto x = random_normal_floats(M * K, 1 + M);
          const auto w = random_weights(f, N, K, 2 + N);
          const auto ref = run(quant_path::scalar, pool, f, x.data(), M, K, w, N);
          for (quant_path p : supported_quant_paths()) {
            if (p == quant_path::scalar) continue;
            EXPECT_TRUE(bitwise_equal(run(p, pool, f, x.data(), M, K, w, N), ref))
                << name(f) << " " << name(p) << " M=" << M << " K=" << K << " N=" << N;
          }
        }
      }
    }
  }
}

// The int8 product is within activation-quantization error of x * dequantized W.
TEST(quant_gemm, close_to_f32_product_of_dequantized_weights) {
  thread_pool pool(2);
  const int64_t M = 5, N = 23;
  for (block_format f : all_block_formats) {
    const int64_t K = 3 * block_elements(f) * (f == block_format::q8_0 ? 1 : 2);
    const auto x = random_normal_floats(M * K, 5);
    const auto w = random_weights(f, N, K, 6);
    std::vector<float> wf(N * K);
    for (int64_t n = 0; n < N; ++n)
      dequantize_row(f, w.data() + n * row_bytes(f, K), K, wf.data() + n * K);
    for (quant_path p : supported_quant_paths()) {
      const auto y = run(p, pool, f, x.data(), M, K, w, N);
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          double ref = 0, xx = 0, ww = 0;
          for (int64_t k = 0; k < K; ++k) {
            ref += double{x[m * K + k]} * wf[n * K + k];
            xx += double{x[m * K + k]} * x[m * K + k];
            ww += double{wf[n * K + k]} * wf[n * K + k];
          }
          ASSERT_NEAR(y[m * N + n], ref, 2e-3 * std::sqrt(xx * ww))
              << name(f) << " " << name(p) << " m=" << m << " n=" << n;
        }
      }
    }
  }
}

// Row m computed alone equals row m inside any batch, for any number of threads.
TEST(quant_gemm, batch_invariant_across_batch_sizes_and_threads) {
  const int64_t M = 37, N = 70;
  for (block_format f : all_block_formats) {
    const int64_t K = 2 * block_elements(f);
    const auto x = random_normal_floats(M * K, 9);
    const auto w = random_weights(f, N, K, 10);
    for (quant_path p : supported_quant_paths()) {
      for (int threads : {1, 2, 3}) {
        thread_pool pool(threads);
        const auto batch = run(p, pool, f, x.data(), M, K, w, N);
        for (int64_t m : {int64_t{0}, int64_t{5}, M - 1}) {
          const auto alone = run(p, pool, f, x.data() + m * K, 1, K, w, N);
          EXPECT_EQ(std::memcmp(alone.data(), batch.data() + m * N, N * sizeof(float)), 0)
              << name(f) << " " << name(p) << " threads=" << threads << " m=" << m;
        }
      }
    }
  }
}

TEST(quant_gemm, empty_shapes_write_nothing) {
  thread_pool pool(2);
  auto w = random_weights(block_format::q4_1, 3, 32, 1);
  std::vector<float> x(32, 1.0f), y(3, 7.0f);
  quant_gemm(pool, block_format::q4_1, x.data(), 0, 32, w.data(), 3, y.data());
  quant_gemm(pool, block_format::q4_1, x.data(), 1, 32, w.data(), 0, y.data());
  EXPECT_EQ(y, std::vector<float>(3, 7.0f));
}

}  // namespace
}  // namespace troupe::kernels::cpu
