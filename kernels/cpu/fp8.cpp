// FP8 codes <-> float (formats and rounding: fp8.hpp).
#include "kernels/cpu/fp8.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics pass an undefined vector as their unused merge source, which
// -Wmaybe-uninitialized reports.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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
  int64_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  // Sixteen codes at a time, each first made the f16 of the same value (exactly, NaN included),
  // which VCVTPH2PS widens exactly; then the same one rounding of value * scale as the table:
  //   e5m2  the code is the f16's top byte (the same exponent bias, 15, and subnormals)
  //   e4m3  exponent and mantissa shifted to the f16's bits 13..7: the value times 2^-8 (bias 7
  //         against 15; subnormals land on f16 subnormals), so an exact * 256 follows
  // NaN codes become f16 0x7e00 with their sign, the f32 NaN the table holds (0x7fc00000).
  const bool e4m3 = format == fp8_format::e4m3;
  const __m512 scale_v = _mm512_set1_ps(scale), e4m3_unit = _mm512_set1_ps(256.0f);
  const __m256i sign_bit = _mm256_set1_epi16(0x80), magnitude_bits = _mm256_set1_epi16(0x7f);
  const __m256i f16_nan = _mm256_set1_epi16(0x7e00), f16_inf = _mm256_set1_epi16(0x7c00);
  for (; i + 16 <= n; i += 16) {
    const __m256i c =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    const __m256i sign = _mm256_slli_epi16(_mm256_and_si256(c, sign_bit), 8);
    __m256i h;
    __mmask16 nan;
    if (e4m3) {
      const __m256i magnitude = _mm256_and_si256(c, magnitude_bits);
      h = _mm256_or_si256(_mm256_slli_epi16(magnitude, 7), sign);
      nan = _mm256_cmpeq_epi16_mask(magnitude, magnitude_bits);
    } else {
      h = _mm256_slli_epi16(c, 8);
      nan =
          _mm256_cmpgt_epu16_mask(_mm256_andnot_si256(_mm256_slli_epi16(sign_bit, 8), h), f16_inf);
    }
    h = _mm256_mask_mov_epi16(h, nan, _mm256_or_si256(sign, f16_nan));
    __m512 v = _mm512_cvtph_ps(h);
    if (e4m3) v = _mm512_mul_ps(v, e4m3_unit);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(v, scale_v));
  }
#endif
  for (; i < n; ++i)
    out[i] = table[codes[i]] * scale;
}

}  // namespace troupe::kernels::cpu
