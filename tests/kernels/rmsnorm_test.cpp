#include "kernels/cpu/rmsnorm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace troupe::kernels::cpu {
namespace {

TEST(rmsnorm, matches_naive_reference) {
  const int64_t rows = 5, dim = 67;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> x(rows * dim), w(dim), y(rows * dim);
  for (auto& v : x)
    v = dist(rng);
  for (auto& v : w)
    v = dist(rng);
  rmsnorm(x.data(), w.data(), rows, dim, 1e-5f, y.data());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i)
      ss += double{x[r * dim + i]} * x[r * dim + i];
    double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
    for (int64_t i = 0; i < dim; ++i)
      EXPECT_NEAR(y[r * dim + i], x[r * dim + i] * inv * w[i], 1e-5) << r << "," << i;
  }
}

TEST(rmsnorm, in_place_equals_out_of_place_and_eps_guards_zero_rows) {
  const int64_t dim = 16;
  std::vector<float> x(2 * dim, 0.0f), w(dim, 1.0f), y(2 * dim);
  for (int64_t i = 0; i < dim; ++i)
    x[dim + i] = static_cast<float>(i) - 7.5f;
  rmsnorm(x.data(), w.data(), 2, dim, 1e-5f, y.data());
  for (int64_t i = 0; i < dim; ++i)
    EXPECT_EQ(y[i], 0.0f);  // zero row stays finite
  rmsnorm(x.data(), w.data(), 2, dim, 1e-5f, x.data());
  EXPECT_EQ(x, y);
}

// The SIMD sum is its scalar twin bit for bit, for every tail length and for values whose squares
// span many binades (where the order of a double sum shows).
TEST(rmsnorm, sum_of_squares_equals_its_scalar_twin_bitwise) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-40, 40);
  for (int64_t dim : {1, 7, 8, 9, 64, 576, 1537}) {
    std::vector<float> x(dim);
    for (auto& v : x)
      v = std::ldexp(mantissa(rng), exponent(rng));
    const double simd = sum_of_squares(x.data(), dim),
                 scalar = sum_of_squares_scalar(x.data(), dim);
    EXPECT_EQ(std::memcmp(&simd, &scalar, sizeof(double)), 0) << dim;
    double lanes[8] = {};
    for (int64_t k = 0; k < dim; ++k)
      lanes[k % 8] += static_cast<double>(x[k] * x[k]);
    EXPECT_EQ(scalar, ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
                          ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7])))
        << dim;
  }
}

}  // namespace
}  // namespace troupe::kernels::cpu
