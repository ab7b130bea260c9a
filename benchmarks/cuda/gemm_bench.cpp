// The matrix products of a Llama-3-8B layer and its LM head on the GPU (kernels/cuda/gemm.hpp):
// bf16 weights (x rounded to bf16, cuBLAS) and W8A8 (per-token quantization, int8 product,
// epilogue: the whole call), at 1, 64 and 512 tokens; and the dp4a int8 product alone at the
// decode sizes it serves (kernels/cuda/gemm_w8a8.hpp). Each case reports
//   TFLOP/s          2 M N K over the event-timed call (int8: tera-ops), L2 flushed before
//   pct_of_peak      against the dense tensor peak (bf16 989.4 TFLOP/s, int8 1978.9 TOPS on
//                    H100/H200 SXM; 0 elsewhere)
//   GB/s, pct_of_hbm the weight bytes over the same time against the DRAM peak: the figure of
//                    merit at M = 1, where the product is bound by reading W
// Without a device every case is skipped ("no CUDA device").
//   ./cuda_gemm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "benchmarks/cuda/cuda_bench_support.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/gemm_w8a8.hpp"
#include "kernels/cuda/random.hpp"

namespace troupe::bench {
namespace {

namespace kc = kernels::cuda;
using cuda::device_buffer;

// Times `launch` (returns a status; enqueues on the engine's stream) and sets the counters above.
template <class Launch>
void run_timed(benchmark::State& state, cudaStream_t stream, double weight_bytes, double peak_tops,
               Launch&& launch) {
  const double total_seconds =
      cuda::time_launches(state, stream, [&](cudaStream_t) { return launch(); });
  if (total_seconds <= 0.0) return;
  const double M = state.range(0), N = state.range(1), K = state.range(2);
  const double per_second = static_cast<double>(state.iterations()) / total_seconds;
  const double tops = 2.0 * M * N * K * per_second / 1e12;
  const double gbps = weight_bytes * per_second / 1e9;
  const double peak_gbps = cuda::peak_memory_gbps();
  state.counters["TFLOP/s"] = tops;
  state.counters["pct_of_peak"] = peak_tops > 0.0 ? 100.0 * tops / peak_tops : 0.0;
  state.counters["GB/s"] = gbps;
  state.counters["pct_of_hbm"] = peak_gbps > 0.0 ? 100.0 * gbps / peak_gbps : 0.0;
}

bool all_allocated(benchmark::State& state, std::initializer_list<const device_buffer*> buffers) {
  for (const device_buffer* b : buffers)
    if (b->get() == nullptr) {
      state.SkipWithError("cudaMalloc failed");
      return false;
    }
  return true;
}

bool all_ok(benchmark::State& state, std::initializer_list<status> results) {
  for (const status& st : results)
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return false;
    }
  return true;
}

// args: M, N, K
void bm_dense_bf16(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  kc::gemm_engine* e = cuda::shared_gemm_engine(state);
  if (e == nullptr) return;
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  device_buffer x(M * K * 4), w(N * K * 2), y(M * N * 4);
  if (!all_allocated(state, {&x, &w, &y})) return;
  if (!all_ok(state, {kc::fill_random(x.get(), kc::dense_type::f32, M * K, 1, 1.0f, nullptr),
                      kc::fill_random(w.get(), kc::dense_type::bf16, N * K, 2, 0.02f, nullptr)}))
    return;
  run_timed(state, e->stream(), 2.0 * N * K, cuda::peak_dense_bf16_tflops(), [&] {
    return e->dense(x.get<float>(), M, K, w.get(), kc::dense_type::bf16, N, y.get<float>());
  });
}

// args: M, N, K. Symmetric per-token quantization (the compressed-tensors default).
void bm_w8a8(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  kc::gemm_engine* e = cuda::shared_gemm_engine(state);
  if (e == nullptr) return;
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  device_buffer x(M * K * 4), w(N * K), w_scale(N * 4), row_sums(N * 4), y(M * N * 4);
  if (!all_allocated(state, {&x, &w, &w_scale, &row_sums, &y})) return;
  if (!all_ok(state, {kc::fill_random(x.get(), kc::dense_type::f32, M * K, 1, 1.0f, nullptr),
                      kc::fill_random_int8(w.get<int8_t>(), N * K, 2, nullptr),
                      kc::fill_random(w_scale.get(), kc::dense_type::f32, N, 3, 0.01f, nullptr),
                      CUDA_CHECK(cudaDeviceSynchronize()),
                      e->w8a8_row_sums(w.get<int8_t>(), N, K, row_sums.get<int32_t>())}))
    return;
  run_timed(state, e->stream(), 1.0 * N * K, cuda::peak_dense_int8_tops(), [&] {
    return e->w8a8(x.get<float>(), M, K, w.get<int8_t>(), w_scale.get<float>(),
                   row_sums.get<int32_t>(), N, false, y.get<float>());
  });
}

// args: M, N, K. The int8 product alone on the CUDA cores (what w8a8 runs for M <= 8).
void bm_int8_dp4a(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  kc::gemm_engine* e = cuda::shared_gemm_engine(state);
  if (e == nullptr) return;
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  device_buffer q(M * K), w(N * K), acc(M * N * 4);
  if (!all_allocated(state, {&q, &w, &acc})) return;
  if (!all_ok(state, {kc::fill_random_int8(q.get<int8_t>(), M * K, 1, nullptr),
                      kc::fill_random_int8(w.get<int8_t>(), N * K, 2, nullptr)}))
    return;
  run_timed(state, e->stream(), 1.0 * N * K, cuda::peak_dense_int8_tops(), [&] {
    return kc::int8_gemm_dp4a(q.get<int8_t>(), M, K, w.get<int8_t>(), N, acc.get<int32_t>(), N,
                              e->stream());
  });
}

// Llama-3-8B: hidden 4096, 32 query and 8 kv heads of 128, intermediate 14336, vocab 128256.
struct projection {
  int64_t N, K;
};
constexpr projection llama3_8b[] = {
    {6144, 4096},    // qkv
    {4096, 4096},    // o
    {28672, 4096},   // gate_up
    {4096, 14336},   // down
    {128256, 4096},  // lm_head
};

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K"});
  for (int64_t M : {1, 64, 512})
    for (projection p : llama3_8b)
      b->Args({M, p.N, p.K});
  b->UseManualTime()->MinTime(0.05)->Unit(benchmark::kMicrosecond);
}

void decode_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K"});
  for (int64_t M : {1, 8})
    for (projection p : llama3_8b)
      b->Args({M, p.N, p.K});
  b->UseManualTime()->MinTime(0.05)->Unit(benchmark::kMicrosecond);
}

BENCHMARK(bm_dense_bf16)->Apply(shapes);
BENCHMARK(bm_w8a8)->Apply(shapes);
BENCHMARK(bm_int8_dp4a)->Apply(decode_shapes);

}  // namespace
}  // namespace troupe::bench

BENCHMARK_MAIN();
