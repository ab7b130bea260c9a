#pragma once
// The emulator's value conversions, written out bit by bit so that they do not depend on the host
// compiler's _Float16 or on the code under test. Plain C++, no CUDA type: the self-check
// (src/selfcheck.cpp) compiles this header next to the real CUDA headers and compares.
//
//   f32 -> bf16 / f16   round to nearest even, overflow to inf, subnormals kept; NaN -> 0x7fff
//                       (the canonical NaN of cvt.rn.{bf16,f16}.f32)
//   bf16 / f16 -> f32   exact
#include <bit>
#include <cstdint>

namespace emu {

inline uint16_t f32_to_bf16_rn(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bf16_to_f32(uint16_t h) {
  return std::bit_cast<float>(uint32_t{h} << 16);
}

inline uint16_t f32_to_f16_rn(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t x = u & 0x7fffffffu;
  if (x > 0x7f800000u) return 0x7fffu;
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 (the tie above 65504): inf
  if (x >= 0x38800000u) {                       // normal: rebias the exponent, round 13 bits off
    const uint32_t m = x - 0x38000000u;
    return static_cast<uint16_t>(sign | ((m + 0xfffu + ((m >> 13) & 1u)) >> 13));
  }
  if (x < 0x33000000u) return sign;  // below 2^-25: rounds to zero
  // Subnormal result: the value in units of 2^-24 is mant * 2^(e - 126), shift = 126 - e.
  const uint32_t mant = (x & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - (x >> 23);
  uint32_t r = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (r & 1u) != 0)) ++r;
  return static_cast<uint16_t>(sign | r);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  if (e != 0) return std::bit_cast<float>(sign | ((e + 112u) << 23) | (m << 13));
  // zero or subnormal: m * 2^-24, exact in f32
  const float v = static_cast<float>(m) * 0x1p-24f;
  return sign != 0 ? -v : v;
}

}  // namespace emu
