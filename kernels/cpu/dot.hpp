#pragma once
// The one dot-product algorithm every reduction over a feature dimension uses (gemm, attention
// scores). Batch invariance rests on it: an output element's bits depend only on its two input
// vectors, never on the tile, batch size, thread or code path that computes it.
//
//   lane l (0..7) accumulates x[k] * w[k] for k = l, l + 8, l + 16, ... in ascending k, each step
//   one fused multiply-add; the last partial group of 8 is zero-padded (x = w = 0);
//   result = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
//
// With AVX2/FMA the lanes are a __m256 register; without, a scalar loop using std::fma computes
// the same bits.
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#define TROUPE_KERNELS_AVX2 1
#include <immintrin.h>
#endif

namespace troupe::kernels::cpu {

// x: [n], w: [n] -> sum_k x[k] * w[k] in the order above. requires: n >= 0.
float dot(const float* x, const float* w, int64_t n);

// The portable scalar form of dot(); bitwise equal to it (tests check this).
float dot_scalar(const float* x, const float* w, int64_t n);

// Eight dots of one x at once: out[j] = dot(x, w[j], n) for j in [0, 8), bitwise (the lanes of the
// eight run side by side, and one transposed reduction adds each the way reduce_lanes does). Eight
// independent FMA chains instead of one: attention's scores use it.
void dot8(const float* x, const float* const w[8], int64_t n, float out[8]);

namespace detail {

inline float reduce_lanes(const float lane[8]) {
  float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5];
  float s2 = lane[2] + lane[6], s3 = lane[3] + lane[7];
  return (s0 + s2) + (s1 + s3);
}

#ifdef TROUPE_KERNELS_AVX2
inline float reduce_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l_i + l_i+4
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));  // (s0 + s2), (s1 + s3)
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Lane mask selecting the first `n` (0..8) lanes, for zero-padded loads of a tail.
inline __m256i tail_mask(int64_t n) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - n));
}
#endif

}  // namespace detail
}  // namespace troupe::kernels::cpu
