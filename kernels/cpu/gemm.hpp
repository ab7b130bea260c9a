#pragma once
// gemm: y = x * W^T, the projection of every token row through a weight matrix.
//
//   x: [M][K]  rows of the batch (tokens), row-major
//   W: [N][K]  weights, row n produces output feature n (llama_weights layout)
//   y: [M][N]  y[m][n] = dot(x[m, :], W[n, :])   (kernels/cpu/dot.hpp)
//
// Batch invariant: y[m][n] is computed by dot()'s fixed algorithm whatever M, the register tile
// it falls in, or the thread partition, so row m's bits do not depend on the other rows.
// Threads split N; within a thread, register tiles of up to 4 x-rows by 4 W-rows share loads.
#include <cstdint>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

// requires: M, N, K >= 0; x, W, y sized as above; y does not alias x or W.
void gemm(thread_pool& pool, const float* x, int64_t M, int64_t K, const float* w, int64_t N,
          float* y);

// The single-threaded body: computes columns [n_begin, n_end) of y (row stride N).
void gemm_columns(const float* x, int64_t M, int64_t K, const float* w, int64_t N, int64_t n_begin,
                  int64_t n_end, float* y);

}  // namespace troupe::kernels::cpu
