// exp_values: exp_value over an array, 16 or 8 lanes at a time (contract: exp.hpp).
#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {

namespace {

// out[i] = exp_value(x[i] - shift) (Shifted) or exp_value(x[i]). With AVX-512 a tail runs in
// masked lanes (each lane's operations are the scalar ones).
template <bool Shifted>
void exp_array(const float* x, int64_t n, float shift, float* out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 s = _mm512_set1_ps(shift);
  auto arg = [&](__m512 v) { return Shifted ? _mm512_sub_ps(v, s) : v; };
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, exp_values(arg(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(out + i, m, exp_values(arg(_mm512_maskz_loadu_ps(m, x + i))));
  }
  return;
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 s = _mm256_set1_ps(shift);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(out + i, exp_values(Shifted ? _mm256_sub_ps(v, s) : v));
  }
#endif
  for (; i < n; ++i)
    out[i] = exp_value(Shifted ? x[i] - shift : x[i]);
}

}  // namespace

void exp_values(const float* x, int64_t n, float* out) {
  exp_array<false>(x, n, 0.0f, out);
}

void exp_values_shifted(const float* x, int64_t n, float shift, float* out) {
  exp_array<true>(x, n, shift, out);
}

}  // namespace troupe::kernels::cpu
