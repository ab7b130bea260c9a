// kernels/cuda/gemm.cu (gemm_engine) and gemm_w8a8.cu against the CPU references: dense f32 and
// bf16/f16 within stated bounds of a double-precision product, W8A8 bit for bit with
// kernels/cpu/gemm_w8a8. Needs a GPU: every test but the first skips without a CUDA device.
#include "kernels/cuda/gemm.hpp"

#include <gtest/gtest.h>
#include <deque>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm_w8a8.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/cuda/gemm_w8a8.hpp"
#include "runtime/formats/half.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using testing::device_array;

// An engine on its own stream; the stream outlives the engine.
class gemm_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_CUDA_DEVICE();
    ASSERT_TRUE(CUDA_CHECK(cudaStreamCreate(&stream_)).ok());
    auto e = gemm_engine::create(stream_);
    ASSERT_TRUE(e.ok()) << e.message();
    engine_ = std::move(*e);
  }
  void TearDown() override {
    engine_.reset();
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  // Uploads are synchronous copies on the legacy stream; waiting here keeps the engine's stream
  // from running ahead of them whatever the host memory's kind.
  static void sync() { ASSERT_TRUE(CUDA_CHECK(cudaDeviceSynchronize()).ok()); }

  cudaStream_t stream_ = nullptr;
  std::unique_ptr<gemm_engine> engine_;
};

std::vector<int8_t> random_int8(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v)
    x = static_cast<int8_t>(dist(rng));
  return v;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

// Index of the first element whose bits differ, or -1.
template <class T>
int64_t first_bit_difference(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}

TEST(cuda_gemm_engine, create_reports_a_missing_device_as_an_error) {
  auto e = gemm_engine::create(nullptr);
  if (cuda_device_count() == 0) {
    ASSERT_FALSE(e.ok());
    EXPECT_FALSE(e.message().empty());
  } else {
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ((*e)->stream(), nullptr);
  }
}

// -- dense --

// x rounded to the weight's type (what convert() feeds cuBLAS), widened back to f32.
std::vector<float> rounded_to(dense_type type, const std::vector<float>& x) {
  std::vector<float> r(x);
  for (float& v : r) {
    if (type == dense_type::bf16) v = runtime::bf16_to_f32(runtime::f32_to_bf16(v));
    if (type == dense_type::f16) v = runtime::f16_to_f32(runtime::f32_to_f16(v));
  }
  return r;
}

cpu::dense_type cpu_type(dense_type t) {
  return t == dense_type::f32    ? cpu::dense_type::f32
         : t == dense_type::bf16 ? cpu::dense_type::bf16
                                 : cpu::dense_type::f16;
}

const char* name(dense_type t) {
  return t == dense_type::f32 ? "f32" : t == dense_type::bf16 ? "bf16" : "f16";
}

// Allowed |y - exact| relative to sum_k |x_k w_k| (the exact products' magnitude).
//  f32: cuBLAS sums K exact-input products with f32 rounding (2^-24) in its own order; for these
//       zero-mean inputs that error's spread is about 0.6 * 2^-24 of the sum of magnitudes
//       whatever K is, so 2^-18 (3.8e-6) is ~60x that and still 4x below what TF32's rounding of
//       the inputs would give at K = 576 (~1.6e-5): no TF32 passes.
//  bf16/f16: the products of 16-bit inputs are exact in f32; tensor cores may truncate (unit
//       2^-23) each of at most K additions of a partial sum no larger than sum |x_k w_k|, so
//       K * 2^-23 is a bound for any summation order, never flaky; a transposed layout, a lost
//       K tail or a wrong rounding of x at K = 100 is far outside it.
double dense_tolerance(dense_type type, int64_t K) {
  return type == dense_type::f32 ? std::ldexp(1.0, -18) : static_cast<double>(K) * 0x1p-23;
}

struct dense_shape {
  int64_t M, N, K;
};

