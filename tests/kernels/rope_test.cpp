#include "kernels/cpu/rope.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace troupe::kernels::cpu {
namespace {

// Rotates pair (a, b) of every head by pos * theta^(-2i/d), in double.
std::vector<float> naive_rope(std::vector<float> x, const std::vector<int32_t>& pos, int heads,
                              int d, double theta, bool neox) {
  for (size_t t = 0; t < pos.size(); ++t) {
    for (int h = 0; h < heads; ++h) {
      float* head = x.data() + (t * heads + h) * d;
      for (int i = 0; i < d / 2; ++i) {
        double angle = pos[t] * std::pow(theta, -2.0 * i / d);
        int a = neox ? i : 2 * i, b = neox ? i + d / 2 : 2 * i + 1;
        double x0 = head[a], x1 = head[b];
        head[a] = static_cast<float>(x0 * std::cos(angle) - x1 * std::sin(angle));
        head[b] = static_cast<float>(x0 * std::sin(angle) + x1 * std::cos(angle));
      }
    }
  }
  return x;
}

class rope_styles : public ::testing::TestWithParam<rope_layout> {};

TEST_P(rope_styles, matches_naive_reference) {
  const int heads = 3, d = 16;
  const float theta = 10000.0f;
  std::vector<int32_t> pos = {0, 1, 5, 17, 63, 2};
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(pos.size() * heads * d);
  for (auto& v : x)
    v = dist(rng);
  bool neox = GetParam() == rope_layout::neox;
  auto ref = naive_rope(x, pos, heads, d, theta, neox);
  rope_table table(d, theta);
  table.ensure(64);
  rope(table, GetParam(), pos.data(), static_cast<int64_t>(pos.size()), heads, d, x.data());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(x[i], ref[i], 2e-5) << i;
}

INSTANTIATE_TEST_SUITE_P(both, rope_styles,
                         ::testing::Values(rope_layout::interleaved, rope_layout::neox));

TEST(rope, styles_pair_different_dimensions) {
  rope_table table(4, 10000.0f);
  table.ensure(2);
  std::vector<float> a = {1, 0, 0, 0}, b = a;
  int32_t pos = 1;
  rope(table, rope_layout::interleaved, &pos, 1, 1, 4, a.data());
  rope(table, rope_layout::neox, &pos, 1, 1, 4, b.data());
  EXPECT_NEAR(a[1], std::sin(1.0), 1e-6);  // partner of dim 0 is dim 1
  EXPECT_NEAR(b[2], std::sin(1.0), 1e-6);  // partner of dim 0 is dim 2
  EXPECT_EQ(a[2], 0.0f);
  EXPECT_EQ(b[1], 0.0f);
}

TEST(rope_table, growing_keeps_entries_identical) {
  rope_table small(8, 500.0f), big(8, 500.0f);
  small.ensure(3);
  small.ensure(10);
  big.ensure(10);
  for (int p = 0; p < 10; ++p)
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(small.cos(p)[i], big.cos(p)[i]);
      EXPECT_EQ(small.sin(p)[i], big.sin(p)[i]);
    }
}

TEST(rope_table, explicit_frequencies_and_magnitude) {
  std::vector<float> inv_freq = {1.0f, 0.25f, 0.01f};
  rope_table table(inv_freq, 1.5f);
  table.ensure(40);
  EXPECT_EQ(table.num_pairs(), 3);
  for (int p : {0, 1, 7, 39})
    for (int i = 0; i < 3; ++i) {
      const float angle = static_cast<float>(p) * inv_freq[i];
      EXPECT_NEAR(table.cos(p)[i], 1.5 * std::cos(angle), 1e-6) << p << " " << i;
      EXPECT_NEAR(table.sin(p)[i], 1.5 * std::sin(angle), 1e-6) << p << " " << i;
    }
  // A rotation scaled by the magnitude: the pair's norm grows by 1.5.
  std::vector<float> x = {3, 0, 0, 4, 0, 0};
  int32_t pos = 5;
  rope(table, rope_layout::neox, &pos, 1, 1, 6, x.data());
  EXPECT_NEAR(std::hypot(x[0], x[3]), 1.5 * 5.0, 1e-5);  // pair (0, 3) = (3, 4)
  EXPECT_NEAR(std::hypot(x[1], x[4]), 0.0, 1e-6);
}

}  // namespace
}  // namespace troupe::kernels::cpu
