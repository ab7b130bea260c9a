#include "kernels/cpu/exp.hpp"

#include <gtest/gtest.h>

#include <cmath>
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

// The SIMD lanes and the scalar twin give the same bits, for every length (tails included).
TEST(exp, arrays_equal_the_scalar_form_bitwise) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  for (int64_t n : {0, 1, 7, 8, 15, 16, 17, 33, 1000}) {
    std::vector<float> x(n), out(n), ref(n);
    for (auto& v : x)
      v = dist(rng);
    if (n > 3) x[1] = -87.0f, x[2] = 88.0f, x[3] = std::numeric_limits<float>::quiet_NaN();
    exp_values(x.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i)
      ref[i] = exp_value(x[i]);
    EXPECT_TRUE(bitwise_equal(out, ref)) << n;
    exp_values(x.data(), n, x.data());  // in place
    EXPECT_TRUE(bitwise_equal(x, ref)) << n;
  }
}

// A softmax's weights: each difference rounded to f32, then exp_value, in every lane and tail.
TEST(exp, shifted_arrays_equal_the_scalar_form_of_the_difference_bitwise) {
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> dist(-60.0f, 20.0f);
  for (int64_t n : {0, 1, 5, 15, 16, 17, 31, 64, 999}) {
    std::vector<float> x(n), out(n), ref(n);
    for (auto& v : x)
      v = dist(rng);
    if (n > 2) x[1] = -1e30f, x[2] = std::numeric_limits<float>::quiet_NaN();
    const float shift = 12.375f + 1e-3f * static_cast<float>(n);
    exp_values_shifted(x.data(), n, shift, out.data());
    for (int64_t i = 0; i < n; ++i)
      ref[i] = exp_value(x[i] - shift);
    EXPECT_TRUE(bitwise_equal(out, ref)) << n;
    exp_values_shifted(x.data(), n, shift, x.data());  // in place
    EXPECT_TRUE(bitwise_equal(x, ref)) << n;
  }
}

}  // namespace
}  // namespace troupe::kernels::cpu
