// panel_gemm against dense_gemm on the default model's (SmolLM2-135M) MLP and LM-head shapes, for
// decode steps of 1 and 16 sequences and prefill chunks of 128 and 512 tokens, on 1 and 2
// threads; GFLOPS, and the weights' bytes per second (what bounds decode, M = 1). Kinds 4 and 5 are
// amx_gemm (bf16 weights times x rounded to bf16: `--dtype bfloat16`'s path) on AMX tiles and on
// AVX512-BF16 register tiles, each where the CPU has it.
//   ./panel_gemm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <bit>
#include <memory>
#include <vector>

#include "benchmarks/bench_support.hpp"
#include "kernels/cpu/amx_gemm.hpp"
#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/panel_gemm.hpp"

namespace {

using namespace troupe::kernels::cpu;

using namespace troupe::bench;

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = static_cast<uint16_t>(std::bit_cast<uint32_t>(v[i]) >> 16);
  return h;
}

enum kind : int64_t { dense_f32, panel_f32, dense_bf16, panel_bf16, amx_bf16, dot_bf16 };

// args: kind, M, K, N, threads
void bm_gemm(benchmark::State& state) {
  const auto k = static_cast<kind>(state.range(0));
  const int64_t M = state.range(1), K = state.range(2), N = state.range(3);
  thread_pool& p = pool(static_cast<int>(state.range(4)));
  const bool on_tiles = k == amx_bf16 || k == dot_bf16;
  const auto engine = k == amx_bf16 ? bf16_tile_engine::amx : bf16_tile_engine::avx512_bf16;
  if (on_tiles && !bf16_tile_engine_supported(engine))
    return state.SkipWithError("this CPU has no such bf16 tiles");
  const bool bf16 = k != dense_f32 && k != panel_f32;
  const dense_type type = bf16 ? dense_type::bf16 : dense_type::f32;
  auto x = random_floats(M * K, 1), w = random_floats(N * K, 2);
  std::vector<uint16_t> w_half = bf16 ? to_bf16(w) : std::vector<uint16_t>{};
  const void* w_data = bf16 ? static_cast<const void*>(w_half.data()) : w.data();
  std::shared_ptr<const panel_weight> packed;
  if (k == panel_f32 || k == panel_bf16) packed = pack_panels(type, w_data, N, K);
  std::shared_ptr<const amx_weight> tiles;
  if (on_tiles) tiles = pack_amx_weight(w_half.data(), N, K);
  std::vector<float> y(M * N);
  const amx_weight* ws[] = {tiles.get()};
  float* ys[] = {y.data()};
  for (auto _ : state) {
    if (tiles)
      amx_gemm_many_with(engine, p, ws, x.data(), M, ys);
    else if (packed)
      panel_gemm(p, *packed, x.data(), M, y.data());
    else
      dense_gemm(p, type, x.data(), M, K, w_data, N, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_gemm_counters(state, "GFLOPS", M, K, N, (bf16 ? 2.0 : 4.0) * N * K);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"kind", "M", "K", "N", "threads"});
  for (int64_t threads : {1, 2}) {
    for (int64_t M : {1, 16, 128, 512}) {
      for (projection s : {smollm2_gate_up, smollm2_down, smollm2_lm_head}) {
        if (!runs_at(s, M)) continue;
        for (int64_t k : {dense_f32, panel_f32, dense_bf16, panel_bf16, amx_bf16, dot_bf16})
          b->Args({k, M, s.K, s.N, threads});
      }
    }
  }
}

BENCHMARK(bm_gemm)->Apply(shapes)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
