// The sampling step on the GPU for 64 rows of Llama-3's 128256 logits: argmax_rows then
// sample_rows (kernels/cuda/sampling.hpp), as a decode step runs them, for greedy rows,
// temperature 0.7 with top_p 0.9, temperature 1 with top_k 50, and temperature 1 without a cut.
// Reports "GB/s" of the logits (the bytes the step must read at least once, over the event-timed
// launches, L2 flushed before) and "pct_of_peak" against the device's DRAM bandwidth: how close
// the step comes to a single pass over the logits. Without a device every benchmark is skipped.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "benchmarks/cuda/cuda_bench_support.hpp"
#include "kernels/cpu/sampling.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/random.hpp"
#include "kernels/cuda/sampling.hpp"

namespace troupe::bench {
namespace {

namespace kc = kernels::cuda;
using cuda::device_buffer;
using kernels::cpu::sampling_row;

constexpr int64_t rows = 64;
constexpr int64_t vocab = 128256;
// Logits uniform in [-bound, bound): at temperature 0.7 the top-p 0.9 nucleus holds some
// thousands of ids, and every row has distinct maxima (no all-equal shortcut).
constexpr float logit_bound = 8.0f;

void bm_sample_rows(benchmark::State& state, float temperature, int32_t top_k, float top_p) {
  if (!cuda::require_device(state)) return;
  const int64_t n = rows * vocab;
  std::mt19937_64 bits(7);
  std::vector<sampling_row> params(rows);
  for (auto& p : params) {
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    const uint64_t random = bits();
    p.random_lo = static_cast<uint32_t>(random);
    p.random_hi = static_cast<uint32_t>(random >> 32);
  }
  device_buffer logits(n * 4), dparams(rows * sizeof(sampling_row)), greedy(rows * 4),
      out(2 * rows * 4);
  if (!logits.get() || !dparams.get() || !greedy.get() || !out.get()) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  for (auto st : {kc::fill_random(logits.get(), kc::dense_type::f32, n, 1, logit_bound, nullptr),
                  CUDA_CHECK(cudaMemcpy(dparams.get(), params.data(), rows * sizeof(sampling_row),
                                        cudaMemcpyDefault))})
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
  cuda::run_timed(state, n * 4.0, [&](cudaStream_t s) {
    if (auto st = kc::argmax_rows(logits.get<float>(), rows, vocab, greedy.get<float>(), s);
        !st.ok())
      return st;
    return kc::sample_rows(logits.get<float>(), rows, vocab, dparams.get<sampling_row>(),
                           greedy.get<float>(), out.get<float>(), s);
  });
}

void setup(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->MinTime(0.05)->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(bm_sample_rows, greedy, 0.0f, 0, 1.0f)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, t0_7_top_p_0_9, 0.7f, 0, 0.9f)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, t1_top_k_50, 1.0f, 50, 1.0f)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, t1_no_cut, 1.0f, 0, 1.0f)->Apply(setup);

}  // namespace
}  // namespace troupe::bench

BENCHMARK_MAIN();
