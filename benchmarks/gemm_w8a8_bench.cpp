// GOP/s of the W8A8 int8 gemm (kernels/cpu/gemm_w8a8.hpp) on each path this CPU runs, against
// the f32 gemm, at the default model's (SmolLM2-135M) projection shapes: decode steps of 1 and
// 16 sequences and a 512-token prefill. One op = one multiply or one add (2 M N K per call);
// the W8A8 time includes quantizing the activations.
//   ./gemm_w8a8_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <vector>

#include "benchmarks/bench_support.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"

namespace {

using namespace troupe::kernels::cpu;

using namespace troupe::bench;

// args: M, K, N
void bm_gemm_f32(benchmark::State& state) {
  time_f32_gemm(state, "GOP/s", gemm);
}

// args: M, K, N, path index in w8a8_supported_paths()
void bm_gemm_w8a8(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  const auto& paths = w8a8_supported_paths();
  if (state.range(3) >= static_cast<int64_t>(paths.size())) {
    state.SkipWithError("path not supported on this CPU");
    return;
  }
  const w8a8_path path = paths[state.range(3)];
  state.SetLabel(w8a8_path_name(path));
  auto x = random_floats(M * K), wf = random_floats(N * K), w_scale = random_floats(N);
  std::vector<int8_t> w(wf.size());
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<int8_t>(wf[i] * 127.0f);
  const auto row_sums = w8a8_row_sums(w.data(), N, K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    gemm_w8a8_on(path, pool(), x.data(), M, K, w.data(), w_scale.data(), row_sums.data(), N, false,
                 y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_gemm_counters(state, "GOP/s", M, K, N, 1.0 * N * K);
}

void shapes(benchmark::internal::Benchmark* b, bool with_paths) {
  for (int64_t M : {1, 8, 16, 32, 128, 512}) {
    for (projection s : smollm2_layer_projections) {
      if (!with_paths) {
        b->Args({M, s.K, s.N});
        continue;
      }
      for (int64_t path = 0; path < 4; ++path)
        b->Args({M, s.K, s.N, path});
    }
  }
}

BENCHMARK(bm_gemm_f32)
    ->ArgNames({"M", "K", "N"})
    ->Apply([](benchmark::internal::Benchmark* b) { shapes(b, false); })
    ->UseRealTime();
BENCHMARK(bm_gemm_w8a8)
    ->ArgNames({"M", "K", "N", "path"})
    ->Apply([](benchmark::internal::Benchmark* b) { shapes(b, true); })
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
