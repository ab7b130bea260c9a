#include <string>

#include "kernels/cuda/device.hpp"

namespace troupe::kernels::cuda {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

status check_cuda(cudaError_t code, const char* expr, const char* file, int line) {
  if (code == cudaSuccess) return ok_status();
  return error{std::string(file) + ":" + std::to_string(line) + ": " + expr + ": " +
               cudaGetErrorName(code) + ": " + cudaGetErrorString(code)};
}

}  // namespace troupe::kernels::cuda