TEST_F(gemm_fixture, dense_matches_a_double_reference) {
  const dense_shape shapes[] = {{1, 64, 4096},   {3, 37, 100},    {5, 33, 99},    {1, 1536, 576},
                                {64, 1536, 576}, {64, 256, 4096}, {512, 256, 576}};
  for (dense_type type : {dense_type::f32, dense_type::bf16, dense_type::f16}) {
    for (const dense_shape& s : shapes) {
      const uint32_t seed = static_cast<uint32_t>(s.M * 7 + s.N * 131 + s.K);
      const auto x = random_floats(s.M * s.K, seed, -1.0f, 1.0f);
      const auto w_bytes = cpu::test::random_dense_weights(cpu_type(type), s.N * s.K, seed + 1);
      const auto w = cpu::test::widened(cpu_type(type), w_bytes);
      const auto xr = rounded_to(type, x);
      device_array<float> dx(x), dy(std::vector<float>(s.M * s.N, NAN));
      device_array<uint8_t> dw(w_bytes);
      sync();
      ASSERT_TRUE(engine_->dense(dx.get(), s.M, s.K, dw.get(), type, s.N, dy.get()).ok());
      const auto y = dy.to_host();
      const double tol = dense_tolerance(type, s.K);
      for (int64_t m = 0; m < s.M; ++m) {
        for (int64_t n = 0; n < s.N; ++n) {
          double exact = 0.0, magnitude = 0.0;
          for (int64_t k = 0; k < s.K; ++k) {
            const double p = double(xr[m * s.K + k]) * double(w[n * s.K + k]);
            exact += p;
            magnitude += std::abs(p);
          }
          const double got = y[m * s.N + n];
          ASSERT_LE(std::abs(got - exact), tol * magnitude)
              << name(type) << " M=" << s.M << " N=" << s.N << " K=" << s.K << " m=" << m
              << " n=" << n << " got " << got << " exact " << exact;
        }
      }
    }
  }
}

TEST_F(gemm_fixture, dense_without_rows_or_depth) {
  device_array<float> dx(std::vector<float>(8, 1.0f)), dy(std::vector<float>(8, 5.0f));
  device_array<float> dw(std::vector<float>(8, 1.0f));
  sync();
  ASSERT_TRUE(engine_->dense(dx.get(), 0, 4, dw.get(), dense_type::f32, 2, dy.get()).ok());
  EXPECT_EQ(dy.to_host(), std::vector<float>(8, 5.0f));  // M = 0: nothing written
  ASSERT_TRUE(engine_->dense(dx.get(), 2, 0, dw.get(), dense_type::bf16, 4, dy.get()).ok());
  EXPECT_EQ(dy.to_host(), std::vector<float>(8, 0.0f));  // K = 0: empty sums
}

// -- w8a8 --

// A W8A8 problem as kernels/cpu's tests build it, with special rows when M >= 3: row 0 all
// zero, row 1 a constant positive value (asymmetric scale 0), row 2 with a NaN (skipped by the
// maxima, quantized to 0).
struct w8a8_problem {
  int64_t M, K, N;
  std::vector<float> x, w_scale;
  std::vector<int8_t> w;
  std::vector<int32_t> row_sums;

  w8a8_problem(int64_t m, int64_t k, int64_t n, uint32_t seed) : M(m), K(k), N(n) {
    x = random_floats(M * K, seed, -3.0f, 2.0f);
    w = random_int8(N * K, seed + 1);
    w_scale = random_floats(N, seed + 2, 1e-3f, 2e-2f);
    row_sums = cpu::w8a8_row_sums(w.data(), N, K);
    if (M >= 3) {
      std::fill(x.begin(), x.begin() + K, 0.0f);
      std::fill(x.begin() + K, x.begin() + 2 * K, 0.75f);
      x[2 * K + 7] = NAN;
    }
  }
  std::vector<float> cpu_result(bool asymmetric) const {
    cpu::thread_pool pool(2);
    std::vector<float> y(M * N, -7.0f);
    cpu::gemm_w8a8(pool, x.data(), M, K, w.data(), w_scale.data(), row_sums.data(), N, asymmetric,
                   y.data());
    return y;
  }
};

