// FP8 codes <-> float (formats and rounding: fp8.hpp).
#include "kernels/cpu/fp8.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace troupe::kernels::cpu {
namespace {

struct fp8_spec {
  int man_bits;
  int bias;
  float max;         // largest finite magnitude
  uint8_t max_code;  // its code, sign bit clear
  bool has_inf;      // e5m2: exponent all ones with mantissa 0 is infinity
};

constexpr fp8_spec e4m3_spec{3, 7, 448.0f, 0x7e, false};
constexpr fp8_spec e5m2_spec{2, 15, 57344.0f, 0x7b, true};
constexpr uint8_t nan_code = 0x7f;  // a NaN in both formats

const fp8_spec& spec_of(fp8_format format) {
  return format == fp8_format::e4m3 ? e4m3_spec : e5m2_spec;
}

float decode(uint8_t code, const fp8_spec& s) {
  const int exp_bits = 7 - s.man_bits;
  const int exp_field = (code & 0x7f) >> s.man_bits;
  const int man = code & ((1 << s.man_bits) - 1);
  const bool exp_all_ones = exp_field == (1 << exp_bits) - 1;
  float magnitude;
  if (s.has_inf && exp_all_ones) {
    magnitude = man == 0 ? INFINITY : NAN;
  } else if (!s.has_inf && (code & 0x7f) == nan_code) {
    magnitude = NAN;
  } else if (exp_field == 0) {
    magnitude = std::ldexp(static_cast<float>(man), 1 - s.bias - s.man_bits);
  } else {
    magnitude =
        std::ldexp(static_cast<float>((1 << s.man_bits) + man), exp_field - s.bias - s.man_bits);
  }
  return (code & 0x80) ? -magnitude : magnitude;
}

// A quantum q = 2^(e - M) of the binade holding |x| (the subnormal one below the smallest
// normal) makes |x| / q exact and below 2^(M + 1), so rounding it to an integer n is the whole
// conversion; n = 2^(M + 1) carries into the next binade, n < 2^M is a subnormal.
uint8_t encode(float x, const fp8_spec& s) {
  const uint8_t sign = static_cast<uint8_t>(std::bit_cast<uint32_t>(x) >> 24) & 0x80;
  if (std::isnan(x)) return sign | nan_code;
  const float a = std::fabs(x);
  if (a >= s.max) return sign | s.max_code;
  const int min_exp = 1 - s.bias;
  const int e = a == 0.0f ? min_exp : std::max(std::ilogb(a), min_exp);
  const auto n = static_cast<int>(std::nearbyint(std::ldexp(a, s.man_bits - e)));  // ties to even
  const int implicit = 1 << s.man_bits;
  int exp_field = 0, man = n;
  if (n >= 2 * implicit) {
    exp_field = e + 1 + s.bias, man = 0;
  } else if (n >= implicit) {
    exp_field = e + s.bias, man = n - implicit;
  }
  return sign | static_cast<uint8_t>((exp_field << s.man_bits) | man);
}

using decode_table = std::array<float, 256>;

decode_table make_table(const fp8_spec& s) {
  decode_table table;
  for (int code = 0; code < 256; ++code)
    table[code] = decode(static_cast<uint8_t>(code), s);
  return table;
}

const decode_table& table_of(fp8_format format) {
  static const decode_table e4m3 = make_table(e4m3_spec), e5m2 = make_table(e5m2_spec);
  return format == fp8_format::e4m3 ? e4m3 : e5m2;
}

}  // namespace

float fp8_max(fp8_format format) {
  return spec_of(format).max;
}

float fp8_to_float(uint8_t code, fp8_format format) {
  return table_of(format)[code];
}

uint8_t float_to_fp8(float x, fp8_format format) {
  return encode(x, spec_of(format));
}

void quantize_fp8(const float* x, int64_t n, float scale, fp8_format format, uint8_t* codes) {
  const fp8_spec& s = spec_of(format);
  for (int64_t i = 0; i < n; ++i)
    codes[i] = encode(x[i] / scale, s);
}

void dequantize_fp8(const uint8_t* codes, int64_t n, float scale, fp8_format format, float* out) {
  const decode_table& table = table_of(format);
  for (int64_t i = 0; i < n; ++i)
    out[i] = table[codes[i]] * scale;
}

}  // namespace troupe::kernels::cpu
