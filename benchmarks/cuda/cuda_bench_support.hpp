// Shared pieces of the GPU kernel benchmarks (benchmarks/cuda/*_bench.cpp): the device's peak
// memory bandwidth and tensor throughput, device buffers, and a loop that times one launch per
// iteration with CUDA events (after flushing L2) and reports what fraction of the peak it moved.
// Header-only; each benchmark binary includes it once.
//
//   void bm_op(benchmark::State& state) {
//     if (!cuda::require_device(state)) return;
//     ...allocate...
//     cuda::run_timed(state, bytes_moved, [&](cudaStream_t s) { return op(..., s); });
//   }
//   BENCHMARK(bm_op)->UseManualTime();
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "base/result.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/gemm.hpp"

namespace troupe::bench::cuda {

// -- the device --

// Whether a CUDA device is present; without one, marks `state` skipped ("no CUDA device").
inline bool require_device(benchmark::State& state) {
  if (kernels::cuda::cuda_device_count() > 0) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

// Peak DRAM bandwidth of `device` in GB/s (10^9 bytes/s): 2 transfers per memory clock (DDR)
// times the bus width in bytes. 0 when the attributes cannot be read. (CUDA 13 dropped
// memoryClockRate from cudaDeviceProp; the attributes remain.)
inline double peak_memory_gbps(int device = 0) {
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
    cudaGetLastError();  // clear the error for later calls
    return 0.0;
  }
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
}

// Whether `device` is an H100 or H200 SXM part (the datasheet figures below).
inline bool is_hopper_sxm(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  const std::string name = prop.name;
  const bool hopper =
      name.find("H100") != std::string::npos || name.find("H200") != std::string::npos;
  // PCIe and NVL boards run lower clocks and power: not the SXM figures.
  return hopper && name.find("PCIe") == std::string::npos && name.find("NVL") == std::string::npos;
}

// Peak dense (no sparsity) bf16 tensor throughput of `device` in TFLOP/s, from the datasheet:
// 989.4 for H100 and H200 SXM. 0 means unknown.
inline double peak_dense_bf16_tflops(int device = 0) {
  return is_hopper_sxm(device) ? 989.4 : 0.0;
}

// Peak dense int8 tensor throughput in TOPS: 1978.9 for H100 and H200 SXM; 0 means unknown.
inline double peak_dense_int8_tops(int device = 0) {
  return is_hopper_sxm(device) ? 1978.9 : 0.0;
}

// -- device memory --

// `bytes` of device memory, freed on scope exit; get() is null when the allocation failed.
class device_buffer {
 public:
  explicit device_buffer(size_t bytes) {
    if (cudaMalloc(&ptr_, bytes) != cudaSuccess) {
      cudaGetLastError();
      ptr_ = nullptr;
    }
  }
  ~device_buffer() { cudaFree(ptr_); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;

  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

// -- timing --

// CUDA events around the launches enqueued between start() and stop() on one stream.
class event_timer {
 public:
  event_timer() {
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~event_timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  event_timer(const event_timer&) = delete;
  event_timer& operator=(const event_timer&) = delete;

  void start(cudaStream_t stream) { cudaEventRecord(start_, stream); }
  // Waits for the stream to reach stop(); the seconds since start().
  double stop(cudaStream_t stream) {
    cudaEventRecord(stop_, stream);
    cudaEventSynchronize(stop_);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start_, stop_);
    return ms * 1e-3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Sets "GB/s" (bytes moved per launch over the measured time) and "pct_of_peak" (against
// peak_memory_gbps(); 0 when the peak is unknown).
inline void set_bandwidth_counters(benchmark::State& state, double bytes_per_launch,
                                   double total_seconds) {
  if (total_seconds <= 0.0) return;
  const double gbps =
      bytes_per_launch * static_cast<double>(state.iterations()) / total_seconds / 1e9;
  const double peak = peak_memory_gbps();
  state.counters["GB/s"] = gbps;
  state.counters["pct_of_peak"] = peak > 0.0 ? 100.0 * gbps / peak : 0.0;
}

// Times `launch` (enqueues the kernel(s) under test on `stream` and returns their status) once
// per iteration with CUDA events, with L2 flushed before each so small shapes are not served from
// cache; sets each iteration's time (UseManualTime()). The total seconds, or 0 with `state`
// skipped when a launch or the stream failed.
template <class Launch>
double time_launches(benchmark::State& state, cudaStream_t stream, Launch&& launch) {
  if (const auto st = CUDA_CHECK(cudaDeviceSynchronize()); !st.ok()) {  // setup on stream 0
    state.SkipWithError(st.message().c_str());
    return 0.0;
  }
  int l2_bytes = 0;
  cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, 0);
  const size_t flush_bytes = 2 * static_cast<size_t>(l2_bytes);
  device_buffer flush(flush_bytes);
  event_timer timer;
  double total_seconds = 0.0;
  for (auto _ : state) {
    if (flush.get()) cudaMemsetAsync(flush.get(), 0, flush_bytes, stream);
    timer.start(stream);
    const status st = launch(stream);
    const double seconds = timer.stop(stream);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
    state.SetIterationTime(seconds);
    total_seconds += seconds;
  }
  // A kernel that faulted shows here (the launch itself returned ok).
  if (const auto st = CUDA_CHECK(cudaStreamSynchronize(stream)); !st.ok())
    state.SkipWithError(st.message().c_str());
  return state.error_occurred() ? 0.0 : total_seconds;
}

// time_launches on a stream of its own, then the bandwidth counters for `bytes_per_launch`.
template <class Launch>
void run_timed(benchmark::State& state, double bytes_per_launch, Launch&& launch) {
  cudaStream_t stream = nullptr;
  if (!CUDA_CHECK(cudaStreamCreate(&stream)).ok()) {
    state.SkipWithError("cudaStreamCreate failed");
    return;
  }
  const double total_seconds = time_launches(state, stream, launch);
  cudaStreamDestroy(stream);
  if (!state.error_occurred()) set_bandwidth_counters(state, bytes_per_launch, total_seconds);
}

// The gemm_engine a benchmark binary's cases share, on its own stream, created on first use and
// kept for the process's life (destroying cuBLAS handles during static destruction races the
// CUDA runtime's unload). Null, with `state` skipped, when it cannot be made.
inline kernels::cuda::gemm_engine* shared_gemm_engine(benchmark::State& state) {
  static kernels::cuda::gemm_engine* shared = []() -> kernels::cuda::gemm_engine* {
    cudaStream_t stream = nullptr;
    if (cudaStreamCreate(&stream) != cudaSuccess) return nullptr;
    auto e = kernels::cuda::gemm_engine::create(stream);
    return e.ok() ? std::move(*e).release() : nullptr;
  }();
  if (shared == nullptr) state.SkipWithError("gemm_engine::create failed");
  return shared;
}

}  // namespace troupe::bench::cuda
