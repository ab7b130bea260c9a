#include "kernels/cpu/amx_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/half.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

// The engine a test runs on is its parameter; each runs where this CPU has it (on an AMX CPU
// both do: the avx512_bf16 engine needs only AVX512-BF16).
class amx_gemm_on : public ::testing::TestWithParam<bf16_tile_engine> {
 protected:
  void SetUp() override {
    if (!bf16_tile_engine_supported(GetParam()))
      GTEST_SKIP() << "this CPU cannot run " << describe(GetParam())
                   << " (CPUID, XCR0 or, for AMX, Linux's grant)";
  }
  void gemm(thread_pool& pool, const amx_weight& w, const float* x, int64_t M, float* y) const {
    const amx_weight* ws[] = {&w};
    float* ys[] = {y};
    amx_gemm_many_with(GetParam(), pool, ws, x, M, ys);
  }
};

std::vector<uint16_t> random_bf16(int64_t n, uint32_t seed) {
  const auto v = random_floats(static_cast<size_t>(n), seed);
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = f32_to_bf16(v[i]);
  return h;
}

// The products in double, of x rounded to bf16 (nearest even) and W, and each output's sum of
// |terms| (the scale of the f32 accumulation's rounding error).
struct exact_products {
  std::vector<double> y, magnitude;
};

exact_products reference(const std::vector<float>& x, int64_t M, const std::vector<uint16_t>& w,
                         int64_t N, int64_t K) {
  exact_products r{std::vector<double>(M * N), std::vector<double>(M * N)};
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double sum = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double t =
            double(bf16_to_f32(f32_to_bf16(x[m * K + k]))) * double(bf16_to_f32(w[n * K + k]));
        sum += t;
        mag += std::fabs(t);
      }
      r.y[m * N + n] = sum;
      r.magnitude[m * N + n] = mag;
    }
  }
  return r;
}

TEST(amx_gemm, packing_keeps_every_weight_row) {
  for (int64_t N : {1, 16, 17, 33, 64})
    for (int64_t K : {1, 31, 32, 33, 100}) {
      const auto w = random_bf16(N * K, static_cast<uint32_t>(N * 1000 + K));
      const auto packed = pack_amx_weight(w.data(), N, K);
      EXPECT_EQ(packed->size_bytes(), (N + 31) / 32 * 32 * ((K + 31) / 32 * 32) * 2);
      std::vector<float> row(K);
      for (int64_t n = 0; n < N; ++n) {
        amx_weight_row(*packed, n, row.data());
        for (int64_t k = 0; k < K; ++k)
          ASSERT_EQ(row[k], bf16_to_f32(w[n * K + k])) << N << "x" << K << " at " << n << ", " << k;
      }
    }
}

// Awkward shapes (partial tiles in every direction): each output within f32 accumulation error
// of the exact products of bf16(x) and W. Truncating x instead of rounding it, a wrong k pair
// order or a misplaced tile breaks the bound by orders of magnitude.
TEST_P(amx_gemm_on, products_are_bf16_activations_times_the_weights) {
  thread_pool pool(2);
  for (int64_t K : {1, 31, 32, 33, 576})
    for (int64_t M : {1, 15, 16, 17, 33, 70})
      for (int64_t N : {1, 15, 17, 33, 100}) {
        const auto x = random_floats(M * K, static_cast<uint32_t>(3 + K + M));
        const auto w = random_bf16(N * K, static_cast<uint32_t>(4 + K + N));
        const auto ref = reference(x, M, w, N, K);
        const auto packed = pack_amx_weight(w.data(), N, K);
        std::vector<float> y(M * N, -1.0f);
        gemm(pool, *packed, x.data(), M, y.data());
        for (int64_t i = 0; i < M * N; ++i) {
          ASSERT_LE(std::fabs(y[i] - ref.y[i]), 0x1p-23 * K * ref.magnitude[i] + 1e-30)
              << "M=" << M << " K=" << K << " N=" << N << " at (" << i / N << ", " << i % N << ")";
        }
      }
}

// Rounding x to bf16 is part of the contract: an x that bf16 cannot hold gives the rounded
// value's product, not x's.
TEST_P(amx_gemm_on, x_is_rounded_to_nearest_even_bf16) {
  thread_pool pool(1);
  const std::vector<uint16_t> w = {0x3f80};  // 1.0
  const auto packed = pack_amx_weight(w.data(), 1, 1);
  for (float x : {1.0f + 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, 1.0f + 3 * 0x1p-8f, -3.14159f}) {
    float y = 0;
    gemm(pool, *packed, &x, 1, &y);
    EXPECT_EQ(y, bf16_to_f32(f32_to_bf16(x))) << x;
  }
}

