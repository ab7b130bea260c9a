#pragma once
// The kernels behind gemm_engine::w8a8 (kernels/cuda/gemm.hpp), each a step of
// kernels/cpu/gemm_w8a8.hpp's numerics, bit for bit:
//
//   x [M][K] f32 --w8a8_quantize--> q [M][K] int8, a_scale [M] f32, azp [M] int32
//   q, W [N][K] int8 --(cuBLASLt IMMA, or int8_gemm_dp4a)--> acc [M][ldc] int32 (exact sums)
//   acc, a_scale, azp, row_sums [N], w_scale [N] --w8a8_epilogue--> y [M][N] f32
//
// Exposed (rather than private to gemm.cu) so tests and benchmarks can run each step alone.
// Every pointer is device memory; each function enqueues one kernel on `stream` and returns the
// launch error, if any (file:line), without waiting. Nothing is enqueued when there is no row
// or no column. The numerics need IEEE f32 with subnormals: never build these with
// --use_fast_math or -ftz=true (an all-zero row's asymmetric scale is FLT_MIN / 255, subnormal).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/result.hpp"

namespace troupe::kernels::cuda {

// Per-token quantization of every row of x, kernels/cpu w8a8_quantize_token exactly (symmetric,
// or vLLM's dynamic zero point when `asymmetric`). One block per row.
//   x [M][K] f32 -> q [M][K] int8, a_scale [M], azp [M] (0 when symmetric)
status w8a8_quantize(const float* x, int64_t M, int64_t K, bool asymmetric, int8_t* q,
                     float* a_scale, int32_t* azp, cudaStream_t stream);

// acc[m * ldc + n] = sum_k q[m][k] * w[n][k] in wrapping int32 (exact for K <= 65536), with
// __dp4a on the CUDA cores: each warp streams 4 rows of W once against up to 8 rows of q, so a
// decode step (M <= 8) reads W once. Any M, N, and any alignment of w.
// requires: K % 4 == 0; q 4-byte aligned; ldc >= N.
//   q [M][K] int8, w [N][K] int8, acc [M][ldc] int32
status int8_gemm_dp4a(const int8_t* q, int64_t M, int64_t K, const int8_t* w, int64_t N,
                      int32_t* acc, int64_t ldc, cudaStream_t stream);

// y[m][n] = a_scale[m] * (w_scale[n] * float(acc[m * ldc + n] - azp[m] * row_sums[n])), the
// int32 product and difference wrapping (kernels/cpu w8a8_dequantize).
status w8a8_epilogue(const int32_t* acc, int64_t ldc, int64_t M, int64_t N, const float* a_scale,
                     const int32_t* azp, const int32_t* row_sums, const float* w_scale, float* y,
                     cudaStream_t stream);

// row_sums[n] = sum_k w[n][k] (kernels/cpu w8a8_row_sums). One warp per row.
//   w [N][K] int8, row_sums [N] int32
status w8a8_row_sums(const int8_t* w, int64_t N, int64_t K, int32_t* row_sums, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
