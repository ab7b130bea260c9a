// kernels/cuda/quant_gemm.cu (GGUF blocks on the GPU) against kernels/cpu, bit for bit: the
// activation quantization against quantize_rows, the products against quant_gemm, the embedding
// against dequantize_row, for every block format. Needs a GPU: every test skips without one.
#include "kernels/cuda/quant_gemm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/quant_blocks.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/cuda/gemm.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

namespace cq = kernels::cpu::quant;
using kernels::cpu::test::all_block_formats;
using kernels::cpu::test::bitwise_equal;
using kernels::cpu::test::name;
using testing::device_array;

std::vector<uint8_t> random_blocks(block_format f, int64_t N, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> w(static_cast<size_t>(N * kernels::cpu::row_bytes(f, K)));
  for (auto& b : w)
    b = static_cast<uint8_t>(byte(rng));
  kernels::cpu::test::set_sane_block_scales(f, w, rng);
  return w;
}

// Activations with the cases the quantizers treat specially, after an ordinary row 0: an
// all-zero row 1, a row 2 whose largest magnitude appears twice with both signs (q8_K takes the
// first), a row 3 of halves that round away from zero, and ordinary values of mixed scales.
std::vector<float> activations(int64_t M, int64_t K, uint32_t seed) {
  auto x = kernels::cpu::test::random_normal_floats(M * K, seed);
  if (M > 1) std::fill(x.begin() + K, x.begin() + 2 * K, 0.0f);
  if (M > 2) {
    x[2 * K + 3] = -4.0f;
    x[2 * K + 200] = 4.0f;
  }
  if (M > 3) {
    for (int64_t k = 0; k < K; ++k)  // amax 127 per block: x * id = x exactly, halves included
      x[3 * K + k] = static_cast<float>(k % 32 == 0 ? 127 : (k % 7) - 3) + (k % 3 == 1 ? 0.5f : 0);
  }
  for (int64_t i = 4 * K; i < M * K; i += 5)
    x[i] *= 37.0f;
  return x;
}

bool is_k(block_format f) {
  return cq::is_k_quant(f);
}

class quant_gemm_gpu : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_CUDA_DEVICE(); }
};

struct device_activations {
  device_array<uint8_t> bytes;
  quant_activations at;
  device_activations(block_format f, int64_t M, int64_t K)
      : bytes(static_cast<size_t>(quant_activation_bytes(f, M, K))),
        at(quant_activations_at(bytes.get(), f, M, K)) {}
};

template <class T>
std::vector<T> download(const T* p, int64_t n) {
  std::vector<T> host(static_cast<size_t>(n));
  EXPECT_TRUE(CUDA_CHECK(cudaDeviceSynchronize()).ok());
  EXPECT_TRUE(
      CUDA_CHECK(cudaMemcpy(host.data(), p, host.size() * sizeof(T), cudaMemcpyDeviceToHost)).ok());
  return host;
}

TEST_F(quant_gemm_gpu, activations_are_quantized_as_the_cpu_does) {
  const int64_t M = 5, K = 512;
  const auto x = activations(M, K, 3);
  device_array<float> dx(x);
  for (block_format f : all_block_formats) {
    SCOPED_TRACE(name(f));
    device_activations a(f, M, K);
    ASSERT_TRUE(quant_quantize(f, dx.get(), M, K, a.at, nullptr).ok());
    cq::quantized_rows ref;
    cq::resize(ref, f, M, K);
    cq::quantize_rows(f, x.data(), 0, M, ref);
    const int64_t nb = quant_num_blocks(f, K), ns = quant_num_sums(f, K);
    EXPECT_EQ(download(a.at.q, M * K), ref.q);
    EXPECT_TRUE(bitwise_equal(download(a.at.d, M * nb), ref.d));
    EXPECT_TRUE(bitwise_equal(download(a.at.s, M * nb), ref.s));
    EXPECT_EQ(download(a.at.sums, M * ns), ref.sums);
  }
}

