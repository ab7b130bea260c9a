// kernels::cpu::sample_row and top_logprobs on one row of a Llama-3-sized vocabulary (128256
// logits, normal with sigma 3), the host side of every backend's sample_rows: the time a row
// takes on the CPU backend (the CUDA kernel's twin is benchmarks/cuda/sampling_bench.cpp).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/sampling.hpp"

namespace {

using troupe::kernels::cpu::sampling_row;

constexpr int64_t vocab = 128256;

const std::vector<float>& logits() {
  static const std::vector<float> row = [] {
    std::vector<float> v(vocab);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 3.0f);
    for (auto& x : v)
      x = d(rng);
    return v;
  }();
  return row;
}

void bm_sample_row(benchmark::State& state, float temperature, int32_t top_k, float top_p) {
  sampling_row p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  uint64_t draw = 0;
  for (auto _ : state) {
    p.set_random(0x9e3779b97f4a7c15ULL * ++draw);
    benchmark::DoNotOptimize(troupe::kernels::cpu::sample_row(logits().data(), vocab, p));
  }
}
BENCHMARK_CAPTURE(bm_sample_row, t0_8_no_cut, 0.8f, 0, 1.0f)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_sample_row, t0_8_top_p_0_95, 0.8f, 0, 0.95f)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_sample_row, t0_8_top_k_50, 0.8f, 50, 1.0f)->Unit(benchmark::kMicrosecond);

void bm_top_logprobs_20(benchmark::State& state) {
  std::vector<int32_t> ids(20);
  std::vector<float> values(20);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        troupe::kernels::cpu::top_logprobs(logits().data(), vocab, 20, ids.data(), values.data()));
  }
}
BENCHMARK(bm_top_logprobs_20)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
