// GFLOPS of the batch-invariant CPU gemm at the default model's (SmolLM2-135M) projection shapes,
// for a decode step of 1 and 16 sequences and a 64-token prefill chunk.
//   ./gemm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <vector>

#include "benchmarks/bench_support.hpp"
#include "kernels/cpu/gemm.hpp"

namespace {

using namespace troupe::bench;
using troupe::kernels::cpu::gemm;

// args: M, K, N
void bm_gemm(benchmark::State& state) {
  time_f32_gemm(state, "GFLOPS", gemm);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (int64_t M : {1, 16, 64})
    for (projection s : smollm2_projections)
      b->Args({M, s.K, s.N});
}

BENCHMARK(bm_gemm)->Apply(shapes)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