// y from the GPU for every M, against kernels::cpu::quant_gemm.
TEST_F(quant_gemm_gpu, products_equal_the_cpus_bitwise_for_every_format_and_row_count) {
  kernels::cpu::thread_pool pool(2);
  const int64_t N = 37;  // four full row groups and a padded one
  for (block_format f : all_block_formats) {
    // More blocks than one chunk of the kernel, and a partial last chunk.
    const int64_t K = is_k(f) ? 256 * 11 : 32 * 45;
    const auto w = random_blocks(f, N, K, 11 + static_cast<uint32_t>(f));
    device_array<uint32_t> packed(quant_pack(f, w.data(), N, K));
    for (int64_t M : {1, 3, 8, 13, 35}) {
      SCOPED_TRACE(name(f) + " M=" + std::to_string(M));
      const auto x = activations(M, K, 7 + static_cast<uint32_t>(M));
      device_array<float> dx(x);
      device_activations a(f, M, K);
      const int64_t ldy = N + 3;
      device_array<float> y(std::vector<float>(static_cast<size_t>(M * ldy), -7.0f));
      ASSERT_TRUE(quant_quantize(f, dx.get(), M, K, a.at, nullptr).ok());
      ASSERT_TRUE(quant_gemm(f, packed.get(), N, K, a.at, M, y.get(), ldy, nullptr).ok());
      std::vector<float> ref(static_cast<size_t>(M * N));
      kernels::cpu::quant_gemm(pool, f, x.data(), M, K, w.data(), N, ref.data());
      const auto got = y.to_host();
      for (int64_t m = 0; m < M; ++m) {
        ASSERT_TRUE(bitwise_equal(got.data() + m * ldy, ref.data() + m * N, N)) << "row " << m;
        for (int64_t n = N; n < ldy; ++n)  // the padding columns are never written
          ASSERT_EQ(got[m * ldy + n], -7.0f);
      }
    }
  }
}

TEST_F(quant_gemm_gpu, embedding_rows_are_dequantize_rows_bits) {
  const int64_t N = 21, K = 512, first_token = 100;
  const std::vector<int32_t> tokens = {100, 120, 107, 99, 121, 113, 100};  // 99, 121: outside
  device_array<int32_t> ids(tokens);
  for (block_format f : all_block_formats) {
    SCOPED_TRACE(name(f));
    const auto w = random_blocks(f, N, K, 5 + static_cast<uint32_t>(f));
    device_array<uint32_t> packed(quant_pack(f, w.data(), N, K));
    const auto T = static_cast<int64_t>(tokens.size());
    device_array<float> out(static_cast<size_t>(T * K));
    ASSERT_TRUE(
        quant_embedding(f, packed.get(), N, K, first_token, ids.get(), T, out.get(), nullptr).ok());
    const auto got = out.to_host();
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = tokens[t] - first_token;
      if (n < 0 || n >= N) {
        std::fill(row.begin(), row.end(), 0.0f);
      } else {
        kernels::cpu::dequantize_row(f, w.data() + n * kernels::cpu::row_bytes(f, K), K,
                                     row.data());
      }
      ASSERT_TRUE(bitwise_equal(got.data() + t * K, row.data(), static_cast<size_t>(K)))
          << "token " << t;
    }
  }
}

// gemm_engine::quant: several targets sharing x give each target's own product.
TEST_F(quant_gemm_gpu, engine_products_of_several_targets_equal_the_cpus) {
  cudaStream_t stream = nullptr;
  ASSERT_TRUE(CUDA_CHECK(cudaStreamCreate(&stream)).ok());
  {
    auto engine = gemm_engine::create(stream);
    ASSERT_TRUE(engine.ok()) << engine.message();
    kernels::cpu::thread_pool pool(2);
    const block_format f = block_format::q4_1;
    const int64_t M = 6, K = 256;
    const int64_t rows[] = {24, 9};
    const auto x = activations(M, K, 21);
    device_array<float> dx(x);
    std::vector<std::vector<uint8_t>> w;
    std::vector<std::unique_ptr<device_array<uint32_t>>> packed;
    std::vector<std::unique_ptr<device_array<float>>> ys;
    std::vector<quant_target> targets;
    for (int i = 0; i < 2; ++i) {
      w.push_back(random_blocks(f, rows[i], K, 31 + i));
      packed.push_back(
          std::make_unique<device_array<uint32_t>>(quant_pack(f, w.back().data(), rows[i], K)));
      ys.push_back(std::make_unique<device_array<float>>(static_cast<size_t>(M * rows[i])));
      targets.push_back({packed.back()->get(), rows[i], ys.back()->get()});
    }
    ASSERT_TRUE((*engine)->quant(dx.get(), M, K, f, targets.data(), 2).ok());
    for (int i = 0; i < 2; ++i) {
      std::vector<float> ref(static_cast<size_t>(M * rows[i]));
      kernels::cpu::quant_gemm(pool, f, x.data(), M, K, w[i].data(), rows[i], ref.data());
      EXPECT_TRUE(bitwise_equal(ys[i]->to_host(), ref)) << "target " << i;
    }
  }
  cudaStreamDestroy(stream);
}

