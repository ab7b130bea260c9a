#pragma once
// exp for the kernels' hot loops (attention's softmax weights, SiLU): a range reduction and a
// polynomial, in SIMD registers, with a portable scalar twin that gives the same bits (the same
// operations in the same order, each rounded the same way), so results never depend on the code
// path or on how many values are computed together.
//
//   x <= -87          0          (e^-87 = 1.6e-38: no subnormal results)
//   otherwise, with x = min(x, 88) (e^88 = 1.65e38 stands for infinity; NaN becomes 88):
//     n = nearbyint(x * log2(e))                       (round half to even)
//     r = fma(n, -ln2_hi, x); r = fma(n, -ln2_lo, r)   (ln2 = ln2_hi + ln2_lo, ln2_hi exact in
//                                                       9 bits, so n * ln2_hi is exact)
//     p = 1 + r + r^2/2! + ... + r^7/7!                (Horner, one fma per step, from r^7 down)
//     result = p * 2^n                                 (exact: 2^n is a normal float)
//
// |r| <= ln2 / 2, where the truncated series is off by under 5e-9 relative; with the roundings
// the result is within 3e-7 relative of e^x (tests/kernels/exp_test checks against double).
#include <bit>
#include <cmath>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace troupe::kernels::cpu {

namespace exp_detail {
inline constexpr float lowest = -87.0f;
inline constexpr float highest = 88.0f;
inline constexpr float log2e = 1.44269504088896341f;
inline constexpr float ln2_hi = 0.693359375f;
inline constexpr float ln2_lo = -2.12194440e-4f;
// 1/k! for k = 7 down to 2.
inline constexpr float c[6] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f};
}  // namespace exp_detail

// The scalar form.
inline float exp_value(float v) {
  using namespace exp_detail;
  if (v <= lowest) return 0.0f;
  const float x = v < highest ? v : highest;
  const float n = std::nearbyint(x * log2e);
  float r = std::fma(n, -ln2_hi, x);
  r = std::fma(n, -ln2_lo, r);
  float p = c[0];
  for (int k = 1; k < 6; ++k)
    p = std::fma(p, r, c[k]);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

#ifdef __AVX512F__
// GCC 12's AVX-512 intrinsics pass an undefined vector as their (unused) merge source, which
// -Wmaybe-uninitialized reports wherever they are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// exp_value of 16 lanes.
inline __m512 exp_values(__m512 v) {
  using namespace exp_detail;
  const __mmask16 keep = _mm512_cmp_ps_mask(v, _mm512_set1_ps(lowest), _CMP_NLE_UQ);
  const __m512 x = _mm512_min_ps(v, _mm512_set1_ps(highest));  // x < 88 ? x : 88
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(log2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-ln2_hi), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(-ln2_lo), r);
  __m512 p = _mm512_set1_ps(c[0]);
  for (int k = 1; k < 6; ++k)
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c[k]));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __m512i bits =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(bits));
}
#pragma GCC diagnostic pop
#endif

#if defined(__AVX2__) && defined(__FMA__)
// exp_value of 8 lanes.
inline __m256 exp_values(__m256 v) {
  using namespace exp_detail;
  const __m256 keep = _mm256_cmp_ps(v, _mm256_set1_ps(lowest), _CMP_NLE_UQ);
  const __m256 x = _mm256_min_ps(v, _mm256_set1_ps(highest));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(log2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-ln2_hi), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(-ln2_lo), r);
  __m256 p = _mm256_set1_ps(c[0]);
  for (int k = 1; k < 6; ++k)
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c[k]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}
#endif

// out[i] = exp_value(x[i]) for i < n, in SIMD registers where the build has them (same bits).
// out may alias x.
void exp_values(const float* x, int64_t n, float* out);

// out[i] = exp_value(x[i] - shift) for i < n, the difference rounded to f32 first (a softmax's
// weights after its maximum), the same way. out may alias x.
void exp_values_shifted(const float* x, int64_t n, float shift, float* out);

}  // namespace troupe::kernels::cpu
