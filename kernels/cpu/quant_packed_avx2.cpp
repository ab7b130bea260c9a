// The AVX2 kernel of quant_gemm_packed for the 32-block formats (q8_0, q4_0, q4_1, q5_0, q5_1),
// on the same packed tiles and x panels as the VNNI kernel (quant_blocks.hpp): each 64-byte line
// as two halves of 8 W rows. VPMADDUBSW multiplies unsigned bytes by int8 x into int16 pairs: the
// 4/5-bit quants (<= 31) as stored, which cannot saturate (2 * 31 * 127 < 32768); q8_0's signed
// quants as |w| times x carrying w's sign (VPSIGNB; 2 * 128 * 127 < 32768 as well). VPMADDWD by
// ones then gives the block's exact int32 sums (q8_0 without the panel's corr, which only undoes
// the VNNI kernel's +128), and the f32 update is quant_gemm.hpp's, the same operations per lane.
// Compiled for AVX2 whatever the build flags; called only on CPUs that have it.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {

#if defined(__x86_64__)
namespace {

#define TROUPE_AVX2 __attribute__((target("avx2,fma,f16c")))

TROUPE_AVX2 inline __m256i half_line(const uint8_t* p, int half) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * half));
}

TROUPE_AVX2 inline __m256i broadcast_i32(const uint8_t* p) {
  return _mm256_set1_epi32(static_cast<int>(load_u32(p)));
}

TROUPE_AVX2 inline __m256 broadcast_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_ps(v);
}

// The fifth bits of dword group g at bit 4 of each byte (the VNNI kernel's fifth_bits).
TROUPE_AVX2 inline __m256i fifth_bits(__m256i qh, int g) {
  const __m256i bit4 = _mm256_set1_epi32(0x10101010);
  const __m256i moved = g < 4 ? _mm256_sllv_epi32(qh, _mm256_set1_epi32(4 - g))
                              : _mm256_srlv_epi32(qh, _mm256_set1_epi32(g - 4));
  return _mm256_and_si256(moved, bit4);
}

// How far ahead of the block it reads the one-row kernel asks for W's lines (decoding streams W
// from DRAM once; past a tile's end this is the next tile's, which the same thread reads next).
constexpr int64_t prefetch_distance = 1024;

// The exact int32 sums of one block's group g (4 bytes of every row) times x row xr, for NH
// halves (8 W rows each) from `first_half`: q8_0 only (see the top of the file).
template <int NH>
TROUPE_AVX2 inline void q8_group(const uint8_t* w, int g, int first_half, const uint8_t* xr,
                                 __m256i (&s)[NH]) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i xv = broadcast_i32(xr + 4 * g);
  for (int h = 0; h < NH; ++h) {
    const __m256i raw = half_line(w + 64 * g, first_half + h);
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(raw), _mm256_sign_epi8(xv, raw));
    s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(p, ones));
  }
}

