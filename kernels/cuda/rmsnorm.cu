// rmsnorm and add_rmsnorm (contract: rmsnorm.hpp).
//
//   x, residual, y: [num_rows][dim]; weight: [dim]; one block of block_threads per row
//
// Thread k of a block owns the elements k, k + block_threads, ... of its row in both passes (the
// sum of squares, then the scaling), so an element it reads is never written by another thread:
// y may alias x.
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/rmsnorm.hpp"

namespace troupe::kernels::cuda {

namespace {

constexpr int block_threads = 256;

// 1 / sqrt(mean(x^2) + eps) of a row from each thread's partial sum of squares, for every
// thread of the block. Double partial sums, like the CPU reference, so the two agree to f32
// rounding.
__device__ float row_scale(double partial, int64_t dim, float eps) {
  __shared__ double sums[block_threads];
  sums[threadIdx.x] = partial;
  __syncthreads();
  for (int stride = block_threads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) sums[threadIdx.x] += sums[threadIdx.x + stride];
    __syncthreads();
  }
  const float mean = float(sums[0] / double(dim));
  return 1.0f / sqrtf(mean + eps);
}

// y = (x * scale) * weight: two roundings in that order, as the CPU.
__device__ void scale_row(const float* x, const float* weight, int64_t dim, float scale, float* y) {
  for (int64_t i = threadIdx.x; i < dim; i += block_threads)
    y[i] = __fmul_rn(__fmul_rn(x[i], scale), weight[i]);
}

__global__ void __launch_bounds__(block_threads)
    rmsnorm_kernel(const float* x, const float* weight, int64_t dim, float eps, float* y) {
  const int64_t row = int64_t{blockIdx.x} * dim;
  double partial = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += block_threads)
    partial += double(__fmul_rn(x[row + i], x[row + i]));
  scale_row(x + row, weight, dim, row_scale(partial, dim, eps), y + row);
}

// residual += x first (the same f32 add as cpu::add_inplace), then rmsnorm of the new residual.
__global__ void __launch_bounds__(block_threads)
    add_rmsnorm_kernel(float* residual, const float* x, const float* weight, int64_t dim, float eps,
                       float* y) {
  const int64_t row = int64_t{blockIdx.x} * dim;
  double partial = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += block_threads) {
    const float r = __fadd_rn(residual[row + i], x[row + i]);
    residual[row + i] = r;
    partial += double(__fmul_rn(r, r));
  }
  scale_row(residual + row, weight, dim, row_scale(partial, dim, eps), y + row);
}

}  // namespace

status rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
               float* y, cudaStream_t stream) {
  if (num_rows <= 0) return ok_status();
  rmsnorm_kernel<<<static_cast<unsigned>(num_rows), block_threads, 0, stream>>>(x, weight, dim, eps,
                                                                                y);
  return CUDA_CHECK(cudaGetLastError());
}

status add_rmsnorm(float* residual, const float* x, const float* weight, int64_t num_rows,
                   int64_t dim, float eps, float* y, cudaStream_t stream) {
  if (num_rows <= 0) return ok_status();
  add_rmsnorm_kernel<<<static_cast<unsigned>(num_rows), block_threads, 0, stream>>>(
      residual, x, weight, dim, eps, y);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
