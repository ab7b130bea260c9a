// rmsnorm: x [rows][dim], weight [dim] -> y [rows][dim] (contract: rmsnorm.hpp).
#include "kernels/cpu/rmsnorm.hpp"

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// GCC 12's _mm512_cvtps_pd passes an undefined vector as its unused merge source, which
// -Wmaybe-uninitialized reports.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu {

double sum_of_squares_scalar(const float* x, int64_t dim) {
  double lane[8] = {};
  for (int64_t k0 = 0; k0 < dim; k0 += 8)
    for (int l = 0; l < 8 && k0 + l < dim; ++l)
      lane[l] += static_cast<double>(x[k0 + l] * x[k0 + l]);
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

double sum_of_squares(const float* x, int64_t dim) {
#if defined(__AVX512F__)
  // The eight lanes in one register; a tail adds zeros, which leaves a lane's sum as it is (the
  // sums are never -0: squares are >= +0).
  __m512d acc = _mm512_setzero_pd();
  int64_t k = 0;
  for (; k + 8 <= dim; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_mul_ps(v, v)));
  }
  if (k < dim) {
    const __mmask8 m = static_cast<__mmask8>((1u << (dim - k)) - 1u);
    const __m256 v = _mm256_maskz_loadu_ps(m, x + k);
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_mul_ps(v, v)));
  }
  alignas(64) double lane[8];
  _mm512_store_pd(lane, acc);
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
#else
  return sum_of_squares_scalar(x, dim);
#endif
}

void rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
             float* y) {
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    const float mean = static_cast<float>(sum_of_squares(xr, dim) / static_cast<double>(dim));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < dim; ++i)
      yr[i] = (xr[i] * scale) * weight[i];
  }
}

}  // namespace troupe::kernels::cpu
