#include "kernels/cpu/fp8.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace troupe::kernels::cpu {
namespace {

constexpr fp8_format formats[] = {fp8_format::e4m3, fp8_format::e5m2};

bool is_nan_code(uint8_t code, fp8_format f) {
  const uint8_t m = code & 0x7f;
  return f == fp8_format::e4m3 ? m == 0x7f : m > 0x7c;
}
bool is_inf_code(uint8_t code, fp8_format f) {
  return f == fp8_format::e5m2 && (code & 0x7f) == 0x7c;
}

// Values computed by hand from the format definitions (fp8.hpp), checked against ml_dtypes'
// float8_e4m3fn / float8_e5m2.
TEST(fp8, known_codes) {
  struct known {
    uint8_t code;
    float value;
  };
  for (auto [code, value] : std::vector<known>{{0x00, 0.0f},
                                               {0x80, -0.0f},
                                               {0x01, 0x1p-9f},  // smallest subnormal
                                               {0x07, 7 * 0x1p-9f},
                                               {0x08, 0x1p-6f},  // smallest normal
                                               {0x38, 1.0f},
                                               {0x39, 1.125f},
                                               {0x1d, 0.1015625f},
                                               {0x7e, 448.0f},
                                               {0xfe, -448.0f},
                                               {0xc4, -3.0f}}) {
    EXPECT_EQ(fp8_to_float(code, fp8_format::e4m3), value) << int(code);
    EXPECT_EQ(float_to_fp8(value, fp8_format::e4m3), code) << value;
  }
  for (auto [code, value] : std::vector<known>{{0x00, 0.0f},
                                               {0x80, -0.0f},
                                               {0x01, 0x1p-16f},
                                               {0x03, 3 * 0x1p-16f},
                                               {0x04, 0x1p-14f},
                                               {0x3c, 1.0f},
                                               {0x3d, 1.25f},
                                               {0x2e, 0.09375f},
                                               {0x7b, 57344.0f},
                                               {0xfb, -57344.0f},
                                               {0xc2, -3.0f}}) {
    EXPECT_EQ(fp8_to_float(code, fp8_format::e5m2), value) << int(code);
    EXPECT_EQ(float_to_fp8(value, fp8_format::e5m2), code) << value;
  }
  EXPECT_EQ(std::signbit(fp8_to_float(0x80, fp8_format::e4m3)), true);
  EXPECT_EQ(fp8_max(fp8_format::e4m3), 448.0f);
  EXPECT_EQ(fp8_max(fp8_format::e5m2), 57344.0f);
  // Rounding: 0.1 lies between 0.09375 (0x1c) and 0.1015625 (0x1d) in e4m3, nearer the latter;
  // in e5m2 between 0.09375 (0x2e) and 0.109375 (0x2f), nearer the former.
  EXPECT_EQ(float_to_fp8(0.1f, fp8_format::e4m3), 0x1d);
  EXPECT_EQ(float_to_fp8(0.1f, fp8_format::e5m2), 0x2e);
}

TEST(fp8, every_code_round_trips) {
  for (auto f : formats) {
    int num_nan = 0;
    for (int c = 0; c < 256; ++c) {
      const auto code = static_cast<uint8_t>(c);
      const float x = fp8_to_float(code, f);
      if (is_nan_code(code, f)) {
        EXPECT_TRUE(std::isnan(x)) << c;
        EXPECT_TRUE(std::isnan(fp8_to_float(float_to_fp8(x, f), f))) << c;
        ++num_nan;
      } else if (is_inf_code(code, f)) {
        EXPECT_TRUE(std::isinf(x)) << c;
        EXPECT_EQ(float_to_fp8(x, f), (code & 0x80) | 0x7b) << c;  // saturates
      } else {
        EXPECT_EQ(float_to_fp8(x, f), code) << c;
      }
    }
    EXPECT_EQ(num_nan, f == fp8_format::e4m3 ? 2 : 6);
  }
}

TEST(fp8, codes_are_ordered_and_decoding_is_exact_in_float) {
  // Positive finite codes increase with the value, so neighbours in code order are neighbours on
  // the line: what the tie test relies on.
  for (auto f : formats) {
    const int last = f == fp8_format::e4m3 ? 0x7e : 0x7b;
    for (int c = 0; c < last; ++c)
      EXPECT_LT(fp8_to_float(c, f), fp8_to_float(c + 1, f)) << c;
  }
}

TEST(fp8, rounds_to_nearest_with_ties_to_even) {
  for (auto f : formats) {
    const int last = f == fp8_format::e4m3 ? 0x7e : 0x7b;
    for (int c = 0; c < last; ++c) {
      for (uint8_t sign : {0x00, 0x80}) {
        const auto lo = static_cast<uint8_t>(c | sign), hi = static_cast<uint8_t>((c + 1) | sign);
        const float a = fp8_to_float(lo, f), b = fp8_to_float(hi, f);
        const float mid = (a + b) / 2;  // exact: one more bit than the format has
        const uint8_t even = (c % 2 == 0) ? lo : hi;
        EXPECT_EQ(float_to_fp8(mid, f), even) << c;
        EXPECT_EQ(float_to_fp8(std::nextafter(mid, a), f), lo) << c;
        EXPECT_EQ(float_to_fp8(std::nextafter(mid, b), f), hi) << c;
      }
    }
  }
}

TEST(fp8, saturates_beyond_the_largest_finite_value) {
  for (auto f : formats) {
    const float max = fp8_max(f);
    const uint8_t max_code = f == fp8_format::e4m3 ? 0x7e : 0x7b;
    for (float x : {std::nextafter(max, INFINITY), max * 1.07f, max * 2, 1e30f, INFINITY}) {
      EXPECT_EQ(float_to_fp8(x, f), max_code) << x;
      EXPECT_EQ(float_to_fp8(-x, f), max_code | 0x80) << x;
    }
    EXPECT_TRUE(std::isnan(fp8_to_float(float_to_fp8(NAN, f), f)));
    EXPECT_TRUE(std::isnan(fp8_to_float(float_to_fp8(-NAN, f), f)));
  }
}

TEST(fp8, subnormals_and_underflow) {
  // e4m3: subnormals are k * 2^-9; half the smallest is a tie with zero (even: zero).
  EXPECT_EQ(float_to_fp8(0x1p-10f, fp8_format::e4m3), 0x00);
  EXPECT_EQ(float_to_fp8(-0x1p-10f, fp8_format::e4m3), 0x80);
  EXPECT_EQ(float_to_fp8(0x1.000002p-10f, fp8_format::e4m3), 0x01);
  EXPECT_EQ(float_to_fp8(3 * 0x1p-10f, fp8_format::e4m3), 0x02);    // 1.5 ulp: tie -> even 2
  EXPECT_EQ(float_to_fp8(7.5f * 0x1p-9f, fp8_format::e4m3), 0x08);  // carries into the normals
  EXPECT_EQ(float_to_fp8(1e-30f, fp8_format::e4m3), 0x00);
  EXPECT_EQ(float_to_fp8(1e-45f, fp8_format::e4m3), 0x00);  // a float subnormal
  // e5m2: subnormals are k * 2^-16.
  EXPECT_EQ(float_to_fp8(0x1p-17f, fp8_format::e5m2), 0x00);
  EXPECT_EQ(float_to_fp8(0x1.000002p-17f, fp8_format::e5m2), 0x01);
  EXPECT_EQ(float_to_fp8(3.5f * 0x1p-16f, fp8_format::e5m2), 0x04);
}

TEST(fp8, scaled_bulk_conversion_is_per_element) {
  const std::vector<float> x = {0.0f, 1.0f, -2.5f, 300.0f, 1e-3f, 1000.0f, -1e6f};
  for (auto f : formats) {
    for (float scale : {1.0f, 0.25f, 3.0f}) {
      std::vector<uint8_t> codes(x.size());
      std::vector<float> back(x.size());
      quantize_fp8(x.data(), static_cast<int64_t>(x.size()), scale, f, codes.data());
      dequantize_fp8(codes.data(), static_cast<int64_t>(codes.size()), scale, f, back.data());
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(codes[i], float_to_fp8(x[i] / scale, f));
        EXPECT_EQ(back[i], fp8_to_float(codes[i], f) * scale);
      }
    }
  }
}

