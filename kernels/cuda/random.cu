// fill_random, fill_random_int8 (contract: random.hpp): element i of out [n] is
// kernels/cpu/random_weights.hpp's value for (seed, i), one thread per element, grid-stride.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <type_traits>

#include "kernels/cpu/random_weights.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/random.hpp"

namespace troupe::kernels::cuda {

namespace {

using detail::flat_blocks;
constexpr int block_threads = detail::flat_threads;

// T is float, __nv_bfloat16 or __half; the value is finite, so the intrinsics' round to nearest
// even gives the bits of kernels/cpu/half.hpp's host conversions.
template <class T>
__global__ void fill_random_kernel(T* out, int64_t n, uint64_t seed, float bound) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = cpu::random_uniform(seed, static_cast<uint64_t>(i), bound);
    if constexpr (std::is_same_v<T, __nv_bfloat16>)
      out[i] = __float2bfloat16_rn(v);
    else if constexpr (std::is_same_v<T, __half>)
      out[i] = __float2half_rn(v);
    else
      out[i] = v;
  }
}

__global__ void fill_random_int8_kernel(int8_t* out, int64_t n, uint64_t seed) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = cpu::random_int8(seed, static_cast<uint64_t>(i));
}

}  // namespace

status fill_random(void* out, dense_type type, int64_t n, uint64_t seed, float bound,
                   cudaStream_t stream) {
  if (n <= 0) return ok_status();
  const unsigned blocks = flat_blocks(n);
  switch (type) {
    case dense_type::f32:
      fill_random_kernel<<<blocks, block_threads, 0, stream>>>(static_cast<float*>(out), n, seed,
                                                               bound);
      break;
    case dense_type::bf16:
      fill_random_kernel<<<blocks, block_threads, 0, stream>>>(static_cast<__nv_bfloat16*>(out), n,
                                                               seed, bound);
      break;
    case dense_type::f16:
      fill_random_kernel<<<blocks, block_threads, 0, stream>>>(static_cast<__half*>(out), n, seed,
                                                               bound);
      break;
  }
  return CUDA_CHECK(cudaGetLastError());
}

status fill_random_int8(int8_t* out, int64_t n, uint64_t seed, cudaStream_t stream) {
  if (n <= 0) return ok_status();
  fill_random_int8_kernel<<<flat_blocks(n), block_threads, 0, stream>>>(out, n, seed);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
