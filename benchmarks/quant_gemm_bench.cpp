// quant_gemm (GGUF block weights x int8 activations; repacking W per call) and quant_gemm_packed
// (W packed once) against the f32 gemm and dense_gemm at the default model's (SmolLM2-135M Q4_1,
// LM head Q8_0) shapes: a decode step of 1 and 16 sequences, a 128-token prompt and a 512-token
// prefill. GB/s(W) counts the weight bytes as stored (f32: 4 per weight); GOP/s counts 2 M N K.
//   ./quant_gemm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <optional>
#include <random>
#include <vector>

#include "benchmarks/bench_support.hpp"
#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/quant_gemm.hpp"

namespace {

using namespace troupe::kernels::cpu;

using namespace troupe::bench;

// Random quants with a small f16 scale (0x2000 = 2^-7) at the start of every block (and q6_k's
// at its end), so no value is inf or NaN.
std::vector<uint8_t> random_weights(block_format f, int64_t N, int64_t K) {
  std::mt19937 rng(7);
  std::vector<uint8_t> w(N * row_bytes(f, K));
  for (auto& b : w)
    b = static_cast<uint8_t>(rng());
  const int64_t bytes = block_bytes(f), scale_at = f == block_format::q6_k ? 208 : 0;
  for (size_t at = 0; at < w.size(); at += bytes) {
    w[at + scale_at] = 0x00;
    w[at + scale_at + 1] = 0x20;
    if (f != block_format::q8_0 && f != block_format::q4_0 && f != block_format::q5_0) {
      w[at + 2] = 0x00;  // m / dmin
      w[at + 3] = 0x20;
    }
  }
  return w;
}

// One quant benchmark's args: format, path, M, K, N.
struct quant_case {
  block_format f;
  quant_path path;
  int64_t M, K, N;
};

// The state's quant_case; nullopt, with the benchmark marked skipped, where this CPU lacks the
// path.
std::optional<quant_case> quant_case_of(benchmark::State& state) {
  const quant_case c{static_cast<block_format>(state.range(0)),
                     static_cast<quant_path>(state.range(1)), state.range(2), state.range(3),
                     state.range(4)};
  if (quant_path_supported(c.path)) return c;
  state.SkipWithError("path not supported on this CPU");
  return std::nullopt;
}

// args: format, path, M, K, N
void bm_quant_gemm(benchmark::State& state) {
  const auto c = quant_case_of(state);
  if (!c) return;
  const auto [f, path, M, K, N] = *c;
  auto x = random_floats(M * K);
  auto w = random_weights(f, N, K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    quant_gemm_on(path, pool(), f, x.data(), M, K, w.data(), N, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_gemm_counters(state, "GOP/s", M, K, N, static_cast<double>(w.size()));
}

// args: format, path, M, K, N
void bm_quant_packed(benchmark::State& state) {
  const auto c = quant_case_of(state);
  if (!c) return;
  const auto [f, path, M, K, N] = *c;
  auto x = random_floats(M * K);
  const auto w = pack_quant_weight(f, random_weights(f, N, K).data(), N, K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    quant_gemm_packed_on(path, pool(), *w, x.data(), M, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_gemm_counters(state, "GOP/s", M, K, N, static_cast<double>(N * row_bytes(f, K)));
}

// args: M, K, N
void bm_f32_dense_gemm(benchmark::State& state) {
  time_f32_gemm(state, "GOP/s",
                [](thread_pool& p, const float* x, int64_t M, int64_t K, const float* w, int64_t N,
                   float* y) { dense_gemm(p, dense_type::f32, x, M, K, w, N, y); });
}

// args: M, K, N
void bm_f32_gemm(benchmark::State& state) {
  time_f32_gemm(state, "GOP/s", gemm);
}

struct shape {
  block_format f;
  int64_t K, N;
};

constexpr shape shapes[] = {
    {block_format::q4_1, 576, 576},    // wq, wo
    {block_format::q4_1, 576, 192},    // wk, wv
    {block_format::q4_1, 576, 1536},   // w_gate, w_up
    {block_format::q4_1, 1536, 576},   // w_down
    {block_format::q8_0, 576, 49152},  // lm head (tied token embedding, Q8_0 in the file)
    {block_format::q8_0, 576, 1536},  {block_format::q4_0, 576, 1536},
    {block_format::q5_0, 576, 1536},  {block_format::q5_1, 576, 1536},
    {block_format::q4_k, 768, 1536},  {block_format::q6_k, 768, 1536},
};

void quant_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"fmt", "path", "M", "K", "N"});
  for (int64_t M : {1, 16, 128, 512})
    for (const shape& s : shapes)
      if (runs_at({s.K, s.N}, M))
        for (quant_path p : {quant_path::avx512_vnni, quant_path::avx2, quant_path::scalar})
          if (p != quant_path::scalar || M == 1)
            b->Args({static_cast<int64_t>(s.f), static_cast<int64_t>(p), M, s.K, s.N});
}

void f32_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (int64_t M : {1, 16, 512})
    for (projection s : smollm2_projections)
      if (runs_at(s, M)) b->Args({M, s.K, s.N});
}

BENCHMARK(bm_quant_gemm)->Apply(quant_args)->UseRealTime();
BENCHMARK(bm_quant_packed)->Apply(quant_args)->UseRealTime();
BENCHMARK(bm_f32_gemm)->Apply(f32_args)->UseRealTime();
BENCHMARK(bm_f32_dense_gemm)->Apply(f32_args)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
