#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise.hpp"

namespace troupe::kernels::cpu {
namespace {

// The contract's scan, written out.
int64_t scan(const std::vector<float>& x) {
  int64_t best = 0;
  for (int64_t i = 1; i < static_cast<int64_t>(x.size()); ++i)
    if (x[i] > x[best] || std::isnan(x[best])) best = i;
  return best;
}

TEST(argmax, equals_the_scan_on_ties_nans_signed_zeros_and_infinities) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::mt19937 rng(5);
  // Few distinct values so ties are common, and the special ones.
  const std::vector<float> pool = {0.0f, -0.0f, 1.0f, -1.0f, 2.5f, -inf, inf, nan};
  for (int64_t n : {1, 2, 15, 16, 17, 31, 33, 100, 49152}) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<float> x(static_cast<size_t>(n));
      const int kinds = 1 + trial % static_cast<int>(pool.size());
      for (float& v : x)
        v = pool[rng() % kinds];
      if (trial % 7 == 0)
        for (float& v : x)
          v = std::uniform_real_distribution<float>(-3, 3)(rng);
      if (trial % 11 == 0) x.back() = 1e30f;  // the answer in the scalar tail
      ASSERT_EQ(argmax(x.data(), n), scan(x)) << "n=" << n << " trial " << trial;
    }
  }
  const std::vector<float> all_nan(37, nan);
  EXPECT_EQ(argmax(all_nan.data(), 37), 36);  // every value NaN: the last index
  std::vector<float> nan_then_low(40, nan);
  nan_then_low[39] = -inf;
  EXPECT_EQ(argmax(nan_then_low.data(), 40), 39);
  const std::vector<float> zeros = {-0.0f, 0.0f, -0.0f};
  EXPECT_EQ(argmax(zeros.data(), 3), 0);  // -0 == +0: the first
}

}  // namespace
}  // namespace troupe::kernels::cpu
