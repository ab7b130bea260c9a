// The AVX-512 VNNI kernel of quant_gemm_packed: a register tile of up to 4 x rows by 2 packed W
// tiles (32 rows) or of up to 8 x rows (one panel group) by 1 tile, swept once over the blocks. Per
// block the 4/5-bit quants are unpacked from 64-byte lines (nibble masks, fifth bits shifted in)
// once and reused by every x row; each (x row, W tile) pair keeps one int32 chain of VPDPBUSDs for
// the block's exact sum and one f32 accumulator updated in quant_gemm.hpp's order. Compiled for
// AVX-512 VNNI whatever the build flags; quant_gemm_packed calls it only on CPUs that have it.
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

TROUPE_VNNI inline __m512i broadcast_i32(const uint8_t* p) {
  return _mm512_set1_epi32(static_cast<int>(load_u32(p)));
}

TROUPE_VNNI inline __m512 broadcast_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_ps(v);
}

TROUPE_VNNI inline __m512 half_to_float(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The fifth bits of dword group g, at bit 4 of each byte (layout: quant_blocks.hpp).
template <int G>
TROUPE_VNNI inline __m512i fifth_bits(__m512i qh) {
  const __m512i bit4 = _mm512_set1_epi32(0x10101010);
  if constexpr (G < 4) return _mm512_and_si512(_mm512_slli_epi32(qh, 4 - G), bit4);
  if constexpr (G == 4) return _mm512_and_si512(qh, bit4);
  if constexpr (G > 4) return _mm512_and_si512(_mm512_srli_epi32(qh, G - 4), bit4);
}

// Adds dword groups G and G + 4 (4/5-bit formats) or G (q8_0) of every tile times the x rows.
template <block_format F, int MR, int NT, int G>
TROUPE_VNNI inline void groups(const uint8_t* const (&w)[NT], const uint8_t* xp,
                               __m512i (&s)[MR][NT]) {
  if constexpr (F == block_format::q8_0) {
    __m512i wv[NT];
    for (int j = 0; j < NT; ++j)
      wv[j] = _mm512_xor_si512(_mm512_loadu_si512(w[j] + 64 * G), _mm512_set1_epi8(-128));
    for (int i = 0; i < MR; ++i) {
      const __m512i xv = broadcast_i32(xp + 32 * i + 4 * G);
      for (int j = 0; j < NT; ++j)
        s[i][j] = _mm512_dpbusd_epi32(s[i][j], wv[j], xv);
    }
  } else {
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i lo[NT], hi[NT];
    for (int j = 0; j < NT; ++j) {
      const __m512i raw = _mm512_loadu_si512(w[j] + 64 * G);
      lo[j] = _mm512_and_si512(raw, low);
      hi[j] = _mm512_and_si512(_mm512_srli_epi32(raw, 4), low);
      if constexpr (F == block_format::q5_0 || F == block_format::q5_1) {
        const __m512i qh = _mm512_loadu_si512(w[j] + packed_qh_offset);
        lo[j] = _mm512_or_si512(lo[j], fifth_bits<G>(qh));
        hi[j] = _mm512_or_si512(hi[j], fifth_bits<G + 4>(qh));
      }
    }
    for (int i = 0; i < MR; ++i) {
      const __m512i xlo = broadcast_i32(xp + 32 * i + 4 * G);
      const __m512i xhi = broadcast_i32(xp + 32 * i + 16 + 4 * G);
      for (int j = 0; j < NT; ++j) {
        s[i][j] = _mm512_dpbusd_epi32(s[i][j], lo[j], xlo);
        s[i][j] = _mm512_dpbusd_epi32(s[i][j], hi[j], xhi);
      }
    }
  }
}

template <block_format F, int MR, int NT>
TROUPE_VNNI void kernel(const uint8_t* tile, int64_t tile_stride, const uint8_t* panel, int64_t nb,
                        float* y, int64_t ldy, int nr_last) {
  constexpr bool min = F == block_format::q4_1 || F == block_format::q5_1;
  constexpr int64_t wb = packed_block_bytes(F), xb = MR * panel_row_bytes;
  __m512 acc[MR][NT];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NT; ++j)
      acc[i][j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w[NT];
    for (int j = 0; j < NT; ++j)
      w[j] = tile + j * tile_stride + b * wb;
    const uint8_t* xp = panel + b * xb;
    __m512i s[MR][NT];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NT; ++j)
        // corr = -offset * sum(q) is 0 for the formats with a min (no offset).
        s[i][j] = min ? _mm512_setzero_si512() : broadcast_i32(xp + 32 * MR + 4 * i);
    groups<F, MR, NT, 0>(w, xp, s);
    groups<F, MR, NT, 1>(w, xp, s);
    groups<F, MR, NT, 2>(w, xp, s);
    groups<F, MR, NT, 3>(w, xp, s);
    if constexpr (F == block_format::q8_0) {
      groups<F, MR, NT, 4>(w, xp, s);
      groups<F, MR, NT, 5>(w, xp, s);
      groups<F, MR, NT, 6>(w, xp, s);
      groups<F, MR, NT, 7>(w, xp, s);
    }
    __m512 dw[NT], mw[NT];
    for (int j = 0; j < NT; ++j) {
      dw[j] = half_to_float(w[j] + packed_d_offset(F));
      if constexpr (min) mw[j] = half_to_float(w[j] + packed_m_offset(F));
    }
    for (int i = 0; i < MR; ++i) {
      const __m512 dx = broadcast_f32(xp + 36 * MR + 4 * i);
      for (int j = 0; j < NT; ++j) {
        acc[i][j] =
            _mm512_fmadd_ps(_mm512_mul_ps(dw[j], dx), _mm512_cvtepi32_ps(s[i][j]), acc[i][j]);
        if constexpr (min)
          acc[i][j] = _mm512_fmadd_ps(mw[j], broadcast_f32(xp + 40 * MR + 4 * i), acc[i][j]);
      }
    }
  }
  for (int j = 0; j < NT; ++j) {
    const int n = j == NT - 1 ? nr_last : tile_rows;
    const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
    for (int i = 0; i < MR; ++i)
      _mm512_mask_storeu_ps(y + i * ldy + tile_rows * j, mask, acc[i][j]);
  }
}

