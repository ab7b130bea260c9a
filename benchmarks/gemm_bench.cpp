// GFLOPS of the batch-invariant CPU gemm at the default model's (SmolLM2-135M) projection shapes,
// for a decode step of 1 and 16 sequences and a 64-token prefill chunk.
//   ./gemm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cpu/gemm.hpp"

namespace {

using troupe::kernels::cpu::gemm;
using troupe::kernels::cpu::thread_pool;

thread_pool& pool() {
  static thread_pool p;
  return p;
}

std::vector<float> random_vector(size_t n) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

// args: M, K, N
void bm_gemm(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  auto x = random_vector(M * K), w = random_vector(N * K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    gemm(pool(), x.data(), M, K, w.data(), N, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(
      2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["GB/s(W)"] = benchmark::Counter(
      4.0 * N * K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (int64_t M : {1, 16, 64}) {
    b->Args({M, 576, 576});    // wq, wo
    b->Args({M, 576, 192});    // wk, wv
    b->Args({M, 576, 1536});   // w_gate, w_up
    b->Args({M, 1536, 576});   // w_down
    b->Args({M, 576, 49152});  // lm head (tied token embedding)
  }
}

BENCHMARK(bm_gemm)->Apply(shapes)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
