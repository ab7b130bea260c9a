#pragma once
// Helpers for the `gpu` tests of kernels/cuda: device copies of host vectors and the skip when no
// device is present.
#include <cuda_runtime.h>  // cudaMalloc(T**, size_t) for device_array<T>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "kernels/cuda/device.hpp"

// Skips the calling test when this machine has no usable CUDA device.
#define SKIP_WITHOUT_CUDA_DEVICE() \
  if (::troupe::kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"

namespace troupe::kernels::cuda::testing {

// A device array of T, optionally copied from a host vector; freed on scope exit.
template <class T>
class device_array {
 public:
  explicit device_array(size_t size) : size_(size) {
    EXPECT_TRUE(CUDA_CHECK(cudaMalloc(&ptr_, bytes())).ok());
  }
  explicit device_array(const std::vector<T>& host) : device_array(host.size()) { upload(host); }
  ~device_array() { cudaFree(ptr_); }
  device_array(const device_array&) = delete;
  device_array& operator=(const device_array&) = delete;

  T* get() { return ptr_; }
  const T* get() const { return ptr_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

  void upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), size_);
    EXPECT_TRUE(CUDA_CHECK(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice)).ok());
  }
  // Waits for the device, then copies everything back.
  std::vector<T> to_host() const {
    std::vector<T> host(size_);
    EXPECT_TRUE(CUDA_CHECK(cudaDeviceSynchronize()).ok());
    EXPECT_TRUE(CUDA_CHECK(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost)).ok());
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t size_;
};

}  // namespace troupe::kernels::cuda::testing
