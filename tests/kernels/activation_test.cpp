#include "kernels/cpu/activation.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/embedding.hpp"
#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {
namespace {

TEST(silu_mul, matches_naive_reference) {
  std::vector<float> gate, up;
  for (int i = -20; i <= 20; ++i) {
    gate.push_back(0.37f * static_cast<float>(i));
    up.push_back(1.0f - 0.05f * static_cast<float>(i));
  }
  std::vector<float> out(gate.size());
  silu_mul(gate.data(), up.data(), static_cast<int64_t>(gate.size()), out.data());
  for (size_t i = 0; i < gate.size(); ++i) {
    double g = gate[i], ref = g / (1.0 + std::exp(-g)) * up[i];
    EXPECT_NEAR(out[i], ref, 1e-6 * (1 + std::abs(ref))) << i;
  }
}

// Every element is the scalar formula, whatever its place in the SIMD loop or the tail.
TEST(silu_mul, every_element_is_the_scalar_formula_bitwise) {
  for (int64_t n : {1, 15, 16, 17, 40}) {
    std::vector<float> gate(n), up(n), out(n);
    for (int64_t i = 0; i < n; ++i) {
      gate[i] = 0.731f * static_cast<float>(i - n / 2) + 0.01f;
      up[i] = 1.5f - 0.07f * static_cast<float>(i);
    }
    silu_mul(gate.data(), up.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const float ref = (gate[i] / (1.0f + exp_value(-gate[i]))) * up[i];
      EXPECT_EQ(std::memcmp(&out[i], &ref, sizeof(float)), 0) << n << " " << i;
    }
  }
}

TEST(embedding, gathers_rows) {
  std::vector<float> table = {0, 1, 10, 11, 20, 21};
  std::vector<int32_t> ids = {2, 0, 2};
  std::vector<float> out(6);
  embedding(table.data(), 2, ids.data(), 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1, 20, 21}));
}

TEST(add_inplace, adds_elementwise) {
  std::vector<float> y = {1, 2, 3}, x = {0.5f, -2, 10};
  add_inplace(y.data(), x.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{1.5f, 0, 13}));
}

}  // namespace
}  // namespace troupe::kernels::cpu
