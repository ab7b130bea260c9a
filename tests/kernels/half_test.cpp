#include "kernels/cpu/half.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace troupe::kernels::cpu {
namespace {

TEST(half, known_f16_values_decode_exactly) {
  EXPECT_EQ(f16_to_f32(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
}

TEST(half, every_f16_round_trips_through_f32) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << h;
      continue;
    }
    EXPECT_EQ(f32_to_f16(f), h) << "f16 bits " << h;
  }
}

TEST(half, f32_to_f16_rounds_to_nearest_even) {
  const float one_ulp = std::ldexp(1.0f, -10);            // f16 spacing just above 1
  EXPECT_EQ(f32_to_f16(1.0f + one_ulp / 2), 0x3c00);      // tie -> even (1.0)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * one_ulp / 2), 0x3c02);  // tie -> even (1 + 2 ulp)
  EXPECT_EQ(f32_to_f16(1.0f + one_ulp * 0.51f), 0x3c01);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // ties to even overflows to inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of the smallest subnormal: even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 subnormal ulps: tie -> even 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
}

// For random floats the result must be the nearest f16 (checked against neighbours), ties even.
TEST(half, f32_to_f16_is_nearest_for_random_values) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> exponent(-26.0f, 16.5f);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(mantissa(rng), static_cast<int>(exponent(rng))) * (i % 2 ? -1 : 1);
    const uint16_t h = f32_to_f16(x);
    if (std::fabs(x) >= 65520.0f) {
      ASSERT_TRUE(std::isinf(f16_to_f32(h))) << x;
      continue;
    }
    const double err = std::fabs(static_cast<double>(f16_to_f32(h)) - x);
    for (int step : {-1, 1}) {
      const uint16_t neighbour = static_cast<uint16_t>(h + step);
      const float n = f16_to_f32(neighbour);
      if (std::isnan(n) || std::isinf(n) || ((neighbour ^ h) & 0x8000)) continue;
      const double neighbour_err = std::fabs(static_cast<double>(n) - x);
      ASSERT_TRUE(err < neighbour_err || (err == neighbour_err && (h & 1) == 0))
          << x << " -> " << h << " but " << neighbour << " is nearer";
    }
  }
}

TEST(half, bf16_conversions) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      EXPECT_EQ(f32_to_bf16(f), b);
    }
  }
}

// NaN keeps the patterns kernels/cuda's converts write: bf16 the sign and top payload bits made
// quiet, f16 sign | 0x7e00.
TEST(half, nan_patterns) {
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7fc00000u)), 0x7fc0);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0xff800001u)), 0xffc0);  // signalling: made quiet
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7fa50000u)), 0x7fe5);
  EXPECT_EQ(f32_to_f16(std::bit_cast<float>(0x7fc00000u)), 0x7e00);
  EXPECT_EQ(f32_to_f16(std::bit_cast<float>(0xff800001u)), 0xfe00);
}

// The array conversions are the scalar ones element by element, at every length (SIMD bodies and
// their tails): every 16-bit word widens exactly; random values, ties, overflow, subnormals, signed
// zeros, infinities and NaN round to the scalar's bits.
TEST(half, arrays_convert_as_the_scalars_do) {
  std::vector<uint16_t> words(0x10000);
  for (uint32_t w = 0; w < 0x10000; ++w)
    words[w] = static_cast<uint16_t>(w);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-30.0f, 20.0f), mantissa(-2.0f, 2.0f);
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1.0f + std::ldexp(1.0f, -11),       // f16 tie -> even
                               std::bit_cast<float>(0x3f808000u),  // bf16 tie -> even
                               std::bit_cast<float>(0x3f818000u),
                               65520.0f,
                               -1e10f,
                               3.4e38f,
                               std::ldexp(1.5f, -25),
                               1e-40f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(),
                               std::bit_cast<float>(0xff800001u)};
  for (int i = 0; i < 5000; ++i)
    values.push_back(std::ldexp(mantissa(rng), static_cast<int>(exponent(rng))));
  for (half_format format : {half_format::bf16, half_format::f16}) {
    const bool bf16 = format == half_format::bf16;
    std::vector<float> wide(words.size());
    widen_half(words.data(), static_cast<int64_t>(words.size()), format, wide.data());
    for (uint32_t w = 0; w < 0x10000; ++w) {
      const float want = bf16 ? bf16_to_f32(words[w]) : f16_to_f32(words[w]);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(wide[w])) << w;
      } else {
        EXPECT_EQ(std::bit_cast<uint32_t>(wide[w]), std::bit_cast<uint32_t>(want)) << w;
      }
    }
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8}, int64_t{13},
                      static_cast<int64_t>(values.size())}) {
      std::vector<uint16_t> rounded(static_cast<size_t>(n) + 1, 0xabcd);
      round_to_half(values.data(), n, format, rounded.data());
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(rounded[i], bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i])) << values[i];
      EXPECT_EQ(rounded[n], 0xabcd);  // nothing past n
      std::vector<float> back(static_cast<size_t>(n) + 1, 5.0f);
      widen_half(words.data() + 0x3c00, n, format, back.data());
      EXPECT_EQ(back[n], 5.0f);
    }
  }
}

}  // namespace
}  // namespace troupe::kernels::cpu
