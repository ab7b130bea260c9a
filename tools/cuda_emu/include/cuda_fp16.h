#pragma once
// cuda_emu: __half as 16 bits, with the conversions troupe uses (emu/numerics.hpp: round to
// nearest even, exact widening). No arithmetic or implicit float conversions: code that needs
// them fails to compile here rather than run with different semantics.
#include <cstdint>

#include "cuda_runtime.h"
#include "emu/numerics.hpp"

struct __half_raw {
  unsigned short x;
};

struct alignas(2) __half {
  unsigned short x_;
  __half() = default;
  constexpr __half(__half_raw r) : x_(r.x) {}
  constexpr operator __half_raw() const { return {x_}; }
};

inline __half __float2half_rn(float f) {
  return __half_raw{emu::f32_to_f16_rn(f)};
}
inline float __half2float(__half h) {
  return emu::f16_to_f32(__half_raw(h).x);
}
inline unsigned short __half_as_ushort(__half h) {
  return __half_raw(h).x;
}
inline __half __ushort_as_half(unsigned short u) {
  return __half_raw{u};
}
