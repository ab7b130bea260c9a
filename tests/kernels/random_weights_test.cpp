// kernels/cpu/random_weights.hpp: the counter-based dummy weights. Range, determinism, independence
// of the index order, and rough uniformity of f32 and int8 values.
#include "kernels/cpu/random_weights.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace troupe::kernels::cpu {
namespace {

constexpr int64_t num_samples = 1 << 20;

TEST(random_weights, bits_are_splitmix64) {
  // The published splitmix64 outputs for state 1234567 (its first three draws), and zero at
  // (0, 0): the generator is the standard one, not a look-alike.
  EXPECT_EQ(random_bits(1234567, 1), 6457827717110365317ull);
  EXPECT_EQ(random_bits(1234567, 2), 3203168211198807973ull);
  EXPECT_EQ(random_bits(1234567, 3), 9817491932198370423ull);
  EXPECT_EQ(random_bits(0, 0), 0ull);
  // All-zero bits are the bottom of the range: -bound exactly.
  EXPECT_EQ(random_uniform(0, 0, 0.25f), -0.25f);
}

TEST(random_weights, uniform_stays_in_range) {
  for (float bound : {1e-3f, 0.02f, 1.0f, 3.0f})
    for (int64_t i = 0; i < num_samples; i += 7) {
      const float v = random_uniform(42, static_cast<uint64_t>(i), bound);
      ASSERT_GE(v, -bound) << "i " << i;
      ASSERT_LT(v, bound) << "i " << i;
    }
}

// With a power-of-two bound the one multiply is exact: every value is a multiple of
// bound * 2^-23 (otherwise it is that multiple rounded once).
TEST(random_weights, uniform_with_power_of_two_bound_is_on_the_grid) {
  for (float bound : {1.0f, 0x1p-10f}) {
    const float step = bound * 0x1p-23f;
    for (int64_t i = 0; i < num_samples; i += 7) {
      const float k = random_uniform(42, static_cast<uint64_t>(i), bound) / step;
      ASSERT_EQ(k, std::trunc(k)) << "i " << i;
    }
  }
}

TEST(random_weights, same_seed_and_index_give_same_value) {
  for (uint64_t seed : {0ull, 1ull, 0xfedcba9876543210ull})
    for (uint64_t i : {0ull, 1ull, 1000ull, 1ull << 40, ~0ull}) {
      EXPECT_EQ(random_bits(seed, i), random_bits(seed, i));
      EXPECT_EQ(random_uniform(seed, i, 0.5f), random_uniform(seed, i, 0.5f));
      EXPECT_EQ(random_int8(seed, i), random_int8(seed, i));
    }
}

// An element depends only on (seed, index): computing a tensor backwards or in a strided order
// gives the same values, and neighbouring indices or seeds are not correlated.
TEST(random_weights, elements_are_independent_of_order) {
  const int64_t n = 4096;
  std::vector<float> forward(n), backward(n);
  for (int64_t i = 0; i < n; ++i)
    forward[i] = random_uniform(9, static_cast<uint64_t>(i), 1.0f);
  for (int64_t i = n - 1; i >= 0; --i)
    backward[i] = random_uniform(9, static_cast<uint64_t>(i), 1.0f);
  EXPECT_EQ(forward, backward);

  double next_index = 0.0, next_seed = 0.0;
  for (int64_t i = 0; i < num_samples; ++i) {
    const double v = random_uniform(9, static_cast<uint64_t>(i), 1.0f);
    next_index += v * random_uniform(9, static_cast<uint64_t>(i + 1), 1.0f);
    next_seed += v * random_uniform(10, static_cast<uint64_t>(i), 1.0f);
  }
  // Uncorrelated products have mean 0 and standard deviation 1/3 / sqrt(n) ~ 3.3e-4.
  EXPECT_LT(std::abs(next_index / num_samples), 2e-3);
  EXPECT_LT(std::abs(next_seed / num_samples), 2e-3);
}

TEST(random_weights, uniform_mean_and_variance) {
  const float bound = 0.02f;
  double sum = 0.0, sum_squares = 0.0;
  for (int64_t i = 0; i < num_samples; ++i) {
    const double v = random_uniform(123, static_cast<uint64_t>(i), bound);
    sum += v;
    sum_squares += v * v;
  }
  const double mean = sum / num_samples;
  const double variance = sum_squares / num_samples - mean * mean;
  // Uniform on [-b, b): mean 0 (standard error b / sqrt(3n) ~ 1.1e-5 here), variance b^2 / 3.
  EXPECT_LT(std::abs(mean), 1e-4);
  EXPECT_NEAR(variance, bound * bound / 3.0, 0.01 * bound * bound / 3.0);
}

TEST(random_weights, int8_covers_minus_127_to_127) {
  std::vector<int64_t> counts(256, 0);
  double sum = 0.0;
  for (int64_t i = 0; i < num_samples; ++i) {
    const int8_t q = random_int8(77, static_cast<uint64_t>(i));
    ASSERT_GE(q, -127) << "i " << i;
    ++counts[q + 128];
    sum += q;
  }
  EXPECT_EQ(counts[0], 0);  // -128 never appears
  // Every value near n / 256 = 4096 times; -127 about twice that (it also takes -128's draws).
  for (int v = -126; v <= 127; ++v)
    EXPECT_NEAR(counts[v + 128], 4096, 400) << "value " << v;
  EXPECT_NEAR(counts[1], 8192, 600);
  // Mean -0.5 (the clamp moves -128 to -127); standard error 73 / sqrt(n) ~ 0.07.
  EXPECT_NEAR(sum / num_samples, -0.5, 0.4);
}

}  // namespace
}  // namespace troupe::kernels::cpu