template <block_format F>
void dispatch(const uint8_t* tile, int64_t tile_stride, int num_tiles, const uint8_t* panel, int mr,
              int64_t nb, float* y, int64_t ldy, int nr_last) {
  using fn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, float*, int64_t, int);
  static constexpr fn pairs[4] = {kernel<F, 1, 2>, kernel<F, 2, 2>, kernel<F, 3, 2>,
                                  kernel<F, 4, 2>};
  static constexpr fn singles[8] = {kernel<F, 1, 1>, kernel<F, 2, 1>, kernel<F, 3, 1>,
                                    kernel<F, 4, 1>, kernel<F, 5, 1>, kernel<F, 6, 1>,
                                    kernel<F, 7, 1>, kernel<F, 8, 1>};
  if (num_tiles == 2 && mr <= 4)
    return pairs[mr - 1](tile, tile_stride, panel, nb, y, ldy, nr_last);
  for (int j = 0; j < num_tiles; ++j)
    singles[mr - 1](tile + j * tile_stride, tile_stride, panel, nb, y + j * tile_rows, ldy,
                    j == num_tiles - 1 ? nr_last : tile_rows);
}

}  // namespace

void vnni_packed(block_format f, const uint8_t* tile, int64_t tile_stride, int num_tiles,
                 const uint8_t* panel, int mr, int64_t num_blocks, float* y, int64_t ldy,
                 int nr_last) {
  with_32_block_format(f, [&](auto F) {
    dispatch<decltype(F)::value>(tile, tile_stride, num_tiles, panel, mr, num_blocks, y, ldy,
                                 nr_last);
  });
}

#else

void vnni_packed(block_format, const uint8_t*, int64_t, int, const uint8_t*, int, int64_t, float*,
                 int64_t, int) {}

#endif

}  // namespace troupe::kernels::cpu::quant
