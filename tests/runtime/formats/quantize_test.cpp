#include "runtime/formats/quantize.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/formats/dequant.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/half.hpp"

namespace troupe::runtime {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v)
    x = dist(rng);
  return v;
}

std::vector<float> round_trip(ggml_type type, const std::vector<float>& x) {
  result<std::vector<uint8_t>> bytes = encode_tensor(static_cast<uint32_t>(type), x);
  EXPECT_TRUE(bytes.ok());
  std::vector<float> y(x.size());
  EXPECT_TRUE(dequantize(static_cast<uint32_t>(type), *bytes, y, "t").ok());
  return y;
}

float f16_round(float x) {
  return f16_to_f32(f32_to_f16(x));
}

// The ggml reference reconstruction, written out per block: q from the f32 scale, decode with
// the f16-rounded scale.
TEST(quantize, q8_0_matches_reference_reconstruction_and_bound) {
  const std::vector<float> x = random_values(32 * 64, 1, 0.05f);
  const std::vector<float> y = round_trip(ggml_type::q8_0, x);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0.0f;
    for (size_t j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 127.0f;
    for (size_t i = b * 32; i < b * 32 + 32; ++i) {
      ASSERT_EQ(y[i], std::roundf(x[i] * (1.0f / d)) * f16_round(d)) << i;
      ASSERT_LE(std::fabs(y[i] - x[i]), d / 2 + amax / 2048) << i;
    }
  }
}

TEST(quantize, q4_0_matches_reference_reconstruction_and_bound) {
  const std::vector<float> x = random_values(32 * 64, 2, 1.0f);
  const std::vector<float> y = round_trip(ggml_type::q4_0, x);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const float* block = &x[b * 32];
    const float max = *std::max_element(
        block, block + 32, [](float a, float c) { return std::fabs(a) < std::fabs(c); });
    const float d = max / -8.0f;
    for (size_t i = b * 32; i < b * 32 + 32; ++i) {
      const int q = std::min(15, static_cast<int>(x[i] * (1.0f / d) + 8.5f));
      ASSERT_EQ(y[i], static_cast<float>(q - 8) * f16_round(d)) << i;
      // Values opposite in sign to `max` may clamp at q = 15: error up to one step.
      ASSERT_LE(std::fabs(y[i] - x[i]), std::fabs(d) + std::fabs(max) / 1024) << i;
      if (x[i] == max) {
        ASSERT_NEAR(y[i], max, std::fabs(max) / 1024) << i;
      }
    }
  }
}

TEST(quantize, q4_1_matches_reference_reconstruction_and_bound) {
  const std::vector<float> x = random_values(32 * 64, 3, 2.0f);
  const std::vector<float> y = round_trip(ggml_type::q4_1, x);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    const auto [lo, hi] = std::minmax_element(&x[b * 32], &x[b * 32] + 32);
    const float d = (*hi - *lo) / 15.0f;
    for (size_t i = b * 32; i < b * 32 + 32; ++i) {
      const int q = std::min(15, static_cast<int>((x[i] - *lo) * (1.0f / d) + 0.5f));
      ASSERT_EQ(y[i], static_cast<float>(q) * f16_round(d) + f16_round(*lo)) << i;
      ASSERT_LE(std::fabs(y[i] - x[i]), d / 2 + (*hi - *lo + std::fabs(*lo)) / 1024) << i;
    }
  }
}

TEST(quantize, zero_block_decodes_to_zeros) {
  const std::vector<float> zeros(64, 0.0f);
  for (ggml_type t : {ggml_type::q8_0, ggml_type::q4_0, ggml_type::q4_1}) {
    EXPECT_EQ(round_trip(t, zeros), zeros) << ggml_type_name(static_cast<uint32_t>(t));
  }
}

TEST(quantize, plain_types_round_to_nearest) {
  const std::vector<float> x = random_values(100, 4, 3.0f);
  const std::vector<float> h = round_trip(ggml_type::f16, x);
  const std::vector<float> b = round_trip(ggml_type::bf16, x);
  EXPECT_EQ(round_trip(ggml_type::f32, x), x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i], f16_round(x[i]));
    EXPECT_LE(std::fabs(b[i] - x[i]), std::fabs(x[i]) / 256);
  }
}

TEST(quantize, rejects_partial_blocks_and_unencodable_types) {
  const std::vector<float> x(33, 1.0f);
  EXPECT_FALSE(encode_tensor(static_cast<uint32_t>(ggml_type::q4_0), x).ok());
  EXPECT_FALSE(encode_tensor(static_cast<uint32_t>(ggml_type::q6_k), std::vector<float>(256)).ok());
  EXPECT_TRUE(encode_tensor(static_cast<uint32_t>(ggml_type::f16), x).ok());
}

}  // namespace
}  // namespace troupe::runtime
