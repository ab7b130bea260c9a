// The AVX2 kernel of quant_gemm for the 32-block formats: each packed tile (quant_blocks.hpp) is
// swept as two halves of 8 W rows, up to 4 quantized x rows at a time. Compiled for AVX2 whatever
// the build flags (with F16C, which every AVX2 CPU has); quant_gemm calls it only on CPUs that have
// it.
//
// VPMADDUBSW multiplies unsigned by signed bytes into saturating int16 pairs. The 4- and 5-bit
// quants are unsigned (pairs stay below 2 * 31 * 127), corrected by - zero_point * sum(x); q8_0
// uses |w| * sign(x, w) (pairs at most 2 * 128 * 127 < 32768). So every block sum is exact.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {

#if defined(__x86_64__)
namespace {

#define TROUPE_AVX2 __attribute__((target("avx2,fma,f16c")))

struct tile_args {
  const packed_tile* t;
  const quantized_rows* xq;
  int32_t offset;  // subtract offset * sum(x) per block
  float* y;
  int64_t ldy;
  int nr;
};

// Exact int32 block sums of one x block against 8 rows (dword groups 64 bytes apart).
template <bool Signed>
TROUPE_AVX2 inline __m256i block_sums(const uint8_t* qb, const int8_t* xb, int32_t correction) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s = _mm256_set1_epi32(correction);
  for (int g = 0; g < 8; ++g) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb + 64 * g));
    const __m256i x = _mm256_set1_epi32(static_cast<int>(load_u32(xb + 4 * g)));
    __m256i p;
    if constexpr (Signed) {
      p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    } else {
      p = _mm256_maddubs_epi16(w, x);
    }
    s = _mm256_add_epi32(s, _mm256_madd_epi16(p, ones));
  }
  return s;
}

TROUPE_AVX2 inline __m256 half_to_float(const uint16_t* h) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

template <int MR, bool Min, bool Signed>
TROUPE_AVX2 void rows(const tile_args& a, int64_t m0, int half) {
  const packed_tile& t = *a.t;
  const quantized_rows& xq = *a.xq;
  __m256 acc[MR];
  for (int i = 0; i < MR; ++i)
    acc[i] = _mm256_setzero_ps();
  for (int64_t b = 0; b < t.num_blocks; ++b) {
    const uint8_t* qb = t.q.data() + b * qk * tile_rows + 32 * half;
    const __m256 dw = half_to_float(t.d.data() + b * tile_rows + 8 * half);
    for (int i = 0; i < MR; ++i) {
      const int64_t m = m0 + i;
      const __m256i s = block_sums<Signed>(qb, xq.row_q(m) + b * qk, -a.offset * xq.row_sums(m)[b]);
      acc[i] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xq.row_d(m)[b])),
                               _mm256_cvtepi32_ps(s), acc[i]);
      if constexpr (Min) {
        const __m256 mw = half_to_float(t.m.data() + b * tile_rows + 8 * half);
        acc[i] = _mm256_fmadd_ps(mw, _mm256_set1_ps(xq.row_s(m)[b]), acc[i]);
      }
    }
  }
  const int n = a.nr - 8 * half;
  for (int i = 0; i < MR; ++i) {
    alignas(32) float out[8];
    _mm256_store_ps(out, acc[i]);
    float* dst = a.y + (m0 + i) * a.ldy + 8 * half;
    for (int r = 0; r < n && r < 8; ++r)
      dst[r] = out[r];
  }
}

template <bool Min, bool Signed>
TROUPE_AVX2 void all_rows(const tile_args& a, int64_t M) {
  for (int half = 0; half < 2 && 8 * half < a.nr; ++half) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4)
      rows<4, Min, Signed>(a, m, half);
    switch (M - m) {
      case 3:
        rows<3, Min, Signed>(a, m, half);
        break;
      case 2:
        rows<2, Min, Signed>(a, m, half);
        break;
      case 1:
        rows<1, Min, Signed>(a, m, half);
        break;
      default:
        break;
    }
  }
}

}  // namespace

void avx2_tile(block_format f, const packed_tile& t, const quantized_rows& xq, int64_t M, float* y,
               int64_t ldy, int nr) {
  const tile_args a{&t, &xq, zero_point(f), y, ldy, nr};
  if (f == block_format::q8_0) {
    all_rows<false, true>(a, M);
  } else if (has_min(f)) {
    all_rows<true, false>(a, M);
  } else {
    all_rows<false, false>(a, M);
  }
}

#else

void avx2_tile(block_format, const packed_tile&, const quantized_rows&, int64_t, float*, int64_t,
               int) {}

#endif

}  // namespace troupe::kernels::cpu::quant
