#pragma once
// rmsnorm on the GPU, the same op as kernels/cpu/rmsnorm.hpp (which is the reference):
//   y = (x * 1/sqrt(mean(x^2) + eps)) * weight, per row; squares summed in double.
//
//   x:      [num_rows][dim]   device memory
//   weight: [dim]             device memory
//   y:      [num_rows][dim]   device memory (may be x)
#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/result.hpp"

namespace troupe::kernels::cuda {

// Launches one block per row on `stream`; errors (bad launch) come back with file:line.
status rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
               float* y, cudaStream_t stream = nullptr);

// The residual add fused with the next norm: residual += x, then y = rmsnorm(residual) * weight,
// per row, the same bits as kernels/cpu add_inplace followed by rmsnorm (within the f32 rounding
// of the final scale, as rmsnorm above).
//   residual [num_rows][dim] (updated), x [num_rows][dim], y [num_rows][dim]; y may be x
status add_rmsnorm(float* residual, const float* x, const float* weight, int64_t num_rows,
                   int64_t dim, float eps, float* y, cudaStream_t stream = nullptr);

}  // namespace troupe::kernels::cuda
