// add_inplace: y [n] += x [n]; add_bias: y [rows][cols] += bias [cols]; argmax (contract:
// elementwise.hpp).
#include "kernels/cpu/elementwise.hpp"

#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_features.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace troupe::kernels::cpu {

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    add_inplace(y + r * cols, bias, cols);
}

namespace {

int64_t argmax_scan(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best] || std::isnan(x[best])) best = i;
  return best;
}

#if defined(__x86_64__)
// The scan's answer in two vector passes: the largest non-NaN value (MAXPS returns its second
// operand when the first is NaN, so NaNs never enter the running maxima, which start at -inf),
// then the first index whose value equals it (== treats -0 and +0 alike, as the scan's > does).
// No value equals it only when every value is NaN: n - 1, as the scan ends.
__attribute__((target("avx512f"))) int64_t argmax_avx512(const float* x, int64_t n) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  __m512 best = _mm512_set1_ps(neg_inf);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    best = _mm512_max_ps(_mm512_loadu_ps(x + i), best);
  float m = _mm512_reduce_max_ps(best);
  for (; i < n; ++i)
    m = x[i] > m ? x[i] : m;
  const __m512 target = _mm512_set1_ps(m);
  for (i = 0; i + 16 <= n; i += 16) {
    const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), target, _CMP_EQ_OQ);
    if (hit != 0) return i + __builtin_ctz(hit);
  }
  for (; i < n; ++i)
    if (x[i] == m) return i;
  return n - 1;
}

// The same two passes in 8 lanes.
__attribute__((target("avx2"))) int64_t argmax_avx2(const float* x, int64_t n) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  __m256 best = _mm256_set1_ps(neg_inf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    best = _mm256_max_ps(_mm256_loadu_ps(x + i), best);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, best);
  float m = neg_inf;
  for (float l : lanes)
    m = l > m ? l : m;
  for (; i < n; ++i)
    m = x[i] > m ? x[i] : m;
  const __m256 target = _mm256_set1_ps(m);
  for (i = 0; i + 8 <= n; i += 8) {
    const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), target, _CMP_EQ_OQ));
    if (hit != 0) return i + __builtin_ctz(static_cast<unsigned>(hit));
  }
  for (; i < n; ++i)
    if (x[i] == m) return i;
  return n - 1;
}
#endif

}  // namespace

int64_t argmax(const float* x, int64_t n) {
#if defined(__x86_64__)
  static const cpu_features features = detect_cpu_features();
  if (features.avx512f) return argmax_avx512(x, n);
  if (features.avx2) return argmax_avx2(x, n);
#endif
  return argmax_scan(x, n);
}

}  // namespace troupe::kernels::cpu
