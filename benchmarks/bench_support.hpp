// Shared pieces of the gemm benchmarks: the default model's projection shapes, seeded inputs, the
// thread pools and the throughput counters. Header-only; each benchmark binary includes it once.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::bench {

// -- shapes --

// One projection y = x W^T of the default model (SmolLM2-135M): W is N rows of K.
struct projection {
  int64_t K, N;
};

constexpr projection smollm2_qo{576, 576};         // wq, wo
constexpr projection smollm2_kv{576, 192};         // wk, wv
constexpr projection smollm2_gate_up{576, 1536};   // w_gate, w_up
constexpr projection smollm2_down{1536, 576};      // w_down
constexpr projection smollm2_lm_head{576, 49152};  // lm head (tied token embedding)

// Every projection of a layer; the same then the LM head.
constexpr projection smollm2_layer_projections[] = {smollm2_qo, smollm2_kv, smollm2_gate_up,
                                                    smollm2_down};
constexpr projection smollm2_projections[] = {smollm2_qo, smollm2_kv, smollm2_gate_up, smollm2_down,
                                              smollm2_lm_head};

// Whether a batch of M rows runs `p`: a 512-token prefill chunk never projects every row to
// logits, so that LM-head shape is not measured.
constexpr bool runs_at(projection p, int64_t M) {
  return !(M == 512 && p.N == smollm2_lm_head.N);
}

// -- inputs and threads --

// n floats uniform in [-1, 1), the same for the same seed.
inline std::vector<float> random_floats(size_t n, uint32_t seed = 42) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

// The binary's pool of the default size, built on first use.
inline kernels::cpu::thread_pool& pool() {
  static kernels::cpu::thread_pool p;
  return p;
}

// The binary's pool of 1 thread (threads == 1) or else of 2, built on first use.
inline kernels::cpu::thread_pool& pool(int threads) {
  static kernels::cpu::thread_pool p1(1), p2(2);
  return threads == 1 ? p1 : p2;
}

// -- counters --

// Per-iteration rates, in units of 1000: `ops_counter` (e.g. "GFLOPS", "GOP/s") counts the
// 2 M N K multiplies and adds of one product, "GB/s(W)" the weight bytes read.
inline void set_gemm_counters(benchmark::State& state, const char* ops_counter, int64_t M,
                              int64_t K, int64_t N, double weight_bytes) {
  state.counters[ops_counter] = benchmark::Counter(
      2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["GB/s(W)"] = benchmark::Counter(
      weight_bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// Times `product(pool(), x, M, K, w, N, y)`, an f32 gemm with cpu::gemm's signature, for the args
// M, K, N (state.range(0..2)) on random_floats inputs; counters as set_gemm_counters with 4 weight
// bytes per element of W.
template <class Product>
void time_f32_gemm(benchmark::State& state, const char* ops_counter, Product product) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  auto x = random_floats(M * K), w = random_floats(N * K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    product(pool(), x.data(), M, K, w.data(), N, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_gemm_counters(state, ops_counter, M, K, N, 4.0 * N * K);
}

}  // namespace troupe::bench
