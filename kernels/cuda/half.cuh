#pragma once
// f32 <-> 16-bit float words on the device, with the bits of kernels/cpu/half.hpp's host
// conversions: the intrinsics round every non-NaN value to nearest even (subnormals and overflow
// to inf included); a NaN gets half.hpp's pattern (bf16 keeps the sign and top payload bits and is
// made quiet, f16 is sign | 0x7e00); widening is exact. Internal to kernels/cuda (included by .cu
// files only).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace troupe::kernels::cuda::detail {

__device__ __forceinline__ uint16_t to_bf16_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

__device__ __forceinline__ uint16_t to_f16_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>(((x >> 16) & 0x8000u) | 0x7e00u);
  return __half_as_ushort(__float2half_rn(f));
}

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) {
  return __uint_as_float(uint32_t{bits} << 16);
}

__device__ __forceinline__ float f16_bits_to_float(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

}  // namespace troupe::kernels::cuda::detail
