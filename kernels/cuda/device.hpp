#pragma once
// CUDA device discovery and error checking for the CUDA backend.
//
//   if (auto st = CUDA_CHECK(cudaMalloc(&p, n)); !st) return st;   // error names file:line
#include <cuda_runtime_api.h>

#include "base/result.hpp"

namespace troupe::kernels::cuda {

// Number of usable CUDA devices; 0 when there is no driver, no device, or any other error.
int cuda_device_count();

// ok, or an error "<file>:<line>: <expr>: <cuda error name>: <description>".
status check_cuda(cudaError_t code, const char* expr, const char* file, int line);

}  // namespace troupe::kernels::cuda

#define CUDA_CHECK(expr) ::troupe::kernels::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)
