// round_to_half, widen_half and round_through_bf16: x [n] f32 <-> h [n] bf16 / f16 bits
// (contract: half.hpp).
#include "kernels/cpu/half.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace troupe::kernels::cpu {

void round_to_half(const float* x, int64_t n, half_format format, uint16_t* out) {
  if (format == half_format::bf16) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = f32_to_bf16(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i)
      out[i] = f32_to_f16(x[i]);
  }
}

void round_through_bf16(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = bf16_to_f32(f32_to_bf16(x[i]));
}

void widen_half(const uint16_t* h, int64_t n, half_format format, float* out) {
  if (format == half_format::bf16) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = bf16_to_f32(h[i]);
    return;
  }
  int64_t i = 0;
#if defined(__F16C__)
  // VCVTPH2PS is exact for every f16 (subnormals included; a NaN stays NaN).
  for (; i + 8 <= n; i += 8) {
    const __m128i words = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(words));
  }
#endif
  for (; i < n; ++i)
    out[i] = f16_to_f32(h[i]);
}

}  // namespace troupe::kernels::cpu
