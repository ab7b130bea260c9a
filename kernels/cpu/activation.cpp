// silu_mul: gate [n], up [n] -> out [n] = silu(gate) * up (contract: activation.hpp).
#include "kernels/cpu/activation.hpp"

#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 one = _mm512_set1_ps(1.0f), sign = _mm512_set1_ps(-0.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = exp_values(_mm512_xor_ps(g, sign));  // e^-g
    _mm512_storeu_ps(
        out + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
  }
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_values(_mm256_xor_ps(g, sign));
    _mm256_storeu_ps(
        out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
#endif
  // The same operations, one value at a time: the same bits.
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = (g / (1.0f + exp_value(-g))) * up[i];
  }
}

}  // namespace troupe::kernels::cpu