// Rows i0 .. i0 + MR - 1 of a panel group of `mr` rows against one tile, NH halves of 8 W rows
// a pass (both at once for one x row: each block's line is then read once).
// The 4-bit formats add a block's eight VPMADDUBSW products in int16 before one VPMADDWD (each
// product at most 2 * 15 * 127 in magnitude, eight of them 30480 < 32768); the 5-bit ones add a
// group's two (2 * 2 * 31 * 127 = 15748). Integer sums, so the same int32 as one at a time.
template <block_format F, int MR, int NH>
TROUPE_AVX2 void kernel(const uint8_t* tile, const uint8_t* panel, int mr, int i0, int64_t nb,
                        float* y, int64_t ldy, int nr) {
  constexpr bool min = F == block_format::q4_1 || F == block_format::q5_1;
  constexpr bool five = F == block_format::q5_0 || F == block_format::q5_1;
  constexpr bool q8 = F == block_format::q8_0;
  const int64_t wb = packed_block_bytes(F), xb = mr * panel_row_bytes;
  const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
  for (int half = 0; half < 2 && 8 * half < nr; half += NH) {
    __m256 acc[MR][NH];
    for (int i = 0; i < MR; ++i)
      for (int h = 0; h < NH; ++h)
        acc[i][h] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w = tile + b * wb;
      const uint8_t* xp = panel + b * xb;
      if (NH == 2)
        for (int64_t line = 0; line < wb; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(w + prefetch_distance + line), _MM_HINT_T0);
      // Row i's block sums start at the panel's corr (-offset * sum(x), 0 with a min or q8_0);
      // the 4-bit formats add it last, so that only their int16 sums stay live in the block.
      auto corr = [&](int i) {
        return min || q8 ? _mm256_setzero_si256() : broadcast_i32(xp + 32 * mr + 4 * (i0 + i));
      };
      __m256i s[MR][NH];
      if constexpr (q8 || five)
        for (int i = 0; i < MR; ++i)
          for (int h = 0; h < NH; ++h)
            s[i][h] = corr(i);
      if constexpr (q8) {
        for (int g = 0; g < 8; ++g)
          for (int i = 0; i < MR; ++i)
            q8_group<NH>(w, g, half, xp + 32 * (i0 + i), s[i]);
      } else {
        __m256i p16[MR][NH];
        for (int i = 0; i < MR; ++i)
          for (int h = 0; h < NH; ++h)
            p16[i][h] = _mm256_setzero_si256();
        for (int g = 0; g < 4; ++g) {
          for (int h = 0; h < NH; ++h) {
            const __m256i raw = half_line(w + 64 * g, half + h);
            __m256i lo = _mm256_and_si256(raw, low);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi32(raw, 4), low);
            if constexpr (five) {
              const __m256i qh = half_line(w + packed_qh_offset, half + h);
              lo = _mm256_or_si256(lo, fifth_bits(qh, g));
              hi = _mm256_or_si256(hi, fifth_bits(qh, g + 4));
            }
            for (int i = 0; i < MR; ++i) {
              const uint8_t* xr = xp + 32 * (i0 + i);
              const __m256i pair =
                  _mm256_add_epi16(_mm256_maddubs_epi16(lo, broadcast_i32(xr + 4 * g)),
                                   _mm256_maddubs_epi16(hi, broadcast_i32(xr + 16 + 4 * g)));
              if constexpr (five) {
                s[i][h] = _mm256_add_epi32(s[i][h], _mm256_madd_epi16(pair, ones));
              } else {
                p16[i][h] = _mm256_add_epi16(p16[i][h], pair);
              }
            }
          }
        }
        if constexpr (!five)
          for (int i = 0; i < MR; ++i)
            for (int h = 0; h < NH; ++h)
              s[i][h] = _mm256_add_epi32(corr(i), _mm256_madd_epi16(p16[i][h], ones));
      }
      for (int h = 0; h < NH; ++h) {
        const int at = 16 * (half + h);
        const __m256 dw = _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + packed_d_offset(F) + at)));
        const __m256 mw = min ? _mm256_cvtph_ps(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i*>(w + packed_m_offset(F) + at)))
                              : _mm256_setzero_ps();
        for (int i = 0; i < MR; ++i) {
          const __m256 dx = broadcast_f32(xp + 36 * mr + 4 * (i0 + i));
          acc[i][h] =
              _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(s[i][h]), acc[i][h]);
          if constexpr (min)
            acc[i][h] = _mm256_fmadd_ps(mw, broadcast_f32(xp + 40 * mr + 4 * (i0 + i)), acc[i][h]);
        }
      }
    }
    for (int h = 0; h < NH; ++h) {
      const int n = std::min(8, nr - 8 * (half + h));  // this half's live W rows
      for (int i = 0; i < MR && n > 0; ++i)
        std::memcpy(y + i * ldy + 8 * (half + h), &acc[i][h], sizeof(float) * n);
    }
  }
}

template <block_format F>
void dispatch(const uint8_t* tile, const uint8_t* panel, int mr, int64_t nb, float* y, int64_t ldy,
              int nr) {
  using fn = void (*)(const uint8_t*, const uint8_t*, int, int, int64_t, float*, int64_t, int);
  static constexpr fn table[4] = {kernel<F, 1, 2>, kernel<F, 2, 1>, kernel<F, 3, 1>,
                                  kernel<F, 4, 1>};
  for (int i0 = 0; i0 < mr; i0 += 4)
    table[std::min(4, mr - i0) - 1](tile, panel, mr, i0, nb, y + i0 * ldy, ldy, nr);
}

}  // namespace

void avx2_packed(block_format f, const uint8_t* tile, const uint8_t* panel, int mr,
                 int64_t num_blocks, float* y, int64_t ldy, int nr) {
  switch (f) {
    case block_format::q8_0:
      return dispatch<block_format::q8_0>(tile, panel, mr, num_blocks, y, ldy, nr);
    case block_format::q4_0:
      return dispatch<block_format::q4_0>(tile, panel, mr, num_blocks, y, ldy, nr);
    case block_format::q4_1:
      return dispatch<block_format::q4_1>(tile, panel, mr, num_blocks, y, ldy, nr);
    case block_format::q5_0:
      return dispatch<block_format::q5_0>(tile, panel, mr, num_blocks, y, ldy, nr);
    default:
      return dispatch<block_format::q5_1>(tile, panel, mr, num_blocks, y, ldy, nr);
  }
}

#else

void avx2_packed(block_format, const uint8_t*, const uint8_t*, int, int64_t, float*, int64_t, int) {
}

#endif

}  // namespace troupe::kernels::cpu::quant
