#include "kernels/cpu/exp.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <random>
#include <vector>

#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cpu {
namespace {

using test::bitwise_equal;

TEST(exp, within_3e_7_relative_of_double_over_the_kept_range) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-86.9f, 87.9f);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const float x = i < 1000 ? -10.0f + 0.02f * static_cast<float>(i) : dist(rng);
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(exp_value(x) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(exp_value(0.0f), 1.0f);
}

TEST(exp, edges_flush_to_zero_and_saturate) {
  EXPECT_EQ(exp_value(-87.0f), 0.0f);
  EXPECT_EQ(exp_value(-1e30f), 0.0f);
  EXPECT_EQ(exp_value(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_GT(exp_value(-86.9f), 0.0f);
  EXPECT_EQ(exp_value(1000.0f), exp_value(88.0f));
  EXPECT_NEAR(exp_value(88.0f) / std::exp(88.0), 1.0, 3e-7);
  EXPECT_TRUE(std::isfinite(exp_value(std::numeric_limits<float>::infinity())));
}

// For every length in `lengths` (tails included): random x in [lo, hi) with `special` values
// at indices 1, 2, ... (where they fit); array(x, n, out) must equal scalar(x[i]) bit for bit,
// also in place.
template <class Array, class Scalar>
void expect_scalar_bits(Array array, Scalar scalar, uint32_t seed, float lo, float hi,
                        std::vector<float> special, std::initializer_list<int64_t> lengths) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t n : lengths) {
    std::vector<float> x(n), out(n), ref(n);
    for (auto& v : x)
      v = dist(rng);
    for (size_t i = 0; i < special.size() && static_cast<int64_t>(i + 1) < n; ++i)
      x[i + 1] = special[i];
    array(x.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i)
      ref[i] = scalar(x[i]);
    EXPECT_TRUE(bitwise_equal(out, ref)) << n;
    array(x.data(), n, x.data());  // in place
    EXPECT_TRUE(bitwise_equal(x, ref)) << n;
  }
}

// The SIMD lanes and the scalar twin give the same bits, for every length (tails included).
TEST(exp, arrays_equal_the_scalar_form_bitwise) {
  expect_scalar_bits([](const float* x, int64_t n, float* out) { exp_values(x, n, out); },
                     [](float v) { return exp_value(v); }, 5, -100.0f, 100.0f,
                     {-87.0f, 88.0f, std::numeric_limits<float>::quiet_NaN()},
                     {0, 1, 7, 8, 15, 16, 17, 33, 1000});
}

// A softmax's weights: each difference rounded to f32, then exp_value, in every lane and tail.
TEST(exp, shifted_arrays_equal_the_scalar_form_of_the_difference_bitwise) {
  const float shift = 12.375f;
  expect_scalar_bits(
      [&](const float* x, int64_t n, float* out) { exp_values_shifted(x, n, shift, out); },
      [&](float v) { return exp_value(v - shift); }, 6, -60.0f, 20.0f,
      {-1e30f, std::numeric_limits<float>::quiet_NaN()}, {0, 1, 5, 15, 16, 17, 31, 64, 999});
}

}  // namespace
}  // namespace troupe::kernels::cpu
