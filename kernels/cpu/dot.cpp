// dot: x [n], w [n] -> scalar, in the one fixed order described in dot.hpp.
#include "kernels/cpu/dot.hpp"

#include <cmath>

namespace troupe::kernels::cpu {

float dot_scalar(const float* x, const float* w, int64_t n) {
  float lane[8] = {};
  for (int64_t k0 = 0; k0 < n; k0 += 8) {
    for (int l = 0; l < 8; ++l) {
      int64_t k = k0 + l;
      // Padding lanes still add fma(0, 0, acc) = acc + 0, exactly as the masked SIMD tail does
      // (this matters only for the sign of a zero).
      float xv = k < n ? x[k] : 0.0f, wv = k < n ? w[k] : 0.0f;
      lane[l] = std::fma(xv, wv, lane[l]);
    }
  }
  return detail::reduce_lanes(lane);
}

float dot(const float* x, const float* w, int64_t n) {
#ifdef TROUPE_KERNELS_AVX2
  __m256 acc = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), acc);
  if (k < n) {
    __m256i mask = detail::tail_mask(n - k);
    acc = _mm256_fmadd_ps(_mm256_maskload_ps(x + k, mask), _mm256_maskload_ps(w + k, mask), acc);
  }
  return detail::reduce_lanes(acc);
#else
  return dot_scalar(x, w, n);
#endif
}

#ifdef TROUPE_KERNELS_AVX2
namespace {

// r[j] = reduce_lanes(a[j]) for eight vectors, as one vector (r[j] in lane j). With a[j]'s lanes
// l0..l7, reduce_lanes is ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)); every step below
// adds the same two partial sums (in either operand order, which is exact).
__m256 reduce_lanes8(const __m256 a[8]) {
  // t[j] = [u(j), u(j + 4)] with u = (l0 + l4, l1 + l5, l2 + l6, l3 + l7).
  __m256 t[4];
  for (int j = 0; j < 4; ++j)
    t[j] = _mm256_add_ps(_mm256_permute2f128_ps(a[j], a[j + 4], 0x20),
                         _mm256_permute2f128_ps(a[j], a[j + 4], 0x31));
  // p01 = [w0, w1, x0, x1 | w4, w5, x4, x5] with w = u0 + u2 = s0 + s2, x = u1 + u3 = s1 + s3.
  const __m256 p01 = _mm256_add_ps(_mm256_unpacklo_ps(t[0], t[1]), _mm256_unpackhi_ps(t[0], t[1]));
  const __m256 p23 = _mm256_add_ps(_mm256_unpacklo_ps(t[2], t[3]), _mm256_unpackhi_ps(t[2], t[3]));
  return _mm256_add_ps(_mm256_shuffle_ps(p01, p23, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(p01, p23, _MM_SHUFFLE(3, 2, 3, 2)));
}

}  // namespace
#endif

void dot8(const float* x, const float* const w[8], int64_t n, float out[8]) {
#ifdef TROUPE_KERNELS_AVX2
  __m256 acc[8];
  for (auto& a : acc)
    a = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w[j] + k), acc[j]);
  }
  if (k < n) {
    const __m256i mask = detail::tail_mask(n - k);
    const __m256 xv = _mm256_maskload_ps(x + k, mask);
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_fmadd_ps(xv, _mm256_maskload_ps(w[j] + k, mask), acc[j]);
  }
  _mm256_storeu_ps(out, reduce_lanes8(acc));
#else
  for (int j = 0; j < 8; ++j)
    out[j] = dot_scalar(x, w[j], n);
#endif
}

}  // namespace troupe::kernels::cpu
