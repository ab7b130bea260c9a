// quant_gemm_packed: bitwise equal to quant_gemm (the stored weights) on every code path, format
// and awkward shape; quant_packed_row equal to dequantize_row; batch invariant for any number of
// threads; the packed weight as big as the stored one.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/quant_blocks.hpp"
#include "kernels/cpu/quant_gemm.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

// N rows of K weights: random bytes with sane f16 scales (and mins) in every block.
std::vector<uint8_t> random_weights(block_format f, int64_t N, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> w(N * row_bytes(f, K));
  for (auto& b : w)
    b = static_cast<uint8_t>(rng());
  set_sane_block_scales(f, w, rng);
  return w;
}

std::vector<float> run_packed(quant_path p, thread_pool& pool, const quant_packed_weight& w,
                              const float* x, int64_t M) {
  std::vector<float> y(M * w.rows(), -12345.0f);
  quant_gemm_packed_on(p, pool, w, x, M, y.data());
  return y;
}

TEST(quant_packed, equals_quant_gemm_bitwise_on_every_path) {
  thread_pool pool(2);
  for (block_format f : all_block_formats) {
    const int64_t bs = block_elements(f);
    for (int64_t K : {bs, 3 * bs, bs == 32 ? 18 * bs : 6 * bs}) {
      for (int64_t N : {1, 5, 16, 17, 33, 100}) {
        const auto w = random_weights(f, N, K, 2 + N);
        const auto packed = pack_quant_weight(f, w.data(), N, K);
        for (int64_t M : {1, 2, 3, 4, 5, 17, 67, 130}) {
          const auto x = random_normal_floats(M * K, 1 + M);
          for (quant_path p : supported_quant_paths()) {
            std::vector<float> ref(M * N, -1.0f);
            quant_gemm_on(p, pool, f, x.data(), M, K, w.data(), N, ref.data());
            EXPECT_TRUE(bitwise_equal(run_packed(p, pool, *packed, x.data(), M), ref))
                << name(f) << " " << name(p) << " M=" << M << " K=" << K << " N=" << N;
          }
        }
      }
    }
  }
}

// Several weights of one format and K in one call (x quantized once, one job): each output as if
// alone, on every path.
TEST(quant_packed, many_weights_equal_one_call_each_bitwise) {
  thread_pool pool(2);
  for (block_format f : all_block_formats) {
    const int64_t K = 2 * block_elements(f);
    const int64_t Ns[] = {48, 5, 70};
    std::vector<std::shared_ptr<const quant_packed_weight>> packed;
    std::vector<const quant_packed_weight*> ws;
    for (int i = 0; i < 3; ++i) {
      packed.push_back(pack_quant_weight(f, random_weights(f, Ns[i], K, 40 + i).data(), Ns[i], K));
      ws.push_back(packed.back().get());
    }
    for (int64_t M : {1, 4, 17}) {
      const auto x = random_normal_floats(M * K, 50 + M);
      for (quant_path p : supported_quant_paths()) {
        many_outputs out(M, Ns);
        quant_gemm_packed_many_on(p, pool, ws, x.data(), M, out.pointers);
        for (int i = 0; i < 3; ++i) {
          EXPECT_TRUE(bitwise_equal(out.ys[i], run_packed(p, pool, *ws[i], x.data(), M)))
              << name(f) << " " << name(p) << " M=" << M << " weight " << i;
        }
      }
    }
  }
}

TEST(quant_packed, row_equals_dequantize_row_bitwise) {
  for (block_format f : all_block_formats) {
    const int64_t N = 37, K = 3 * block_elements(f);
    const auto w = random_weights(f, N, K, 4);
    const auto packed = pack_quant_weight(f, w.data(), N, K);
    std::vector<float> expected(K), got(K);
    for (int64_t n = 0; n < N; ++n) {
      dequantize_row(f, w.data() + n * row_bytes(f, K), K, expected.data());
      quant_packed_row(*packed, n, got.data());
      ASSERT_TRUE(bitwise_equal(got, expected)) << name(f) << " row " << n;
    }
  }
}

