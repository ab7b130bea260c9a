// Issue 11's engine choice, measured: the libraries Debian packages (OpenBLAS 0.3.21 sgemm;
// Debian builds it without BUILD_BFLOAT16, so cblas_sbgemm does not link; oneDNN 2.6 matmul in
// f32, bf16 and u8 x s8) against troupe's own kernels (dense_gemm f32 and bf16, panel_gemm f32
// and bf16, gemm_w8a8, quant_gemm_packed q4_1; the quantizing ones include their activation
// quantization) on the default model's MLP shape, one thread each.
// Not part of the build (it needs libopenblas-dev and libdnnl-dev); from the repository root:
//
//   g++ -std=c++20 -O2 -march=native -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread \
//       tools/gemm_libraries_bench.cpp build/kernels/libtroupe_kernels_cpu.a \
//       -lopenblas -ldnnl -lpthread -o /tmp/gemm_libraries_bench
//   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /tmp/gemm_libraries_bench
//
// Prints GFLOP/s (2 * M * N * K per multiply) for y[M][N] = x[M][K] * W[N][K]^T.
#include <cblas.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dnnl.hpp>
#include <functional>
#include <random>
#include <vector>

#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"
#include "kernels/cpu/panel_gemm.hpp"
#include "kernels/cpu/quant_gemm.hpp"

namespace {

// Best of 5 timings of `fn` (after a warm-up), as GFLOP/s.
double gflops(int64_t M, int64_t K, int64_t N, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * M * N * K / best / 1e9;
}

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

double onednn(int64_t M, int64_t K, int64_t N, dnnl::memory::data_type src,
              dnnl::memory::data_type wei) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::desc a_md({M, K}, src, memory::format_tag::ab);
  memory::desc b_md({K, N}, wei, memory::format_tag::ba);  // W [N][K] read as B [K][N]
  memory::desc c_md({M, N}, memory::data_type::f32, memory::format_tag::ab);
  primitive_attr attr;
  if (src == memory::data_type::u8) attr.set_output_scales(0, {0.01f});
  matmul::primitive_desc pd(matmul::desc(a_md, b_md, c_md), attr, eng);
  memory a(a_md, eng), b(b_md, eng), c(c_md, eng);
  std::memset(a.get_data_handle(), 1, a_md.get_size());
  std::memset(b.get_data_handle(), 1, b_md.get_size());
  matmul mm(pd);
  return gflops(M, K, N, [&] {
    mm.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    s.wait();
  });
}

}  // namespace

int main() {
  namespace cpu = troupe::kernels::cpu;
  cpu::thread_pool pool(1);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::printf("%-6s %-14s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "M", "K x N", "blas f32",
              "dnnl f32", "dnnl bf16", "dnnl u8s8", "dense f32", "dense bf16", "panel f32",
              "panel bf16", "w8a8", "q4_1");
  for (int64_t M : {1, 16, 512}) {
    const int64_t K = 576, N = 1536;
    std::vector<float> x(M * K), w(N * K), y(M * N);
    for (auto& v : x)
      v = u(rng);
    for (auto& v : w)
      v = u(rng);
    std::vector<uint16_t> xb(M * K), wb(N * K);
    for (size_t i = 0; i < x.size(); ++i)
      xb[i] = to_bf16(x[i]);
    for (size_t i = 0; i < w.size(); ++i)
      wb[i] = to_bf16(w[i]);
    const double blas = gflops(M, K, N, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x.data(), K, w.data(), K,
                  0.0f, y.data(), N);
    });
    using dt = dnnl::memory::data_type;
    const double d32 = onednn(M, K, N, dt::f32, dt::f32);
    const double d16 = onednn(M, K, N, dt::bf16, dt::bf16);
    const double d8 = onednn(M, K, N, dt::u8, dt::s8);
    const double own32 = gflops(M, K, N, [&] {
      cpu::dense_gemm(pool, cpu::dense_type::f32, x.data(), M, K, w.data(), N, y.data());
    });
    const double own16 = gflops(M, K, N, [&] {
      cpu::dense_gemm(pool, cpu::dense_type::bf16, x.data(), M, K, wb.data(), N, y.data());
    });
    const auto p32 = cpu::pack_panels(cpu::dense_type::f32, w.data(), N, K);
    const auto p16 = cpu::pack_panels(cpu::dense_type::bf16, wb.data(), N, K);
    const double panel32 =
        gflops(M, K, N, [&] { cpu::panel_gemm(pool, *p32, x.data(), M, y.data()); });
    const double panel16 =
        gflops(M, K, N, [&] { cpu::panel_gemm(pool, *p16, x.data(), M, y.data()); });
    std::vector<int8_t> w8(N * K);
    for (auto& v : w8)
      v = static_cast<int8_t>(rng());
    const std::vector<float> w_scale(N, 0.01f);
    const auto sums = cpu::w8a8_row_sums(w8.data(), N, K);
    const double w8a8 = gflops(M, K, N, [&] {
      cpu::gemm_w8a8(pool, x.data(), M, K, w8.data(), w_scale.data(), sums.data(), N, false,
                     y.data());
    });
    std::vector<uint8_t> q41(N * cpu::row_bytes(cpu::block_format::q4_1, K));
    for (auto& v : q41)
      v = static_cast<uint8_t>(rng());
    for (size_t at = 0; at < q41.size(); at += 20)  // small finite f16 d and m
      q41[at] = 0x00, q41[at + 1] = 0x20, q41[at + 2] = 0x00, q41[at + 3] = 0x20;
    const auto packed = cpu::pack_quant_weight(cpu::block_format::q4_1, q41.data(), N, K);
    const double q4 =
        gflops(M, K, N, [&] { cpu::quant_gemm_packed(pool, *packed, x.data(), M, y.data()); });
    std::printf("%-6ld %-14s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
                static_cast<long>(M), "576 x 1536", blas, d32, d16, d8, own32, own16, panel32,
                panel16, w8a8, q4);
  }
}
