#pragma once
// Matrix products on the GPU for the CUDA backend: y = x W^T with f32 activations x [M][K],
// a weight W [N][K] (row-major, the model's [out][in]) and f32 outputs y [M][N], all device
// memory, enqueued on the engine's stream.
//
//   dense f32        cuBLAS in full f32 (CUBLAS_COMPUTE_32F, no TF32): the CPU's math, summed in
//                    another order
//   dense bf16/f16   x rounded to W's type (convert(), RNE) into the engine's scratch, then
//                    cuBLAS with f32 accumulation (CUBLAS_COMPUTE_32F) and f32 output
//   w8a8, w8a8_azp   kernels/cpu/gemm_w8a8.hpp's numerics exactly: x quantized per token
//                    (symmetric, or vLLM's dynamic zero point) by one kernel, the int8 x int8
//                    products summed in exact int32 (cuBLASLt IMMA), then the epilogue
//                    a_scale * (w_scale * float(acc - azp * row_sum)) per element: the same bits
//                    as the CPU kernel
//   GGUF blocks      W in quant_gemm.hpp's packed layout. Up to 32 rows of x (decode steps):
//                    kernels/cpu/quant_gemm.hpp's numerics exactly (x quantized per block on the
//                    device, exact int32 block sums, the blocks' f32 terms added in the CPU's
//                    order). More rows (prompts, large decode batches): W decoded to f16 in chunks
//                    of 16 MB (L2-resident) and cuBLAS with x rounded to f16 and f32 accumulation,
//                    as vLLM and llama.cpp multiply GGUF weights in large batches (the tensor
//                    cores; not the CPU's bits)
//
// Thread: one thread at a time (the backend's); the engine's scratch is reused by every call, so
// calls are ordered on its stream.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "base/result.hpp"
#include "kernels/cuda/quant_gemm.hpp"
#include "kernels/cuda/types.hpp"

namespace troupe::kernels::cuda {

// One product of several sharing their x (gemm_engine's overloads taking arrays of them;
// kernels/cuda is C++17, so no std::span): y [M][N] = x W^T.
struct dense_target {
  const void* w;  // [N][K] of the call's dense_type
  int64_t N;
  float* y;
};
struct w8a8_target {
  const int8_t* w;  // [N][K]
  const float* w_scale;
  const int32_t* row_sums;
  int64_t N;
  float* y;
};

struct quant_target {
  const uint32_t* w;  // packed (quant_pack) [N][K]
  int64_t N;
  float* y;
};

class gemm_engine {
 public:
  // cuBLAS / cuBLASLt handles bound to `stream` and a workspace; an error when the library or
  // the device cannot be initialized.
  static result<std::unique_ptr<gemm_engine>> create(cudaStream_t stream);
  ~gemm_engine();
  gemm_engine(const gemm_engine&) = delete;
  gemm_engine& operator=(const gemm_engine&) = delete;

  // y [M][N] = x [M][K] W^T, W [N][K] dense of `type`. requires: y does not alias x.
  status dense(const float* x, int64_t M, int64_t K, const void* w, dense_type type, int64_t N,
               float* y);
  // The same for every target, x rounded to `type` once (q/k/v, gate/up): the same bits as one
  // call per target. requires: no y aliases x.
  status dense(const float* x, int64_t M, int64_t K, dense_type type, const dense_target* targets,
               int64_t num_targets);

  // W8A8 (kernels/cpu/gemm_w8a8.hpp): w [N][K] int8, w_scale [N], row_sums [N] (w8a8_row_sums
  // below). requires: K <= 65536 and K % 4 == 0 (cuBLASLt's int8 layout); y does not alias x.
  status w8a8(const float* x, int64_t M, int64_t K, const int8_t* w, const float* w_scale,
              const int32_t* row_sums, int64_t N, bool asymmetric, float* y);
  // The same for every target, x quantized once: the same bits as one call per target.
  status w8a8(const float* x, int64_t M, int64_t K, bool asymmetric, const w8a8_target* targets,
              int64_t num_targets);

  // GGUF blocks (quant_gemm.hpp) for every target, all of format f, x quantized (or rounded to
  // f16) once.
  // requires: K % block_elements(f) == 0; no y aliases x.
  status quant(const float* x, int64_t M, int64_t K, block_format f, const quant_target* targets,
               int64_t num_targets);

  // The f16 path's chunk of W (default 16 MB; at least 64 rows): for tests.
  void set_dequant_chunk_bytes(int64_t bytes);
  // The most rows of x that quant() gives the block kernel (more take the f16 path; the default
  // is an estimate, gemm.cu): for tests and benchmarks.
  static constexpr int64_t default_quant_kernel_max_rows = 32;
  void set_quant_kernel_max_rows(int64_t rows);

  // row_sums[n] = sum_k w[n][k] (kernels/cpu::w8a8_row_sums on the device).
  status w8a8_row_sums(const int8_t* w, int64_t N, int64_t K, int32_t* row_sums);

  cudaStream_t stream() const;
  // Changes whenever the engine's scratch memory moves (it only grows): a CUDA graph that
  // captured calls of this engine names the old memory and must be captured again.
  uint64_t generation() const;

 private:
  struct impl;
  explicit gemm_engine(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace troupe::kernels::cuda
