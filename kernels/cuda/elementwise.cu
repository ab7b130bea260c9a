// Elementwise and gather kernels (contract: elementwise.hpp).
//
//   flat ops (add, silu_mul, convert):   x [n], one thread per element, grid-stride over int64 i
//   row ops (embedding, gather_rows, add_bias):
//       out [rows][row_size]: block b takes rows b, b + gridDim.x, ...; its threads stride over
//       the row's columns, so no division per element and any number of rows fits the grid
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "kernels/cuda/argmax.cuh"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/half.cuh"

namespace troupe::kernels::cuda {

namespace {

using detail::bf16_bits_to_float;
using detail::f16_bits_to_float;
using candidate = detail::argmax_candidate;
using detail::better;
using detail::flat_blocks;
using detail::row_blocks;
using detail::to_bf16_bits;
using detail::to_f16_bits;
constexpr int block_threads = detail::flat_threads;

__device__ int64_t flat_index() {
  return int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
}

__device__ int64_t flat_stride() {
  return int64_t{gridDim.x} * blockDim.x;
}

// -- convert --

__global__ void convert_kernel(const float* x, int64_t n, bool to_bf16, uint16_t* out) {
  for (int64_t i = flat_index(); i < n; i += flat_stride())
    out[i] = to_bf16 ? to_bf16_bits(x[i]) : to_f16_bits(x[i]);
}

// -- flat ops --

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  for (int64_t i = flat_index(); i < n; i += flat_stride())
    y[i] = __fadd_rn(y[i], x[i]);
}

// out may alias gate or up: each element is read before the same thread writes it.
__global__ void silu_mul_kernel(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const float g = gate[i];
    out[i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), up[i]);
  }
}

// -- row ops --

// One stored element widened to f32 (exact for every type).
__device__ float widen(const void* table, dense_type type, int64_t i) {
  if (type == dense_type::f32) return static_cast<const float*>(table)[i];
  const uint16_t bits = static_cast<const uint16_t*>(table)[i];
  return type == dense_type::bf16 ? bf16_bits_to_float(bits) : f16_bits_to_float(bits);
}

__global__ void embedding_kernel(const void* table, dense_type type, int64_t table_rows,
                                 int64_t dim, int64_t first_token, const int32_t* token_ids,
                                 int64_t num_tokens, float* out) {
  for (int64_t t = blockIdx.x; t < num_tokens; t += gridDim.x) {
    const int64_t row = int64_t{token_ids[t]} - first_token;
    const bool held = row >= 0 && row < table_rows;
    float* out_row = out + t * dim;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x)
      out_row[c] = held ? widen(table, type, row * dim + c) : 0.0f;
  }
}

__global__ void gather_rows_kernel(const float* x, int64_t row_size, const int32_t* rows,
                                   int64_t num_rows, float* out) {
  for (int64_t r = blockIdx.x; r < num_rows; r += gridDim.x) {
    const float* src = x + int64_t{rows[r]} * row_size;
    float* dst = out + r * row_size;
    for (int64_t c = threadIdx.x; c < row_size; c += blockDim.x)
      dst[c] = src[c];
  }
}

__global__ void argmax_rows_kernel(const float* x, int64_t rows, int32_t cols, float* out) {
  __shared__ candidate warp_best[block_threads / 32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * cols;
    candidate best{NAN, -1};
    for (int32_t c = threadIdx.x; c < cols; c += blockDim.x)
      best = better(best, {row[c], c});
    for (int offset = 16; offset > 0; offset /= 2) {
      const candidate other{__shfl_down_sync(0xffffffffu, best.value, offset),
                            __shfl_down_sync(0xffffffffu, best.index, offset)};
      best = better(best, other);
    }
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) warp_best[warp] = best;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w)
        best = better(best, warp_best[w]);
      out[r] = static_cast<float>(best.index);
    }
    __syncthreads();  // warp_best is rewritten by the next row
  }
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float* y_row = y + r * cols;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      y_row[c] = __fadd_rn(y_row[c], bias[c]);
  }
}

}  // namespace

status convert(const float* x, int64_t n, dense_type to, void* out, cudaStream_t stream) {
  if (to == dense_type::f32) return error{"convert: the target type must be bf16 or f16"};
  if (n <= 0) return ok_status();
  convert_kernel<<<flat_blocks(n), block_threads, 0, stream>>>(x, n, to == dense_type::bf16,
                                                               static_cast<uint16_t*>(out));
  return CUDA_CHECK(cudaGetLastError());
}

status add(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return ok_status();
  add_kernel<<<flat_blocks(n), block_threads, 0, stream>>>(y, x, n);
  return CUDA_CHECK(cudaGetLastError());
}

status silu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream) {
  if (n <= 0) return ok_status();
  silu_mul_kernel<<<flat_blocks(n), block_threads, 0, stream>>>(gate, up, n, out);
  return CUDA_CHECK(cudaGetLastError());
}

status embedding(const void* table, dense_type type, int64_t table_rows, int64_t dim,
                 int64_t first_token, const int32_t* token_ids, int64_t num_tokens, float* out,
                 cudaStream_t stream) {
  if (num_tokens <= 0 || dim <= 0) return ok_status();
  embedding_kernel<<<row_blocks(num_tokens), block_threads, 0, stream>>>(
      table, type, table_rows, dim, first_token, token_ids, num_tokens, out);
  return CUDA_CHECK(cudaGetLastError());
}

status argmax_rows(const float* x, int64_t rows, int64_t cols, float* out, cudaStream_t stream) {
  if (cols >= (int64_t{1} << 24)) return error{"argmax_rows: more than 2^24 columns"};
  if (rows <= 0 || cols <= 0) return ok_status();
  argmax_rows_kernel<<<row_blocks(rows), block_threads, 0, stream>>>(
      x, rows, static_cast<int32_t>(cols), out);
  return CUDA_CHECK(cudaGetLastError());
}

status gather_rows(const float* x, int64_t row_size, const int32_t* rows, int64_t num_rows,
                   float* out, cudaStream_t stream) {
  if (num_rows <= 0 || row_size <= 0) return ok_status();
  gather_rows_kernel<<<row_blocks(num_rows), block_threads, 0, stream>>>(x, row_size, rows,
                                                                         num_rows, out);
  return CUDA_CHECK(cudaGetLastError());
}

status add_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return ok_status();
  add_bias_kernel<<<row_blocks(rows), block_threads, 0, stream>>>(y, bias, rows, cols);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
