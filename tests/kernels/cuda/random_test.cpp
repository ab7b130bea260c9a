// kernels/cuda/random.cu against kernels/cpu/random_weights.hpp computed on the host: the same
// bits for every element, stored as f32, bf16, f16 (runtime/formats/half.hpp's rounding) and
// int8. Needs a GPU: skips without one.
#include "kernels/cuda/random.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/random_weights.hpp"
#include "runtime/formats/half.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using testing::device_array;

// Around the block (256 threads), and one past the grid-stride cap (2^16 blocks of 256) for
// one seed only (it is the slow one on the host).
constexpr int64_t sizes[] = {1, 255, 257, 100003};
constexpr uint64_t seeds[] = {0, 42, 0xfedcba9876543210ull};
constexpr int64_t large_size = (int64_t{1} << 24) + 5;
constexpr uint64_t large_seed = 7;

// The host's value of element i, stored as `type`, as raw bits.
uint32_t host_bits(dense_type type, uint64_t seed, int64_t i, float bound) {
  const float v = cpu::random_uniform(seed, static_cast<uint64_t>(i), bound);
  if (type == dense_type::bf16) return runtime::f32_to_bf16(v);
  if (type == dense_type::f16) return runtime::f32_to_f16(v);
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

// The device's element i as raw bits.
uint32_t element_bits(const std::vector<uint8_t>& bytes, dense_type type, int64_t i) {
  if (type == dense_type::f32) {
    uint32_t bits;
    std::memcpy(&bits, &bytes[4 * i], 4);
    return bits;
  }
  uint16_t bits;
  std::memcpy(&bits, &bytes[2 * i], 2);
  return bits;
}

void expect_fill_matches(dense_type type, int64_t n, uint64_t seed, float bound) {
  device_array<uint8_t> out(n * dense_type_bytes(type));
  ASSERT_TRUE(fill_random(out.get(), type, n, seed, bound, nullptr).ok());
  const auto bytes = out.to_host();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(element_bits(bytes, type, i), host_bits(type, seed, i, bound))
        << "type " << int(type) << " n " << n << " seed " << seed << " bound " << bound << " i "
        << i;
}

TEST(cuda_random, fill_random_matches_host_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (dense_type type : {dense_type::f32, dense_type::bf16, dense_type::f16}) {
    for (int64_t n : sizes)
      for (uint64_t seed : seeds)
        for (float bound : {1e-3f, 0.02f, 1.0f})
          expect_fill_matches(type, n, seed, bound);
    expect_fill_matches(type, large_size, large_seed, 0.05f);
  }
}

void expect_int8_fill_matches(int64_t n, uint64_t seed) {
  device_array<int8_t> out(n);
  ASSERT_TRUE(fill_random_int8(out.get(), n, seed, nullptr).ok());
  const auto values = out.to_host();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(values[i], cpu::random_int8(seed, static_cast<uint64_t>(i)))
        << "n " << n << " seed " << seed << " i " << i;
}

TEST(cuda_random, fill_random_int8_matches_host_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : sizes)
    for (uint64_t seed : seeds)
      expect_int8_fill_matches(n, seed);
  expect_int8_fill_matches(large_size, large_seed);
}

TEST(cuda_random, nothing_to_fill_enqueues_nothing) {
  EXPECT_TRUE(fill_random(nullptr, dense_type::bf16, 0, 1, 1e-3f, nullptr).ok());
  EXPECT_TRUE(fill_random_int8(nullptr, 0, 1, nullptr).ok());
}

}  // namespace
}  // namespace troupe::kernels::cuda
