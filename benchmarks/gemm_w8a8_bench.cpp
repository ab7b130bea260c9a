// GOP/s of the W8A8 int8 gemm (kernels/cpu/gemm_w8a8.hpp) on each path this CPU runs, against
// the f32 gemm, at the default model's (SmolLM2-135M) projection shapes: decode steps of 1 and
// 16 sequences and a 512-token prefill. One op = one multiply or one add (2 M N K per call);
// the W8A8 time includes quantizing the activations.
//   ./gemm_w8a8_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"

namespace {

using namespace troupe::kernels::cpu;

thread_pool& pool() {
  static thread_pool p;
  return p;
}

std::vector<float> random_floats(size_t n) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

void set_counters(benchmark::State& state, int64_t M, int64_t K, int64_t N, int64_t w_bytes) {
  state.counters["GOP/s"] = benchmark::Counter(
      2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["GB/s(W)"] = benchmark::Counter(static_cast<double>(w_bytes) * N * K,
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// args: M, K, N
void bm_gemm_f32(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  auto x = random_floats(M * K), w = random_floats(N * K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    gemm(pool(), x.data(), M, K, w.data(), N, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, M, K, N, 4);
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
  set_counters(state, M, K, N, 1);
}

void shapes(benchmark::internal::Benchmark* b, bool with_paths) {
  for (int64_t M : {1, 16, 512}) {
    for (auto [K, N] :
         {std::pair<int64_t, int64_t>{576, 576}, {576, 192}, {576, 1536}, {1536, 576}}) {
      if (!with_paths) {
        b->Args({M, K, N});
        continue;
      }
      for (int64_t path = 0; path < 3; ++path)
        b->Args({M, K, N, path});
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
