// exp_values: exp_value over an array, 16 or 8 lanes at a time (contract: exp.hpp).
#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {

void exp_values(const float* x, int64_t n, float* out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, exp_values(_mm512_loadu_ps(x + i)));
#elif defined(__AVX2__) && defined(__FMA__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, exp_values(_mm256_loadu_ps(x + i)));
#endif
  for (; i < n; ++i)
    out[i] = exp_value(x[i]);
}

}  // namespace troupe::kernels::cpu
