#pragma once
// IEEE binary16 (f16) and bfloat16 (bf16) <-> f32 conversions, bit-exact with ggml's reference
// conversions and with CUDA's __float2bfloat16_rn / __float2half_rn (round to nearest, ties to
// even; overflow to inf). A NaN stays NaN with a fixed pattern: bf16 keeps the sign and top
// payload bits and sets the quiet bit, f16 is sign | 0x7e00 (kernels/cuda's converts write the
// same). The scalar conversions depend on no F16C intrinsics; runtime/formats/half.hpp gives them
// to the runtime under the same names.
//
// Arrays of them, as a 16-bit KV cache stores keys and values (half_format names the format):
//   round_to_half   out[i] = f32_to_bf16(x[i]) or f32_to_f16(x[i])
//   widen_half      out[i] = bf16_to_f32(h[i]) or f16_to_f32(h[i]), exact (NaN stays NaN)
//   round_through_bf16  out[i] = bf16_to_f32(f32_to_bf16(x[i])) (bf16 activations in f32 words)
#include <bit>
#include <cstdint>

namespace troupe::kernels::cpu {

// f16 bit pattern -> f32. Exact for every input (normals, subnormals, zeros, inf, NaN).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // 112 = 127 - 15
  } else if (mantissa != 0) {
    // Subnormal: shift the mantissa up until its leading one reaches the implicit bit.
    uint32_t e = 113;  // exponent of 2^-14, the subnormal scale, in f32 bias
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  } else {
    bits = sign;  // +-0
  }
  return std::bit_cast<float>(bits);
}

// f32 -> f16 bit pattern, round to nearest even; overflow gives inf, NaN gives a quiet NaN.
inline uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): |f| < 2^-14. Align the full significand to 2^-24 units.
    if (abs < 0x33000000u) return sign;  // < 2^-25: rounds to zero
    const uint32_t exponent = abs >> 23;
    const uint32_t significand = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // value / 2^-24 = significand >> shift; in [14, 24]
    const uint32_t half_units = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    uint32_t rounded = half_units;
    if (rest > halfway || (rest == halfway && (half_units & 1u))) ++rounded;
    return static_cast<uint16_t>(sign | rounded);
  }
  // Normal: rebias the exponent and round the 23-bit mantissa to 10 bits (carry may bump the
  // exponent, which is the correct result, including up to inf at the top).
  uint32_t rebased = abs - ((127u - 15u) << 23);
  const uint32_t rest = rebased & 0x1fffu;
  uint32_t h = rebased >> 13;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float bf16_to_f32(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// f32 -> bf16, round to nearest even; NaN is kept quiet (as ggml does).
inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
  return static_cast<uint16_t>((x + (0x7fffu + ((x >> 16) & 1u))) >> 16);
}

// A 16-bit float format: bfloat16 (8 exponent bits, 7 mantissa bits) or IEEE binary16.
enum class half_format : uint8_t { bf16, f16 };

// out[i] = x[i] rounded to `format` (f32_to_bf16 / f32_to_f16).   x, out: [n]
void round_to_half(const float* x, int64_t n, half_format format, uint16_t* out);

// out[i] = the exact value of h[i] in `format`.   h, out: [n]
void widen_half(const uint16_t* h, int64_t n, half_format format, float* out);

// out[i] = x[i] rounded to bf16 and widened back to f32.   x, out: [n] (out may be x)
void round_through_bf16(const float* x, int64_t n, float* out);

}  // namespace troupe::kernels::cpu
