#pragma once
// cuda_emu: the fp8 conversions troupe uses (emu/fp8.hpp: through kernels/cpu/fp8.hpp, OCP e4m3 /
// e5m2, round to nearest even, __NV_SATFINITE saturation); src/selfcheck.cpp compares both
// directions with the real cuda_fp8.hpp's host code. Only __NV_SATFINITE is emulated: __NV_NOSAT
// stops the process.
#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "emu/fp8.hpp"

enum __nv_fp8_interpretation_t { __NV_E4M3, __NV_E5M2 };
enum __nv_saturation_t { __NV_NOSAT, __NV_SATFINITE };
using __nv_fp8_storage_t = unsigned char;

inline __nv_fp8_storage_t __nv_cvt_float_to_fp8(float x, __nv_saturation_t saturate,
                                                __nv_fp8_interpretation_t kind) {
  if (saturate != __NV_SATFINITE) emu::fail("__nv_cvt_float_to_fp8: only __NV_SATFINITE");
  return emu::fp8_from_f32_satfinite(x, kind == __NV_E4M3);
}

inline __half_raw __nv_cvt_fp8_to_halfraw(__nv_fp8_storage_t code, __nv_fp8_interpretation_t kind) {
  return {emu::fp8_to_f16_bits(code, kind == __NV_E4M3)};
}
