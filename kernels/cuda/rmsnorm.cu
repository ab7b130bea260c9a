#include "kernels/cuda/device.hpp"
#include "kernels/cuda/rmsnorm.hpp"

namespace troupe::kernels::cuda {

namespace {

constexpr int block_threads = 256;

__global__ void rmsnorm_kernel(const float* x, const float* weight, int64_t dim, float eps,
                               float* y) {
  const float* xr = x + blockIdx.x * dim;
  float* yr = y + blockIdx.x * dim;
  // Double partial sums, like the CPU reference, so the two agree to f32 rounding.
  double partial = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    partial += double(xr[i] * xr[i]);
  __shared__ double sums[block_threads];
  sums[threadIdx.x] = partial;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) sums[threadIdx.x] += sums[threadIdx.x + stride];
    __syncthreads();
  }
  const float mean = float(sums[0] / double(dim));
  const float scale = 1.0f / sqrtf(mean + eps);
  // Every thread has read sums[0]; y may alias x, but each element is read before it is written
  // by the same thread.
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    yr[i] = (xr[i] * scale) * weight[i];
}

}  // namespace

status rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
               float* y, cudaStream_t stream) {
  if (num_rows == 0) return ok_status();
  rmsnorm_kernel<<<static_cast<unsigned>(num_rows), block_threads, 0, stream>>>(x, weight, dim, eps,
                                                                                y);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