// Row m computed alone equals row m inside any batch, for any number of threads.
TEST(quant_packed, batch_invariant_across_batch_sizes_and_threads) {
  const int64_t M = 70, N = 75;
  for (block_format f : all_block_formats) {
    const int64_t K = 2 * block_elements(f);
    const auto x = random_normal_floats(M * K, 9);
    const auto w = random_weights(f, N, K, 10);
    const auto packed = pack_quant_weight(f, w.data(), N, K);
    for (quant_path p : supported_quant_paths()) {
      for (int threads : {1, 2, 3}) {
        thread_pool pool(threads);
        const auto batch = run_packed(p, pool, *packed, x.data(), M);
        for (int64_t m : {int64_t{0}, int64_t{5}, int64_t{66}, M - 1}) {
          const auto alone = run_packed(p, pool, *packed, x.data() + m * K, 1);
          EXPECT_EQ(std::memcmp(alone.data(), batch.data() + m * N, N * sizeof(float)), 0)
              << name(f) << " " << name(p) << " threads=" << threads << " m=" << m;
        }
      }
    }
  }
}

TEST(quant_packed, holds_as_many_bytes_as_the_stored_rows) {
  for (block_format f : all_block_formats) {
    const int64_t K = 2 * block_elements(f);
    for (int64_t N : {0, 16, 37}) {
      const auto w = random_weights(f, N, K, 3);
      const auto packed = pack_quant_weight(f, w.data(), N, K);
      const int64_t tiles = (N + 15) / 16;
      // K-quant tiles hold the 6-bit scales and mins unpacked (q4_k/q5_k: 192 bytes more per
      // super-block and tile; q6_k: none).
      const int64_t expected = f == block_format::q4_k   ? tiles * 2 * (16 * 144 + 192)
                               : f == block_format::q5_k ? tiles * 2 * (16 * 176 + 192)
                                                         : tiles * 16 * row_bytes(f, K);
      EXPECT_EQ(quant_packed_bytes(*packed), expected) << name(f) << " N=" << N;
    }
  }
}

// The vector activation quantizers against the scalar reference, including values that land
// exactly on a half (round half away from zero) and blocks of zeros; 20 blocks a row, so it runs
// a full group of sixteen and a partial one.
TEST(quant_packed, activation_quantizers_equal_the_scalar_one_bitwise) {
  const quant::quantizer best = quant::best_quantizer();
  if (best == quant::quantizer::scalar) GTEST_SKIP() << "no AVX2 or AVX-512";
  const int64_t M = 9, K = 640;
  auto x = random_normal_floats(M * K, 12);
  for (int64_t k = 0; k < K; ++k) {
    x[k] = static_cast<float>(k % 64) * 0.5f - 16.0f;  // row 0: halves, amax 16 -> id 127/16
    x[K + k] = 0.0f;                                   // row 1: zeros
    x[2 * K + k] = (k % 32 == 0 ? 127.0f : 0.5f) * (k % 3 ? 1.0f : -1.0f);  // exact halves
    x[3 * K + k] *= 1e-4f;  // scales in f16's subnormal range
    x[4 * K + k] *= 1e7f;   // scales past f16's largest (infinity)
  }
  // Every vector version this CPU runs (AVX-512 machines run AVX2 too).
  std::vector<quant::quantizer> versions = {quant::quantizer::avx2};
  if (best == quant::quantizer::avx512) versions.push_back(best);
  for (const quant::quantizer version : versions) {
    for (block_format f : {block_format::q8_0, block_format::q4_1}) {
      const std::string what = name(f) + (version == quant::quantizer::avx2 ? " avx2" : " avx512");
      quant::quantized_rows a, b;
      quant::resize(a, f, M, K);
      quant::resize(b, f, M, K);
      quant::quantize_rows_on(quant::quantizer::scalar, f, x.data(), 0, M, a);
      quant::quantize_rows_on(version, f, x.data(), 0, M, b);
      EXPECT_EQ(a.q, b.q) << what;
      EXPECT_EQ(a.sums, b.sums) << what;
      EXPECT_EQ(std::memcmp(a.d.data(), b.d.data(), a.d.size() * 4), 0) << what;
      EXPECT_EQ(std::memcmp(a.s.data(), b.s.data(), a.s.size() * 4), 0) << what;
    }
  }
}

TEST(quant_packed, empty_shapes_write_nothing) {
  thread_pool pool(2);
  const auto w = random_weights(block_format::q4_1, 3, 32, 1);
  std::vector<float> x(32, 1.0f), y(3, 7.0f);
  quant_gemm_packed(pool, *pack_quant_weight(block_format::q4_1, w.data(), 3, 32), x.data(), 0,
                    y.data());
  quant_gemm_packed(pool, *pack_quant_weight(block_format::q4_1, w.data(), 0, 32), x.data(), 1,
                    y.data());
  EXPECT_EQ(y, std::vector<float>(3, 7.0f));
}

}  // namespace
}  // namespace troupe::kernels::cpu
