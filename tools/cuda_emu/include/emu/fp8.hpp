#pragma once
// The fp8 conversions of the fake cuda_fp8.h, as plain functions (no CUDA type) so that the
// self-check can compare them with the real header: encoding through kernels/cpu/fp8.hpp (OCP,
// round to nearest even, saturating to the largest finite value) but for NaN, which CUDA encodes
// as the canonical 0x7f whatever its sign (kernels/cpu keeps the sign: 0xff for a negative NaN);
// decoding to half bits exactly.
#include <cstdint>

#include "kernels/cpu/fp8.hpp"
#include "numerics.hpp"

namespace emu {

inline uint8_t fp8_from_f32_satfinite(float x, bool e4m3) {
  using troupe::kernels::cpu::fp8_format;
  if (x != x) return 0x7f;
  return troupe::kernels::cpu::float_to_fp8(x, e4m3 ? fp8_format::e4m3 : fp8_format::e5m2);
}

// e5m2 is the top byte of a half; an e4m3 value widens exactly; NaN (either format) becomes the
// canonical 0x7fff.
inline uint16_t fp8_to_f16_bits(uint8_t code, bool e4m3) {
  using troupe::kernels::cpu::fp8_format;
  if (!e4m3) return (code & 0x7f) > 0x7c ? 0x7fff : static_cast<uint16_t>(code << 8);
  return f32_to_f16_rn(troupe::kernels::cpu::fp8_to_float(code, fp8_format::e4m3));
}

}  // namespace emu
