// The AVX-512 VNNI kernel of quant_gemm for the 32-block formats: one packed tile (16 W rows,
// quant_blocks.hpp) times up to 4 quantized x rows per sweep over the blocks. Compiled for
// AVX-512 VNNI whatever the build flags; quant_gemm calls it only on CPUs that have it.
//
// VPDPBUSD multiplies unsigned bytes by signed bytes. The 4- and 5-bit formats store unsigned
// quants, so a block's exact int32 sum is  sum(q * x) - zero_point * sum(x); q8_0's signed
// weights are flipped to q + 128 (xor 0x80) and the sum corrected by - 128 * sum(x). Each
// 32-bit lane is one W row, so the float part (quant_gemm.hpp's order) is plain lane-wise math.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/quant_blocks.hpp"

// GCC 12's _mm512_cvtepi32_ps passes an undefined vector as its (unused) merge source, which
// -Wmaybe-uninitialized reports inside target("avx512f") functions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu::quant {

#if defined(__x86_64__)
namespace {

#define TROUPE_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

struct tile_args {
  const packed_tile* t;
  const quantized_rows* xq;
  uint8_t flip;    // xor applied to the packed quants (0x80 for q8_0)
  int32_t offset;  // subtract offset * sum(x) per block
  float* y;
  int64_t ldy;
  int nr;
};

// Exact int32 block sums of x row m against the 16 rows, for block b.
TROUPE_VNNI inline __m512i block_sums(const __m512i (&wv)[8], const int8_t* xb,
                                      int32_t correction) {
  __m512i s0 = _mm512_set1_epi32(correction), s1 = _mm512_setzero_si512();
  for (int g = 0; g < 8; g += 2) {
    s0 = _mm512_dpbusd_epi32(s0, wv[g], _mm512_set1_epi32(static_cast<int>(load_u32(xb + 4 * g))));
    s1 = _mm512_dpbusd_epi32(s1, wv[g + 1],
                             _mm512_set1_epi32(static_cast<int>(load_u32(xb + 4 * g + 4))));
  }
  return _mm512_add_epi32(s0, s1);
}

TROUPE_VNNI inline __m512 half_to_float(const uint16_t* h) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
}

template <int MR, bool Min>
TROUPE_VNNI void rows(const tile_args& a, int64_t m0) {
  const packed_tile& t = *a.t;
  const quantized_rows& xq = *a.xq;
  __m512 acc[MR];
  for (int i = 0; i < MR; ++i)
    acc[i] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(a.flip));
  for (int64_t b = 0; b < t.num_blocks; ++b) {
    const uint8_t* qb = t.q.data() + b * qk * tile_rows;
    __m512i wv[8];
    for (int g = 0; g < 8; ++g)
      wv[g] = _mm512_xor_si512(_mm512_loadu_si512(qb + 64 * g), flip);
    const __m512 dw = half_to_float(t.d.data() + b * tile_rows);
    for (int i = 0; i < MR; ++i) {
      const int64_t m = m0 + i;
      const __m512i s = block_sums(wv, xq.row_q(m) + b * qk, -a.offset * xq.row_sums(m)[b]);
      acc[i] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(xq.row_d(m)[b])),
                               _mm512_cvtepi32_ps(s), acc[i]);
      if constexpr (Min) {
        const __m512 mw = half_to_float(t.m.data() + b * tile_rows);
        acc[i] = _mm512_fmadd_ps(mw, _mm512_set1_ps(xq.row_s(m)[b]), acc[i]);
      }
    }
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << a.nr) - 1u);
  for (int i = 0; i < MR; ++i)
    _mm512_mask_storeu_ps(a.y + (m0 + i) * a.ldy, mask, acc[i]);
}

template <bool Min>
TROUPE_VNNI void all_rows(const tile_args& a, int64_t M) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4)
    rows<4, Min>(a, m);
  switch (M - m) {
    case 3:
      rows<3, Min>(a, m);
      break;
    case 2:
      rows<2, Min>(a, m);
      break;
    case 1:
      rows<1, Min>(a, m);
      break;
    default:
      break;
  }
}

}  // namespace

void vnni_tile(block_format f, const packed_tile& t, const quantized_rows& xq, int64_t M, float* y,
               int64_t ldy, int nr) {
  const bool q8 = f == block_format::q8_0;
  const tile_args a{&t,  &xq, static_cast<uint8_t>(q8 ? 0x80 : 0), q8 ? 128 : zero_point(f), y,
                    ldy, nr};
  if (has_min(f)) {
    all_rows<true>(a, M);
  } else {
    all_rows<false>(a, M);
  }
}

#else

void vnni_tile(block_format, const packed_tile&, const quantized_rows&, int64_t, float*, int64_t,
               int) {}

#endif

}  // namespace troupe::kernels::cpu::quant
