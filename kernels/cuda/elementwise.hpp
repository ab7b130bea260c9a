#pragma once
// Elementwise and gather kernels on the GPU, each the same op as its kernels/cpu reference
// (named per function). Every pointer is device memory; every function enqueues one kernel on
// `stream` and returns the launch error, if any (file:line), without waiting for it to run.
// n == 0 (or no rows) enqueues nothing.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/result.hpp"
#include "kernels/cuda/types.hpp"

namespace troupe::kernels::cuda {

// out[t] = table[token_ids[t] - first_token] widened to f32, zeros where token_ids[t] -
// first_token is outside [0, table_rows) (a vocab-parallel shard holds rows [first_token,
// first_token + table_rows)).   kernels/cpu/embedding.hpp
//   table [table_rows][dim] of `type`, token_ids [num_tokens], out [num_tokens][dim]
status embedding(const void* table, dense_type type, int64_t table_rows, int64_t dim,
                 int64_t first_token, const int32_t* token_ids, int64_t num_tokens, float* out,
                 cudaStream_t stream);

// y[i] += x[i]                               y, x [n]           kernels/cpu/elementwise.hpp
status add(float* y, const float* x, int64_t n, cudaStream_t stream);

// y[r][c] += bias[c]                         y [rows][cols], bias [cols]
status add_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream);

// out = silu(gate) * up = (g / (1 + exp(-g))) * u      [n]; out may be gate or up
//   (kernels/cpu/activation.hpp; exp here is CUDA's expf, within 2 ulp of the CPU's)
status silu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream);

// out[i] = x[rows[i]]                        x [*][row_size], rows [num_rows] (device),
//                                            out [num_rows][row_size]
status gather_rows(const float* x, int64_t row_size, const int32_t* rows, int64_t num_rows,
                   float* out, cudaStream_t stream);

// out[r] = kernels::cpu::argmax(x[r], cols) as a float: the largest non-NaN value's index, the
// lowest on ties, cols - 1 for an all-NaN row (the same index as the CPU, whatever the order of
// the parallel reduction).          x [rows][cols], out [rows]; requires cols < 2^24
status argmax_rows(const float* x, int64_t rows, int64_t cols, float* out, cudaStream_t stream);

// out[i] = x[i] rounded to `to` (bf16 or f16), round to nearest even; NaN stays NaN.
// requires: to != dense_type::f32.   x [n] f32, out [n] 16-bit words
status convert(const float* x, int64_t n, dense_type to, void* out, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