TEST_F(quant_gemm_gpu, f16_rows_are_dequantize_rows_values_rounded_to_f16) {
  const int64_t N = 19, K = 512, n0 = 5, rows = 11;
  for (block_format f : all_block_formats) {
    SCOPED_TRACE(name(f));
    const auto w = random_blocks(f, N, K, 41 + static_cast<uint32_t>(f));
    device_array<uint32_t> packed(quant_pack(f, w.data(), N, K));
    device_array<uint16_t> out(static_cast<size_t>(rows * K));
    ASSERT_TRUE(quant_dequantize_f16(f, packed.get(), N, K, n0, rows, out.get(), nullptr).ok());
    const auto got = out.to_host();
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t r = 0; r < rows; ++r) {
      kernels::cpu::dequantize_row(f, w.data() + (n0 + r) * kernels::cpu::row_bytes(f, K), K,
                                   row.data());
      for (int64_t k = 0; k < K; ++k)
        ASSERT_EQ(got[r * K + k], kernels::cpu::f32_to_f16(row[k])) << "row " << r << " k " << k;
    }
  }
}

// More than 32 rows: W as f16 through cuBLAS, x rounded to f16, in chunks of 64 rows of W here
// (64, 64, 22). Against the same products in double, within f32 accumulation's rounding of the
// sum of |terms|.
TEST_F(quant_gemm_gpu, engine_products_of_many_rows_are_the_f16_products) {
  cudaStream_t stream = nullptr;
  ASSERT_TRUE(CUDA_CHECK(cudaStreamCreate(&stream)).ok());
  {
    auto engine = gemm_engine::create(stream);
    ASSERT_TRUE(engine.ok()) << engine.message();
    (*engine)->set_dequant_chunk_bytes(64 * 512 * 2);
    for (block_format f : {block_format::q4_k, block_format::q8_0}) {
      SCOPED_TRACE(name(f));
      const int64_t M = 70, N = 150, K = 512;
      const auto w = random_blocks(f, N, K, 51);
      const auto x = activations(M, K, 52);
      device_array<uint32_t> packed(quant_pack(f, w.data(), N, K));
      device_array<float> dx(x), y(static_cast<size_t>(M * N));
      const quant_target target{packed.get(), N, y.get()};
      ASSERT_TRUE((*engine)->quant(dx.get(), M, K, f, &target, 1).ok());
      const auto got = y.to_host();
      std::vector<float> wf(static_cast<size_t>(N * K));
      for (int64_t n = 0; n < N; ++n)
        kernels::cpu::dequantize_row(f, w.data() + n * kernels::cpu::row_bytes(f, K), K,
                                     wf.data() + n * K);
      const auto f16 = [](float v) {
        return kernels::cpu::f16_to_f32(kernels::cpu::f32_to_f16(v));
      };
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          double dot = 0.0, magnitude = 0.0;
          for (int64_t k = 0; k < K; ++k) {
            const double term = double(f16(wf[n * K + k])) * double(f16(x[m * K + k]));
            dot += term;
            magnitude += std::fabs(term);
          }
          ASSERT_NEAR(got[m * N + n], dot, 1e-5 * magnitude + 1e-30) << "m " << m << " n " << n;
        }
      }
    }
  }
  cudaStreamDestroy(stream);
}

// A matrix large enough to be packed by several threads (16 MB each) gives the slabs of its row
// groups packed one part at a time (each small enough for one thread).
TEST(quant_pack, large_matrices_pack_as_their_parts) {
  const block_format f = block_format::q4_k;
  const int64_t N = 16392, K = 4096;  // 37.8 MB; parts split at row 8192 (a group boundary)
  const auto w = random_blocks(f, N, K, 61);
  const auto whole = quant_pack(f, w.data(), N, K);
  const int64_t split = 8192, row_bytes = kernels::cpu::row_bytes(f, K);
  auto parts = quant_pack(f, w.data(), split, K);
  const auto rest = quant_pack(f, w.data() + split * row_bytes, N - split, K);
  parts.insert(parts.end(), rest.begin(), rest.end());
  EXPECT_TRUE(whole == parts);
}

TEST(quant_pack, sizes_follow_the_layout) {
  // q4_1: 40 words a slab (32 lane words, 8 row words) = 20 bytes a row and block, as stored.
  EXPECT_EQ(quant_slab_words(block_format::q4_1), 40);
  EXPECT_EQ(quant_packed_words(block_format::q4_1, 17, 64), 3 * 2 * 40);
  for (block_format f : all_block_formats) {
    const int64_t stored = 8 * kernels::cpu::block_bytes(f);
    const int64_t packed = 4 * quant_slab_words(f);
    EXPECT_GE(packed, stored) << name(f);
    EXPECT_LE(packed, stored + stored / 8) << name(f);
  }
}

}  // namespace
}  // namespace troupe::kernels::cuda
