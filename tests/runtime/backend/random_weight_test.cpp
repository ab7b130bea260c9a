// Random weights (--load-format dummy): the values random_weight.hpp documents, in range, and the
// CPU backend's upload of a random weight holds exactly those values (read back through the
// embedding op, and multiplied bitwise as the same weight uploaded with its values).
#include "runtime/backend/random_weight.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "tests/runtime/backend/backend_test_support.hpp"

namespace troupe::backend {
namespace {

using testing::bitwise_equal;
using testing::cpu_backend_ops;

constexpr random_fill fill{0x1234abcdull, 0.5f};

weight_data random_data(weight_format format, random_fill f = fill) {
  weight_data data;
  data.format = format;
  data.random = f;
  return data;
}

// The documented value of element i, without the project's conversions: the 24-bit grid, then
// round to nearest even by hand for bf16.
float documented_f32(uint64_t i) {
  const auto k = static_cast<int32_t>(kernels::cpu::random_bits(fill.seed, i) >> 40) - (1 << 23);
  return static_cast<float>(k) * (fill.bound / 8388608.0f);
}
uint16_t documented_bf16(float v) {
  const uint32_t x = std::bit_cast<uint32_t>(v);
  const uint32_t lower = x & 0xffffu, upper = x >> 16;
  const bool round_up = lower > 0x8000u || (lower == 0x8000u && (upper & 1u));
  return static_cast<uint16_t>(upper + (round_up ? 1u : 0u));
}

// The f32 values a [rows][cols] weight's data stands for.
std::vector<float> decoded(const weight_data& data, int64_t rows, int64_t cols) {
  if (data.format == weight_format::f32) return data.values;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t h = 0;
    if (data.format == weight_format::bf16 || data.format == weight_format::f16)
      std::memcpy(&h, data.bytes.data() + 2 * i, 2);
    if (data.format == weight_format::bf16) {
      out[i] = runtime::bf16_to_f32(h);
    } else if (data.format == weight_format::f16) {
      out[i] = runtime::f16_to_f32(h);
    } else {
      out[i] = static_cast<float>(static_cast<int8_t>(data.bytes[i])) *
               data.scales[i / static_cast<size_t>(cols)];
    }
  }
  return out;
}

TEST(random_weight, values_are_the_documented_ones_and_in_range) {
  const weight_desc desc{64, 96, weight_format::f32};
  const weight_data f32 = generate_random_weight(desc, fill);
  ASSERT_EQ(f32.values.size(), 64u * 96u);
  float lo = 1.0f, hi = -1.0f;
  double sum = 0.0;
  for (size_t i = 0; i < f32.values.size(); ++i) {
    const float v = f32.values[i];
    ASSERT_EQ(std::bit_cast<uint32_t>(v), std::bit_cast<uint32_t>(documented_f32(i))) << i;
    ASSERT_GE(v, -fill.bound);
    ASSERT_LT(v, fill.bound);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  EXPECT_LT(lo, -0.99f * fill.bound);  // uniform over the whole range
  EXPECT_GT(hi, 0.99f * fill.bound);
  EXPECT_LT(std::abs(sum / static_cast<double>(f32.values.size())), 0.03 * fill.bound);

  const weight_data bf16 = generate_random_weight({64, 96, weight_format::bf16}, fill);
  const weight_data f16 = generate_random_weight({64, 96, weight_format::f16}, fill);
  ASSERT_EQ(bf16.bytes.size(), 2u * 64u * 96u);
  ASSERT_TRUE(bf16.values.empty() && bf16.scales.empty());
  for (size_t i = 0; i < f32.values.size(); ++i) {
    uint16_t b = 0, h = 0;
    std::memcpy(&b, bf16.bytes.data() + 2 * i, 2);
    std::memcpy(&h, f16.bytes.data() + 2 * i, 2);
    ASSERT_EQ(b, documented_bf16(f32.values[i])) << i;
    ASSERT_EQ(h, runtime::f32_to_f16(f32.values[i])) << i;
  }
}

TEST(random_weight, w8a8_is_random_int8_with_scales_bound_over_127) {
  for (auto format : {weight_format::w8a8, weight_format::w8a8_azp}) {
    const weight_data q = generate_random_weight({16, 64, format}, fill);
    ASSERT_EQ(q.bytes.size(), 16u * 64u);
    ASSERT_EQ(q.scales, std::vector<float>(16, fill.bound / 127.0f));
    int lo = 0, hi = 0;
    for (size_t i = 0; i < q.bytes.size(); ++i) {
      const auto v = static_cast<int8_t>(q.bytes[i]);
      ASSERT_EQ(v, kernels::cpu::random_int8(fill.seed, i));
      lo = std::min<int>(lo, v);
      hi = std::max<int>(hi, v);
    }
    EXPECT_EQ(lo, -127);  // -128 is clamped away: values stay in [-bound, bound]
    EXPECT_GT(hi, 120);
  }
}

// A slice's seed depends on the weight's seed, rows vs columns and the offset only.
TEST(random_weight, slices_get_their_own_seeds) {
  const auto rows0 = random_slice_fill(fill, false, 0), rows8 = random_slice_fill(fill, false, 8);
  EXPECT_NE(rows0.seed, fill.seed);
  EXPECT_NE(rows0.seed, rows8.seed);
  EXPECT_NE(rows8.seed, random_slice_fill(fill, true, 8).seed);
  EXPECT_EQ(rows8.seed, random_slice_fill(fill, false, 8).seed);
  EXPECT_EQ(rows8.bound, fill.bound);
  EXPECT_TRUE(is_random_format(weight_format::bf16));
  EXPECT_TRUE(is_random_format(weight_format::w8a8_azp));
  EXPECT_FALSE(is_random_format(weight_format::q4_k));
}

// The embedding op decodes the rows the backend holds: the generated values, in every format.
TEST_F(cpu_backend_ops, uploaded_random_weights_hold_the_generated_values) {
  const int64_t rows = 10, cols = 32;
  for (auto format : {weight_format::f32, weight_format::bf16, weight_format::f16,
                      weight_format::w8a8, weight_format::w8a8_azp}) {
    const weight_desc desc{rows, cols, format};
    const auto table = be_.upload_weight(desc, random_data(format));
    auto out = output(T * cols);
    be_.embedding(table, 0, out);
    const auto expected_table = decoded(generate_random_weight(desc, fill), rows, cols);
    std::vector<float> expected;
    for (int32_t token : step_.token_ids) {
      expected.insert(expected.end(), expected_table.begin() + token * cols,
                      expected_table.begin() + (token + 1) * cols);
    }
    EXPECT_TRUE(bitwise_equal(read(out, T * cols), expected)) << weight_format_name(format);
  }
}

// A random weight multiplies exactly as the same values uploaded as data (the packed panels and
// the int8 row sums are built from the generated values).
TEST_F(cpu_backend_ops, random_weights_multiply_as_their_values) {
  const int64_t rows = 9, in = 64, out_features = 48;
  for (auto format : {weight_format::f32, weight_format::bf16, weight_format::f16,
                      weight_format::w8a8, weight_format::w8a8_azp}) {
    const weight_desc desc{out_features, in, format};
    const auto x = buffer_with(random(rows * in));
    auto y_random = output(rows * out_features), y_data = output(rows * out_features);
    be_.matmul(x, rows, be_.upload_weight(desc, random_data(format)), y_random);
    be_.matmul(x, rows, be_.upload_weight(desc, generate_random_weight(desc, fill)), y_data);
    EXPECT_TRUE(
        bitwise_equal(read(y_random, rows * out_features), read(y_data, rows * out_features)))
        << weight_format_name(format);
  }
}

}  // namespace
}  // namespace troupe::backend
