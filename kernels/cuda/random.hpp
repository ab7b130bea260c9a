#pragma once
// Dummy weights generated on the device (--load-format dummy): element i of a tensor is
// kernels/cpu/random_weights.hpp's value for (seed, i), the same bits the host computes.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/result.hpp"
#include "kernels/cuda/types.hpp"

namespace troupe::kernels::cuda {

// out[i] = random_uniform(seed, i, bound), stored as `type` (16-bit: rounded to nearest even).
//   out [n] elements of `type`
status fill_random(void* out, dense_type type, int64_t n, uint64_t seed, float bound,
                   cudaStream_t stream);

// out[i] = random_int8(seed, i).   out [n]
status fill_random_int8(int8_t* out, int64_t n, uint64_t seed, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