TEST_F(gemm_fixture, w8a8_equals_the_cpu_kernel_bitwise) {
  for (bool asymmetric : {false, true}) {
    for (int64_t M : {1, 5, 37, 64, 300}) {
      for (int64_t N : {8, 1536}) {
        for (int64_t K : {64, 576}) {
          const w8a8_problem p(M, K, N, static_cast<uint32_t>(M * 1000 + K * 10 + N));
          const auto expected = p.cpu_result(asymmetric);
          device_array<float> dx(p.x), dws(p.w_scale), dy(std::vector<float>(M * N, -7.0f));
          device_array<int8_t> dw(p.w);
          device_array<int32_t> drs(p.row_sums);
          sync();
          ASSERT_TRUE(
              engine_->w8a8(dx.get(), M, K, dw.get(), dws.get(), drs.get(), N, asymmetric, dy.get())
                  .ok());
          const auto y = dy.to_host();
          const int64_t at = first_bit_difference(y, expected);
          ASSERT_EQ(at, -1) << "asym=" << asymmetric << " M=" << M << " N=" << N << " K=" << K
                            << " m=" << at / N << " n=" << at % N << " got " << y[at]
                            << " expected " << expected[at];
        }
      }
    }
  }
}

// Several weights sharing x (q/k/v, gate/up): one rounding or quantization of x, then each product
// with the bits of its own single call.
TEST_F(gemm_fixture, products_sharing_x_equal_one_call_each_bitwise) {
  for (int64_t M : {1, 9, 40}) {
    const int64_t K = 576;
    const int64_t Ns[] = {64, 24, 1536};
    for (dense_type type : {dense_type::f32, dense_type::bf16}) {
      const auto x = random_floats(M * K, 41, -1.0f, 1.0f);
      device_array<float> dx(x);
      std::deque<device_array<uint8_t>> ws;  // deque: device arrays do not move
      std::deque<device_array<float>> shared, single;
      std::vector<dense_target> targets;
      for (int64_t N : Ns) {
        ws.emplace_back(cpu::test::random_dense_weights(cpu_type(type), N * K, 42 + N));
        shared.emplace_back(std::vector<float>(M * N, NAN));
        single.emplace_back(std::vector<float>(M * N, NAN));
      }
      for (size_t i = 0; i < std::size(Ns); ++i)
        targets.push_back({ws[i].get(), Ns[i], shared[i].get()});
      sync();
      ASSERT_TRUE(engine_->dense(dx.get(), M, K, type, targets.data(), 3).ok());
      for (size_t i = 0; i < std::size(Ns); ++i) {
        ASSERT_TRUE(engine_->dense(dx.get(), M, K, ws[i].get(), type, Ns[i], single[i].get()).ok());
        EXPECT_EQ(first_bit_difference(shared[i].to_host(), single[i].to_host()), -1)
            << name(type) << " M=" << M << " target " << i;
      }
    }
    for (bool asymmetric : {false, true}) {
      std::vector<w8a8_problem> problems;
      for (int64_t N : Ns)
        problems.emplace_back(M, K, N, static_cast<uint32_t>(7 * N + M));
      device_array<float> dx(problems[0].x);
      std::deque<device_array<int8_t>> ws;
      std::deque<device_array<float>> scales, ys;
      std::deque<device_array<int32_t>> sums;
      std::vector<w8a8_target> targets;
      for (const auto& p : problems) {
        ws.emplace_back(p.w);
        scales.emplace_back(p.w_scale);
        sums.emplace_back(p.row_sums);
        ys.emplace_back(std::vector<float>(M * p.N, NAN));
      }
      for (size_t i = 0; i < problems.size(); ++i)
        targets.push_back(
            {ws[i].get(), scales[i].get(), sums[i].get(), problems[i].N, ys[i].get()});
      sync();
      ASSERT_TRUE(engine_->w8a8(dx.get(), M, K, asymmetric, targets.data(), 3).ok());
      for (size_t i = 0; i < problems.size(); ++i) {
        // Each problem's own x differs; the shared call multiplied problems[0].x by every weight.
        auto p = problems[i];
        p.x = problems[0].x;
        EXPECT_EQ(first_bit_difference(ys[i].to_host(), p.cpu_result(asymmetric)), -1)
            << "asym=" << asymmetric << " M=" << M << " target " << i;
      }
    }
  }
}

