// dense_gemm against the 8-lane f32 gemm at the default model's (SmolLM2-135M) projection shapes,
// for decode steps of 1 and 16 sequences and prefill chunks of 128 and 512 tokens, on 1 and 2
// threads; GFLOPS, and the weights' bytes per second (what bounds decode, M = 1).
//   ./dense_gemm_bench --benchmark_counters_tabular=true
//
// bm_dpbf16_ceiling is the evaluated alternative to widening (dense_gemm.hpp): 6 x 4 register
// tiles of VDPBF16PS over activations already in bf16, blocked like dense_gemm, single-threaded
// and without the cost of rounding x to bf16, so an upper bound on what that variant could reach.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "benchmarks/bench_support.hpp"
#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/gemm.hpp"

#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>
// GCC 12's _mm512_undefined_ps() inside the reduce intrinsics trips its own -Wuninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

using namespace troupe::kernels::cpu;

using namespace troupe::bench;

// bf16 or f16 bits of `v` (truncated; only the storage size matters here).
std::vector<uint16_t> to_half(const std::vector<float>& v, dense_type type) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = type == dense_type::bf16 ? static_cast<uint16_t>(std::bit_cast<uint32_t>(v[i]) >> 16)
                                    : 0x3c00;  // f16 1.0
  return h;
}

enum kind : int64_t { old_gemm_f32, dense_f32, dense_bf16, dense_f16 };

// args: kind, M, K, N, threads
void bm_gemm(benchmark::State& state) {
  const auto k = static_cast<kind>(state.range(0));
  const int64_t M = state.range(1), K = state.range(2), N = state.range(3);
  thread_pool& p = pool(static_cast<int>(state.range(4)));
  auto x = random_floats(M * K, 1), w = random_floats(N * K, 2);
  std::vector<uint16_t> w_half;
  if (k == dense_bf16) w_half = to_half(w, dense_type::bf16);
  if (k == dense_f16) w_half = to_half(w, dense_type::f16);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    switch (k) {
      case old_gemm_f32:
        gemm(p, x.data(), M, K, w.data(), N, y.data());
        break;
      case dense_f32:
        dense_gemm(p, dense_type::f32, x.data(), M, K, w.data(), N, y.data());
        break;
      default:
        dense_gemm(p, k == dense_bf16 ? dense_type::bf16 : dense_type::f16, x.data(), M, K,
                   w_half.data(), N, y.data());
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double w_bytes = (k == dense_bf16 || k == dense_f16 ? 2.0 : 4.0) * N * K;
  set_gemm_counters(state, "GFLOPS", M, K, N, w_bytes);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"kind", "M", "K", "N", "threads"});
  for (int64_t threads : {1, 2}) {
    for (int64_t M : {1, 16, 128, 512}) {
      for (projection s : smollm2_projections) {
        if (!runs_at(s, M)) continue;
        for (int64_t k : {old_gemm_f32, dense_f32, dense_bf16, dense_f16})
          b->Args({k, M, s.K, s.N, threads});
      }
    }
  }
}

BENCHMARK(bm_gemm)->Apply(shapes)->UseRealTime();

#if defined(__AVX512BF16__) && defined(__AVX512F__)
// 6 x 4 outputs, each 16 f32 lanes fed 32 bf16 products per k step of 32.
void dpbf16_tile(const uint16_t* x, int64_t K, const uint16_t* w, float* y, int64_t ldy) {
  __m512 acc[6][4];
  for (auto& row : acc)
    for (auto& a : row)
      a = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    __m512bh wv[4];
    for (int j = 0; j < 4; ++j)
      wv[j] = (__m512bh)_mm512_loadu_si512(w + j * K + k);
    for (int i = 0; i < 6; ++i) {
      __m512bh xv = (__m512bh)_mm512_loadu_si512(x + i * K + k);
      for (int j = 0; j < 4; ++j)
        acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
    }
  }
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 4; ++j)
      y[i * ldy + j] = _mm512_reduce_add_ps(acc[i][j]);
}

// args: M, K, N (M a multiple of 6, N of 4, K of 32); one thread.
void bm_dpbf16_ceiling(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  auto x = to_half(random_floats(M * K, 1), dense_type::bf16);
  auto w = to_half(random_floats(N * K, 2), dense_type::bf16);
  std::vector<float> y(M * N);
  const int64_t block = std::max<int64_t>(4, 512 * 1024 / (2 * K) / 4 * 4);
  for (auto _ : state) {
    for (int64_t b0 = 0; b0 < N; b0 += block)
      for (int64_t m = 0; m < M; m += 6)
        for (int64_t n = b0; n < std::min(N, b0 + block); n += 4)
          dpbf16_tile(x.data() + m * K, K, w.data() + n * K, y.data() + m * N + n, N);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(
      2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

BENCHMARK(bm_dpbf16_ceiling)
    ->ArgNames({"M", "K", "N"})
    ->Args({510, 576, 576})
    ->Args({510, 576, 1536})
    ->Args({510, 1536, 576})
    ->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