// Batch invariance: a row's bits are the same alone, in any batch, in any tile (AMX: a 2-row tile
// pair or a lone slice; AVX512-BF16: 12 rows of a pair, or 1-6 rows of 2 or 4 pairs), and on 1 or
// 2 threads; amx_gemm_many gives each weight amx_gemm's bits.
TEST_P(amx_gemm_on, rows_do_not_depend_on_the_batch_threads_or_other_weights) {
  thread_pool one(1), two(2);
  const int64_t K = 100, M = 70;
  const std::vector<int64_t> Ns = {33, 200};
  const auto x = random_floats(M * K, 7);
  std::vector<std::shared_ptr<const amx_weight>> packed;
  std::vector<const amx_weight*> ws;
  for (int64_t N : Ns) {
    packed.push_back(pack_amx_weight(random_bf16(N * K, static_cast<uint32_t>(N)).data(), N, K));
    ws.push_back(packed.back().get());
  }
  many_outputs many(M, Ns);
  amx_gemm_many_with(GetParam(), two, ws, x.data(), M, many.pointers);
  for (size_t i = 0; i < Ns.size(); ++i) {
    const int64_t N = Ns[i];
    std::vector<float> whole(M * N, -1.0f);
    gemm(one, *ws[i], x.data(), M, whole.data());
    ASSERT_TRUE(bitwise_equal(whole, many.ys[i])) << "N=" << N;
    for (int64_t m0 : {0, 15, 16, 31, 32, 69}) {
      for (int64_t rows : {1, 2, 4, 5, 7, 17}) {
        if (m0 + rows > M) continue;
        std::vector<float> part(rows * N, -1.0f);
        gemm(two, *ws[i], x.data() + m0 * K, rows, part.data());
        ASSERT_TRUE(bitwise_equal(part.data(), whole.data() + m0 * N, rows * N))
            << "rows " << m0 << ".." << m0 + rows << " N=" << N;
      }
    }
  }
}

// The down projection of a SiLU: amx_gemm of silu_mul's f32 rows, bit for bit, whatever the
// rows a task takes (one row, a few, many; 1 or 2 threads; K not a multiple of 32).
TEST_P(amx_gemm_on, silu_of_gate_and_up_equals_the_product_of_silu_mul) {
  for (int threads : {1, 2}) {
    thread_pool pool(threads);
    for (int64_t K : {100, 1536}) {
      for (int64_t M : {1, 3, 16, 70}) {
        const int64_t N = 40;
        auto gate = random_floats(M * K, 11);
        for (float& g : gate)
          g *= 6.0f;  // SiLU's curve, both tails
        const auto up = random_floats(M * K, 12);
        const auto packed = pack_amx_weight(random_bf16(N * K, 13).data(), N, K);
        std::vector<float> x(M * K), expected(M * N, -1.0f), y(M * N, -2.0f);
        silu_mul(gate.data(), up.data(), M * K, x.data());
        gemm(pool, *packed, x.data(), M, expected.data());
        amx_gemm_silu_with(GetParam(), pool, *packed, gate.data(), up.data(), M, y.data());
        EXPECT_TRUE(bitwise_equal(y, expected))
            << "M=" << M << " K=" << K << " threads=" << threads;
      }
    }
  }
}

TEST_P(amx_gemm_on, empty_shapes) {
  thread_pool pool(2);
  const auto packed = pack_amx_weight(nullptr, 5, 0);
  std::vector<float> x(3), y(15, -1.0f);
  gemm(pool, *packed, x.data(), 3, y.data());
  EXPECT_EQ(y, std::vector<float>(15, 0.0f));  // K = 0: every sum is empty
  gemm(pool, *packed, x.data(), 0, y.data());  // M = 0: nothing to do
}

INSTANTIATE_TEST_SUITE_P(engines, amx_gemm_on,
                         ::testing::Values(bf16_tile_engine::amx, bf16_tile_engine::avx512_bf16),
                         [](const auto& info) {
                           return info.param == bf16_tile_engine::amx ? "amx" : "avx512_bf16";
                         });

// amx_gemm runs on the engine best_bf16_tile_engine() names, which this CPU can run: AMX where it
// has it, else AVX512-BF16 on an AMD CPU, else none.
TEST(amx_gemm, runs_on_the_best_engine_this_cpu_has) {
  const auto best = best_bf16_tile_engine();
  EXPECT_EQ(bf16_tiles_supported(), best.has_value());
  if (bf16_tile_engine_supported(bf16_tile_engine::amx)) {
    EXPECT_EQ(best, bf16_tile_engine::amx);
  } else if (detect_cpu_features().amd &&
             bf16_tile_engine_supported(bf16_tile_engine::avx512_bf16)) {
    EXPECT_EQ(best, bf16_tile_engine::avx512_bf16);
  } else {
    GTEST_SKIP() << "this CPU has no bf16 tile engine that amx_gemm would choose";
  }
  thread_pool pool(2);
  const int64_t M = 9, K = 70, N = 40;
  const auto x = random_floats(M * K, 5);
  const auto packed = pack_amx_weight(random_bf16(N * K, 6).data(), N, K);
  std::vector<float> y(M * N, -1.0f), expected(M * N, -2.0f);
  amx_gemm(pool, *packed, x.data(), M, y.data());
  const amx_weight* ws[] = {packed.get()};
  float* ys[] = {expected.data()};
  amx_gemm_many_with(*best, pool, ws, x.data(), M, ys);
  EXPECT_TRUE(bitwise_equal(y, expected));
}

}  // namespace
}  // namespace troupe::kernels::cpu
