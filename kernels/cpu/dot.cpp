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

}  // namespace troupe::kernels::cpu
