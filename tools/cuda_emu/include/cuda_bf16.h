#pragma once
// cuda_emu: __nv_bfloat16 as 16 bits, with the conversions troupe uses (emu/numerics.hpp).
#include <cstdint>

#include "cuda_fp16.h"
#include "emu/numerics.hpp"

struct __nv_bfloat16_raw {
  unsigned short x;
};

struct alignas(2) __nv_bfloat16 {
  unsigned short x_;
  __nv_bfloat16() = default;
  constexpr __nv_bfloat16(__nv_bfloat16_raw r) : x_(r.x) {}
  constexpr operator __nv_bfloat16_raw() const { return {x_}; }
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  return __nv_bfloat16_raw{emu::f32_to_bf16_rn(f)};
}
inline float __bfloat162float(__nv_bfloat16 h) {
  return emu::bf16_to_f32(__nv_bfloat16_raw(h).x);
}
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) {
  return __nv_bfloat16_raw(h).x;
}
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) {
  return __nv_bfloat16_raw{u};
}