TEST_F(gemm_fixture, w8a8_quantize_equals_the_cpu_per_token_quantization) {
  for (bool asymmetric : {false, true}) {
    for (int64_t K : {4, 64, 576, 4096}) {
      const int64_t M = 6;
      w8a8_problem p(M, K, 1, static_cast<uint32_t>(K + asymmetric));
      for (int64_t k = 0; k < K; ++k)  // row 3: absmax 127, so q = rn(x) exactly (ties to even)
        p.x[3 * K + k] = k == 0 ? 127.0f : 0.5f + static_cast<float>(k % 5);
      device_array<float> dx(p.x), dscale(M);
      device_array<int8_t> dq(M * K);
      device_array<int32_t> dazp(M);
      sync();
      ASSERT_TRUE(
          w8a8_quantize(dx.get(), M, K, asymmetric, dq.get(), dscale.get(), dazp.get(), stream_)
              .ok());
      const auto q = dq.to_host();
      const auto scale = dscale.to_host();
      const auto azp = dazp.to_host();
      for (int64_t m = 0; m < M; ++m) {
        std::vector<int8_t> expected(K);
        const auto t = cpu::w8a8_quantize_token(p.x.data() + m * K, K, asymmetric, expected.data());
        EXPECT_EQ(std::bit_cast<uint32_t>(scale[m]), std::bit_cast<uint32_t>(t.scale))
            << "asym=" << asymmetric << " K=" << K << " m=" << m;
        EXPECT_EQ(azp[m], t.azp) << "asym=" << asymmetric << " K=" << K << " m=" << m;
        const std::vector<int8_t> got(q.begin() + m * K, q.begin() + (m + 1) * K);
        EXPECT_EQ(got, expected) << "asym=" << asymmetric << " K=" << K << " m=" << m;
      }
    }
  }
}

// The dp4a fallback alone, on every load path: 16-byte chunks (K % 16 == 0, aligned W), 4-byte
// words, and byte loads for a W at an odd address; ldc wider than N.
TEST_F(gemm_fixture, int8_dp4a_sums_are_exact) {
  for (int64_t w_offset : {0, 4, 1}) {
    for (int64_t M : {1, 2, 3, 9, 20}) {
      for (int64_t N : {1, 5, 37}) {
        for (int64_t K : {4, 64, 100}) {
          const auto q = random_int8(M * K, static_cast<uint32_t>(M + N + K));
          auto w = random_int8(N * K, static_cast<uint32_t>(M * N * K));
          if (K == 64) std::fill(w.begin(), w.begin() + K, int8_t{-128});  // extremes
          std::vector<int8_t> w_padded(w_offset, 0);
          w_padded.insert(w_padded.end(), w.begin(), w.end());
          const int64_t ldc = N + 3;
          device_array<int8_t> dq(q), dw(w_padded);
          device_array<int32_t> dacc(std::vector<int32_t>(M * ldc, 12345));
          sync();
          ASSERT_TRUE(
              int8_gemm_dp4a(dq.get(), M, K, dw.get() + w_offset, N, dacc.get(), ldc, stream_)
                  .ok());
          const auto acc = dacc.to_host();
          for (int64_t m = 0; m < M; ++m) {
            for (int64_t n = 0; n < ldc; ++n) {
              int32_t expected = 12345;  // the padding columns are never written
              if (n < N) {
                expected = 0;
                for (int64_t k = 0; k < K; ++k)
                  expected += int32_t{q[m * K + k]} * int32_t{w[n * K + k]};
              }
              ASSERT_EQ(acc[m * ldc + n], expected)
                  << "w_offset=" << w_offset << " M=" << M << " N=" << N << " K=" << K << " m=" << m
                  << " n=" << n;
            }
          }
        }
      }
    }
  }
}

TEST_F(gemm_fixture, w8a8_row_sums_equal_the_cpu) {
  for (int64_t N : {1, 37, 1536}) {
    for (int64_t K : {1, 64, 100, 4096}) {
      auto w = random_int8(N * K, static_cast<uint32_t>(N + K));
      std::fill(w.begin(), w.begin() + K, int8_t{-128});
      device_array<int8_t> dw(w);
      device_array<int32_t> dsums(N);
      sync();
      ASSERT_TRUE(engine_->w8a8_row_sums(dw.get(), N, K, dsums.get()).ok());
      EXPECT_EQ(dsums.to_host(), cpu::w8a8_row_sums(w.data(), N, K)) << "N=" << N << " K=" << K;
    }
  }
}

TEST_F(gemm_fixture, w8a8_rejects_a_depth_cublaslt_cannot_take) {
  device_array<float> dx(8), dws(2), dy(4);
  device_array<int8_t> dw(12);
  device_array<int32_t> drs(2);
  auto st = engine_->w8a8(dx.get(), 2, 6, dw.get(), dws.get(), drs.get(), 2, false, dy.get());
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace troupe::kernels::cuda
