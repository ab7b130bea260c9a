// The memory-bound kernels of a Llama-3-8B layer on the GPU (hidden 4096, intermediate 14336,
// 32 query heads of 128, vocabulary 128256 in bf16) at 1, 64 and 512 tokens: rmsnorm,
// add_rmsnorm, silu_mul, rope and the embedding gather. Each reports "GB/s" (the bytes the op
// must move, over the event-timed launch, L2 flushed before) and "pct_of_peak" against the
// device's DRAM bandwidth. Without a device every benchmark is skipped ("no CUDA device").
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "benchmarks/cuda/cuda_bench_support.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/random.hpp"
#include "kernels/cuda/rmsnorm.hpp"
#include "kernels/cuda/rope.hpp"

namespace troupe::bench {
namespace {

namespace kc = kernels::cuda;
using cuda::device_buffer;

constexpr int64_t hidden = 4096;
constexpr int64_t intermediate = 14336;
constexpr int32_t num_heads = 32;
constexpr int32_t head_dim = 128;
constexpr int64_t vocab = 128256;
constexpr float eps = 1e-5f;

// n f32 values in [-1, 1) generated on the device; false (and `state` skipped) on failure.
bool fill(benchmark::State& state, const device_buffer& buffer, int64_t n, uint64_t seed) {
  if (!buffer.get()) {
    state.SkipWithError("cudaMalloc failed");
    return false;
  }
  if (auto st = kc::fill_random(buffer.get(), kc::dense_type::f32, n, seed, 1.0f, nullptr);
      !st.ok()) {
    state.SkipWithError(st.message().c_str());
    return false;
  }
  return true;
}

// rmsnorm: x read, y written, the weight read once.
void bm_rmsnorm(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  const int64_t rows = state.range(0), n = rows * hidden;
  device_buffer x(n * 4), weight(hidden * 4), y(n * 4);
  if (!fill(state, x, n, 1) || !fill(state, weight, hidden, 2) || !fill(state, y, n, 3)) return;
  cuda::run_timed(state, (2.0 * n + hidden) * 4, [&](cudaStream_t s) {
    return kc::rmsnorm(x.get<float>(), weight.get<float>(), rows, hidden, eps, y.get<float>(), s);
  });
}

// add_rmsnorm: residual read and written, x read, y written, the weight read once.
void bm_add_rmsnorm(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  const int64_t rows = state.range(0), n = rows * hidden;
  device_buffer residual(n * 4), x(n * 4), weight(hidden * 4), y(n * 4);
  if (!fill(state, residual, n, 1) || !fill(state, x, n, 2) || !fill(state, weight, hidden, 3) ||
      !fill(state, y, n, 4))
    return;
  cuda::run_timed(state, (4.0 * n + hidden) * 4, [&](cudaStream_t s) {
    return kc::add_rmsnorm(residual.get<float>(), x.get<float>(), weight.get<float>(), rows, hidden,
                           eps, y.get<float>(), s);
  });
}

// silu_mul: gate and up read, out written.
void bm_silu_mul(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  const int64_t n = state.range(0) * intermediate;
  device_buffer gate(n * 4), up(n * 4), out(n * 4);
  if (!fill(state, gate, n, 1) || !fill(state, up, n, 2) || !fill(state, out, n, 3)) return;
  cuda::run_timed(state, 3.0 * n * 4, [&](cudaStream_t s) {
    return kc::silu_mul(gate.get<float>(), up.get<float>(), n, out.get<float>(), s);
  });
}

// rope of the query heads (neox, as Hugging Face Llama): x read and written, one cos and one
// sin row and one position per token read. Positions 0..tokens-1, as a prefill chunk.
void bm_rope(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  const int64_t tokens = state.range(0), n = tokens * num_heads * head_dim;
  const int32_t num_pairs = head_dim / 2, num_positions = 4096;
  kernels::cpu::rope_table table(head_dim, 500000.0f);
  table.ensure(num_positions);
  std::vector<int32_t> positions(tokens);
  for (int64_t t = 0; t < tokens; ++t)
    positions[t] = static_cast<int32_t>(t);
  const size_t table_bytes = size_t{num_positions} * num_pairs * 4;
  device_buffer cos(table_bytes), sin(table_bytes), pos(tokens * 4), x(n * 4);
  if (!fill(state, x, n, 1) || !cos.get() || !sin.get() || !pos.get()) {
    if (!state.error_occurred()) state.SkipWithError("cudaMalloc failed");
    return;
  }
  for (auto st :
       {CUDA_CHECK(cudaMemcpy(cos.get(), table.cos(0), table_bytes, cudaMemcpyDefault)),
        CUDA_CHECK(cudaMemcpy(sin.get(), table.sin(0), table_bytes, cudaMemcpyDefault)),
        CUDA_CHECK(cudaMemcpy(pos.get(), positions.data(), tokens * 4, cudaMemcpyDefault))})
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
  const double bytes = 2.0 * n * 4 + tokens * 4 + 2.0 * tokens * num_pairs * 4;
  cuda::run_timed(state, bytes, [&](cudaStream_t s) {
    return kc::rope(cos.get<float>(), sin.get<float>(), kc::rope_layout::neox, pos.get<int32_t>(),
                    tokens, num_heads, head_dim, x.get<float>(), s);
  });
}

// embedding from a bf16 table: one table row read (2 bytes an element) and one f32 row written
// per token, and the token ids read. Ids drawn uniformly from the vocabulary.
void bm_embedding(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  const int64_t tokens = state.range(0);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(tokens);
  for (auto& id : ids)
    id = token(rng);
  device_buffer table(vocab * hidden * 2), dids(tokens * 4), out(tokens * hidden * 4);
  if (!table.get() || !dids.get() || !out.get()) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  for (auto st :
       {kc::fill_random(table.get(), kc::dense_type::bf16, vocab * hidden, 6, 0.02f, nullptr),
        CUDA_CHECK(cudaMemcpy(dids.get(), ids.data(), tokens * 4, cudaMemcpyDefault))})
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
  const double bytes = tokens * hidden * (2.0 + 4.0) + tokens * 4.0;
  cuda::run_timed(state, bytes, [&](cudaStream_t s) {
    return kc::embedding(table.get(), kc::dense_type::bf16, vocab, hidden, 0, dids.get<int32_t>(),
                         tokens, out.get<float>(), s);
  });
}

// Each iteration also flushes L2 (untimed, but tens of microseconds): a short minimum time
// keeps the microsecond-sized cases from running for seconds.
void token_counts(benchmark::internal::Benchmark* b) {
  b->ArgName("tokens")->Arg(1)->Arg(64)->Arg(512);
  b->UseManualTime()->MinTime(0.05)->Unit(benchmark::kMicrosecond);
}

BENCHMARK(bm_rmsnorm)->Apply(token_counts);
BENCHMARK(bm_add_rmsnorm)->Apply(token_counts);
BENCHMARK(bm_silu_mul)->Apply(token_counts);
BENCHMARK(bm_rope)->Apply(token_counts);
BENCHMARK(bm_embedding)->Apply(token_counts);

}  // namespace
}  // namespace troupe::bench

BENCHMARK_MAIN();
