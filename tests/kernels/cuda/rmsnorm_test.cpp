// kernels/cuda/rmsnorm.cu against the CPU reference kernels/cpu/rmsnorm.cpp. Needs a GPU:
// skips when no CUDA device is available.
#include "kernels/cuda/rmsnorm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/rmsnorm.hpp"
#include "kernels/cuda/device.hpp"

namespace troupe::kernels::cuda {
namespace {

// A device copy of a host vector, freed on scope exit.
class device_buffer {
 public:
  explicit device_buffer(const std::vector<float>& host) : size_(host.size()) {
    EXPECT_TRUE(CUDA_CHECK(cudaMalloc(&ptr_, size_ * sizeof(float))).ok());
    EXPECT_TRUE(
        CUDA_CHECK(cudaMemcpy(ptr_, host.data(), size_ * sizeof(float), cudaMemcpyHostToDevice))
            .ok());
  }
  ~device_buffer() { cudaFree(ptr_); }
  float* get() { return static_cast<float*>(ptr_); }
  std::vector<float> to_host() const {
    std::vector<float> host(size_);
    EXPECT_TRUE(
        CUDA_CHECK(cudaMemcpy(host.data(), ptr_, size_ * sizeof(float), cudaMemcpyDeviceToHost))
            .ok());
    return host;
  }

 private:
  void* ptr_ = nullptr;
  size_t size_;
};

TEST(cuda_device, check_reports_file_and_line) {
  auto st = CUDA_CHECK(cudaErrorInvalidValue);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rmsnorm_test.cpp:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("cudaErrorInvalidValue"), std::string::npos) << st.message();
  EXPECT_GE(cuda_device_count(), 0);
}

TEST(cuda_rmsnorm, matches_cpu_reference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t dim : {1, 64, 576, 1000, 4099}) {
    const int64_t rows = 7;
    std::mt19937 rng(static_cast<uint32_t>(dim));
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> x(rows * dim), w(dim), ref(rows * dim);
    for (auto& v : x)
      v = dist(rng);
    for (auto& v : w)
      v = dist(rng);
    cpu::rmsnorm(x.data(), w.data(), rows, dim, 1e-5f, ref.data());
    device_buffer dx(x), dw(w), dy(std::vector<float>(rows * dim, NAN));
    ASSERT_TRUE(rmsnorm(dx.get(), dw.get(), rows, dim, 1e-5f, dy.get()).ok());
    ASSERT_TRUE(CUDA_CHECK(cudaDeviceSynchronize()).ok());
    auto y = dy.to_host();
    for (int64_t i = 0; i < rows * dim; ++i)
      ASSERT_NEAR(y[i], ref[i], 1e-5f * (1.0f + std::abs(ref[i]))) << "dim " << dim << " i " << i;
    // In place gives the same result.
    ASSERT_TRUE(rmsnorm(dx.get(), dw.get(), rows, dim, 1e-5f, dx.get()).ok());
    EXPECT_EQ(dx.to_host(), y);
  }
}

// residual += x exactly as cpu::add_inplace (bitwise), then y = rmsnorm(residual) within f32
// rounding of the CPU; y == x gives the same bits.
TEST(cuda_add_rmsnorm, matches_cpu_add_then_rmsnorm) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (int64_t dim : {1, 64, 255, 576, 1000, 4099}) {
    const int64_t rows = 7;
    std::mt19937 rng(static_cast<uint32_t>(dim) + 1);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> residual(rows * dim), x(rows * dim), w(dim), ref(rows * dim);
    for (auto* v : {&residual, &x, &w})
      for (auto& e : *v)
        e = dist(rng);
    auto ref_residual = residual;
    cpu::add_inplace(ref_residual.data(), x.data(), rows * dim);
    cpu::rmsnorm(ref_residual.data(), w.data(), rows, dim, 1e-5f, ref.data());

    device_buffer dres(residual), dx(x), dw(w), dy(std::vector<float>(rows * dim, NAN));
    ASSERT_TRUE(add_rmsnorm(dres.get(), dx.get(), dw.get(), rows, dim, 1e-5f, dy.get()).ok());
    ASSERT_TRUE(CUDA_CHECK(cudaDeviceSynchronize()).ok());
    EXPECT_EQ(dres.to_host(), ref_residual) << "dim " << dim;
    const auto y = dy.to_host();
    for (int64_t i = 0; i < rows * dim; ++i)
      ASSERT_NEAR(y[i], ref[i], 1e-5f * (1.0f + std::abs(ref[i]))) << "dim " << dim << " i " << i;

    // y == x: the same residual and the same y.
    device_buffer dres2(residual);
    ASSERT_TRUE(add_rmsnorm(dres2.get(), dx.get(), dw.get(), rows, dim, 1e-5f, dx.get()).ok());
    ASSERT_TRUE(CUDA_CHECK(cudaDeviceSynchronize()).ok());
    EXPECT_EQ(dres2.to_host(), ref_residual) << "dim " << dim;
    EXPECT_EQ(dx.to_host(), y) << "dim " << dim;
  }
  EXPECT_TRUE(add_rmsnorm(nullptr, nullptr, nullptr, 0, 64, 1e-5f, nullptr).ok());
}

}  // namespace
}  // namespace troupe::kernels::cuda
