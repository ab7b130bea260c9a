// GGUF block products on the GPU (kernels/cuda/quant_gemm.hpp through gemm_engine::quant, the
// whole call) on the matrices of a Llama-3-8B layer and its LM head, for q4_k (the bulk of a
// Q4_K_M file), q6_k (its LM head and some down projections), q8_0 and q4_1 (the default
// model's), at 1, 8, 64 and 512 tokens, each on the path the engine chooses (the int8 block
// kernel, activation quantization included, up to 32 rows; W decoded to f16 in chunks for cuBLAS
// beyond); then q4_k's gate/up and down at 8 to 64 rows on each path forced (path 1: the
// kernel, 2: f16), which shows where one should hand over to the other. Each case reports
//   GB/s, pct_of_hbm   the packed weight's bytes over the event-timed call (L2 flushed before
//                      each) against the DRAM peak: the figure of merit at decode sizes
//   TOPS               2 M N K over the same time
// The weights are random words on the device (a product's time does not depend on the values).
// format: kernels::cpu::block_format's value (2 q4_1, 0 q8_0, 5 q4_k, 7 q6_k).
// Without a device every case is skipped ("no CUDA device").
//   ./cuda_quant_gemm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "benchmarks/cuda/cuda_bench_support.hpp"
#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/quant_gemm.hpp"
#include "kernels/cuda/random.hpp"

namespace troupe::bench {
namespace {

namespace kc = kernels::cuda;
using cuda::device_buffer;
using kernels::cpu::block_format;

// args: format, M, N, K[, path: 1 the block kernel, 2 the f16 path, whatever M; else the
// engine's own choice]
void bm_quant(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  kc::gemm_engine* e = cuda::shared_gemm_engine(state);
  if (e == nullptr) return;
  const auto f = static_cast<block_format>(state.range(0));
  const int64_t M = state.range(1), N = state.range(2), K = state.range(3);
  const int64_t path = state.range(4);
  e->set_quant_kernel_max_rows(path == 1   ? M
                               : path == 2 ? 0
                                           : kc::gemm_engine::default_quant_kernel_max_rows);
  const int64_t words = kc::quant_packed_words(f, N, K);
  device_buffer x(M * K * 4), w(words * 4), y(M * N * 4);
  if (x.get() == nullptr || w.get() == nullptr || y.get() == nullptr) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  for (const status& st : {kc::fill_random(x.get(), kc::dense_type::f32, M * K, 1, 1.0f, nullptr),
                           kc::fill_random_int8(w.get<int8_t>(), words * 4, 2, nullptr),
                           CUDA_CHECK(cudaDeviceSynchronize())}) {
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
  }
  const kc::quant_target target{w.get<uint32_t>(), N, y.get<float>()};
  const double total_seconds = cuda::time_launches(state, e->stream(), [&](cudaStream_t) {
    return e->quant(x.get<float>(), M, K, f, &target, 1);
  });
  if (total_seconds <= 0.0) return;
  const double per_second = static_cast<double>(state.iterations()) / total_seconds;
  const double gbps = 4.0 * static_cast<double>(words) * per_second / 1e9;
  const double peak = cuda::peak_memory_gbps();
  state.counters["GB/s"] = gbps;
  state.counters["pct_of_hbm"] = peak > 0.0 ? 100.0 * gbps / peak : 0.0;
  state.counters["TOPS"] = 2.0 * double(M) * double(N) * double(K) * per_second / 1e12;
}

// Llama-3-8B: hidden 4096, intermediate 14336, vocab 128256 (q, k and v as one 6144-row matrix).
struct projection {
  int64_t N, K;
};
constexpr projection llama3_8b[] = {
    {6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}, {128256, 4096}};

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"format", "M", "N", "K", "path"});
  for (block_format f :
       {block_format::q4_k, block_format::q6_k, block_format::q8_0, block_format::q4_1}) {
    for (int64_t M : {1, 8, 64, 512}) {
      for (projection p : llama3_8b) {
        // The LM head reads only the sampled rows: at most 64 of them.
        if (p.N == 128256 && M > 64) continue;
        b->Args({static_cast<int64_t>(f), M, p.N, p.K, 0});
      }
    }
  }
  // Where the block kernel should hand over to the f16 path (gemm.cu's quant_kernel_max_rows):
  // both forced, on q4_k's gate/up and down, at 8 to 64 rows.
  for (int64_t M : {8, 16, 32, 48, 64})
    for (int64_t path : {1, 2})
      for (projection p : {llama3_8b[2], llama3_8b[3]})
        b->Args({static_cast<int64_t>(block_format::q4_k), M, p.N, p.K, path});
  b->UseManualTime()->MinTime(0.02)->Unit(benchmark::kMicrosecond);
}

BENCHMARK(bm_quant)->Apply(shapes);

}  // namespace
}  // namespace troupe::bench

BENCHMARK_MAIN();