// Every code at every offset of a 16-code vector (and in the scalar tail) dequantizes to the
// table's value times the scale, bit for bit: signed zeros, subnormals, the largest values,
// e5m2's infinities and both formats' NaNs (the same NaN bits), at scales that round.
TEST(fp8, dequantize_is_the_tables_value_times_the_scale_bitwise) {
  std::vector<uint8_t> codes(256 * 3 + 7);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = static_cast<uint8_t>(i * 37 + i / 256);  // every code, each at several offsets
  std::vector<float> out(codes.size());
  for (auto f : formats) {
    for (float scale : {1.0f, 0.37f, 3.0f, 0x1p-30f, 1.7e-3f, 0x1.8p100f}) {
      for (size_t skip : {size_t{0}, size_t{1}, size_t{9}}) {
        const auto n = static_cast<int64_t>(codes.size() - skip);
        dequantize_fp8(codes.data() + skip, n, scale, f, out.data());
        for (int64_t i = 0; i < n; ++i) {
          const uint8_t code = codes[skip + i];
          const float want = fp8_to_float(code, f) * scale;
          EXPECT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(want))
              << "code " << int{code} << " scale " << scale << " at " << i;
        }
      }
    }
  }
  // The table itself at a few codes: e4m3 0x7e = 448, 0x01 = 2^-9; e5m2 0x7c = inf, 0x01 = 2^-16.
  EXPECT_EQ(fp8_to_float(0x7e, fp8_format::e4m3), 448.0f);
  EXPECT_EQ(fp8_to_float(0x81, fp8_format::e4m3), -0x1p-9f);
  EXPECT_EQ(fp8_to_float(0x7c, fp8_format::e5m2), INFINITY);
  EXPECT_EQ(fp8_to_float(0x01, fp8_format::e5m2), 0x1p-16f);
}

}  // namespace
}  // namespace troupe::kernels::cpu
