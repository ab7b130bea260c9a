#include "kernels/cpu/panel_gemm.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using namespace test;

std::vector<dense_isa> supported_isas() {
  return test::supported_isas(panel_isa_supported);
}

// y computed by the reference, one panel_dot_scalar per output.
std::vector<float> reference(dense_type type, const std::vector<float>& x, int64_t M,
                             const std::vector<uint8_t>& w, int64_t N, int64_t K) {
  const int64_t row_bytes = K * (type == dense_type::f32 ? 4 : 2);
  std::vector<float> y(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      y[m * N + n] = panel_dot_scalar(type, x.data() + m * K, w.data() + n * row_bytes, K);
  return y;
}

TEST(panel_gemm, scalar_dot_is_one_sequential_fma_chain) {
  const float x[3] = {1.0f, 0x1p-24f, -1.0f}, w[3] = {1.0f, 1.0f, 1.0f};
  // (1 + 2^-24) rounds to 1, then 1 - 1 = 0: sequential order, no pairwise sums.
  EXPECT_EQ(panel_dot_scalar(dense_type::f32, x, w, 3), 0.0f);
  const uint16_t h[2] = {0x3c00, 0x4000};  // f16 1, 2
  EXPECT_EQ(panel_dot_scalar(dense_type::f16, x, h, 2), 1.0f + 0x1p-23f);
}

// Every implementation this CPU has, every weight type, awkward shapes: bitwise the reference.
TEST(panel_gemm, every_isa_equals_the_scalar_reference_bitwise) {
  thread_pool pool(2);
  for (dense_type type : all_dense_types) {
    for (int64_t K : {1, 15, 16, 17, 576, 1536}) {
      for (int64_t M : {1, 2, 3, 17, 64, 130}) {
        for (int64_t N : {1, 5, 33, 100, 1536}) {
          if (M * N * K > 25'000'000) continue;  // the reference is slow; big shapes below
          auto x = random_floats(M * K, 3 + K + M);
          auto w = random_dense_weights(type, N * K, 4 + K + N);
          const auto ref = reference(type, x, M, w, N, K);
          const auto packed = pack_panels(type, w.data(), N, K);
          for (dense_isa isa : supported_isas()) {
            std::vector<float> y(M * N, -1.0f);
            panel_gemm_with(isa, pool, *packed, x.data(), M, y.data());
            ASSERT_TRUE(bitwise_equal(y.data(), ref.data(), M * N))
                << name(type) << " isa " << static_cast<int>(isa) << " M=" << M << " K=" << K
                << " N=" << N;
          }
        }
      }
    }
  }
}

// Shapes past the cap above (several k blocks, many row groups), on the widest implementation.
TEST(panel_gemm, large_shapes_equal_the_reference_bitwise) {
  thread_pool pool(2);
  for (dense_type type : all_dense_types) {
    const int64_t M = 130, N = 1536, K = 1536;
    auto x = random_floats(M * K, 5);
    auto w = random_dense_weights(type, N * K, 6);
    const auto ref = reference(type, x, M, w, N, K);
    std::vector<float> y(M * N);
    panel_gemm(pool, *pack_panels(type, w.data(), N, K), x.data(), M, y.data());
    ASSERT_TRUE(bitwise_equal(y.data(), ref.data(), M * N)) << name(type);
  }
}

// A row's outputs never depend on the batch around it or on the number of threads.
TEST(panel_gemm, batch_invariant_across_batch_sizes_and_threads) {
  const int64_t M = 64, N = 100, K = 576;
  for (dense_type type : all_dense_types) {
    auto x = random_floats(M * K, 7);
    auto w = random_dense_weights(type, N * K, 8);
    const auto packed = pack_panels(type, w.data(), N, K);
    std::vector<float> full(M * N);
    thread_pool one(1);
    panel_gemm(one, *packed, x.data(), M, full.data());
    for (int threads : {1, 2, 3}) {
      thread_pool pool(threads);
      for (int64_t rows : {1, 2, 5, 13, 64}) {
        for (int64_t m0 : {int64_t{0}, M - rows}) {
          std::vector<float> y(rows * N);
          panel_gemm(pool, *packed, x.data() + m0 * K, rows, y.data());
          ASSERT_TRUE(bitwise_equal(y.data(), full.data() + m0 * N, rows * N))
              << name(type) << " threads " << threads << " rows " << rows << " from " << m0;
        }
      }
    }
  }
}

// Several weights of one K in one call (x packed once, one job): each output as if alone.
TEST(panel_gemm, many_weights_equal_one_call_each_bitwise) {
  thread_pool pool(2);
  const int64_t K = 67;
  const int64_t Ns[] = {40, 1, 96};
  const dense_type types[] = {dense_type::bf16, dense_type::f32, dense_type::f16};
  std::vector<std::shared_ptr<const panel_weight>> packed;
  std::vector<const panel_weight*> ws;
  for (int i = 0; i < 3; ++i) {
    packed.push_back(
        pack_panels(types[i], random_dense_weights(types[i], Ns[i] * K, 20 + i).data(), Ns[i], K));
    ws.push_back(packed.back().get());
  }
  for (int64_t M : {1, 3, 16, 29}) {
    const auto x = random_floats(M * K, 30 + M);
    for (dense_isa isa : supported_isas()) {
      many_outputs out(M, Ns);
      panel_gemm_many_with(isa, pool, ws, x.data(), M, out.pointers);
      for (int i = 0; i < 3; ++i) {
        std::vector<float> alone(M * Ns[i]);
        panel_gemm_with(isa, pool, *ws[i], x.data(), M, alone.data());
        EXPECT_TRUE(bitwise_equal(out.ys[i], alone))
            << "isa " << static_cast<int>(isa) << " M=" << M << " weight " << i;
      }
    }
  }
}

TEST(panel_gemm, panel_row_widens_exactly) {
  for (dense_type type : all_dense_types) {
    for (int64_t N : {1, 5, 33, 100}) {
      const int64_t K = 17;
      auto w = random_dense_weights(type, N * K, 9 + N);
      const auto packed = pack_panels(type, w.data(), N, K);
      EXPECT_EQ(packed->size_bytes(), (N + 31) / 32 * 32 * K * (type == dense_type::f32 ? 4 : 2));
      const auto expected = widened(type, w);
      std::vector<float> row(K);
      for (int64_t n = 0; n < N; ++n) {
        panel_row(*packed, n, row.data());
        for (int64_t k = 0; k < K; ++k) {
          ASSERT_TRUE(bitwise_equal(&row[k], &expected[n * K + k], 1))
              << name(type) << " n=" << n << " k=" << k;
        }
      }
    }
  }
}

TEST(panel_gemm, empty_shapes) {
  thread_pool pool(2);
  const float w[4] = {1, 2, 3, 4};
  auto packed = pack_panels(dense_type::f32, w, 4, 0);
  std::vector<float> y(3 * 4, -1.0f), x(1);
  panel_gemm(pool, *packed, x.data(), 3, y.data());
  for (float v : y)
    EXPECT_EQ(v, 0.0f);
  panel_gemm(pool, *pack_panels(dense_type::f32, w, 0, 4), x.data(), 3, y.data());  // no-op
  panel_gemm(pool, *pack_panels(dense_type::f32, w, 1, 4), x.data(), 0, y.data());  // no-op
}

}  // namespace
}  // namespace troupe::kernels::cpu
