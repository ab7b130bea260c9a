// The K-quants (q4_k, q5_k, q6_k) packed into 16-row tiles once, and their AVX-512 VNNI kernel
// (with an AVX2 twin):
// x rows quantized to q8_K against one tile, integer sub-block sums by VPDPBUSD, each weighted by
// its integer scale (VPMULLD) into the exact isum of quant_gemm.hpp, q4_k/q5_k's msum by
// VPMADDWD over (min, bsum) pairs, then the super-block's f32 update in quant_gemm.hpp's order.
// The integers are exact in any order, so every output has the scalar reference's bits. Layouts:
// quant_blocks.hpp.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cassert>
#include <cstring>

#include "kernels/cpu/quant_blocks.hpp"

// GCC 12's AVX-512 intrinsics pass an undefined vector as their unused merge source, which
// -W(maybe-)uninitialized reports inside target("avx512f") functions.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu::quant {

namespace {

// Byte offsets inside one packed super-block of a K tile.
struct k_tile_layout {
  int64_t qh, sc, mn, d, dmin;
};

constexpr k_tile_layout k_layout(block_format f) {
  if (f == block_format::q6_k) return {2048, 3072, -1, 3328, -1};
  const int64_t sc = f == block_format::q5_k ? 2560 : 2048;
  return {f == block_format::q5_k ? 2048 : -1, sc, sc + 128, sc + 384, sc + 416};
}

// Stored (ggml) offsets of a q4_k / q5_k super-block.
constexpr int64_t stored_scales = 4;
int64_t stored_qs(block_format f) {
  return f == block_format::q5_k ? 48 : 16;
}
constexpr int64_t stored_q5_qh = 16;
// ... and of a q6_k one.
constexpr int64_t q6_ql = 0, q6_qh = 128, q6_scales = 192, q6_d = 208;

void put_line(uint8_t* block, int64_t line, int r, const uint8_t* src) {
  std::memcpy(block + 64 * line + 4 * r, src, 4);
}
void get_line(const uint8_t* block, int64_t line, int r, uint8_t* dst) {
  std::memcpy(dst, block + 64 * line + 4 * r, 4);
}

}  // namespace

int64_t k_tile_block_bytes(block_format f) {
  return f == block_format::q4_k ? 2496 : f == block_format::q5_k ? 3008 : 3360;
}

void pack_k_tile(block_format f, const uint8_t* w, int64_t K, int nr, uint8_t* out) {
  assert(is_k_quant(f) && nr <= tile_rows);
  const int64_t nb = K / qk_k, bytes = block_bytes(f), tbb = k_tile_block_bytes(f);
  const k_tile_layout l = k_layout(f);
  for (int r = 0; r < nr; ++r) {
    const uint8_t* block = w + r * nb * bytes;
    for (int64_t b = 0; b < nb; ++b, block += bytes) {
      uint8_t* dst = out + b * tbb;
      if (f == block_format::q6_k) {
        for (int64_t line = 0; line < 32; ++line)  // (h, k', g): ql[64h + 32k' + 4g]
          put_line(dst, line, r, block + q6_ql + 4 * line);
        for (int64_t line = 0; line < 16; ++line)  // (h, g): qh[32h + 4g]
          put_line(dst + l.qh, line, r, block + q6_qh + 4 * line);
        for (int s = 0; s < 16; ++s)
          dst[l.sc + 16 * s + r] = block[q6_scales + s];
        std::memcpy(dst + l.d + 2 * r, block + q6_d, 2);
        continue;
      }
      for (int64_t line = 0; line < 32; ++line)  // (p, g): qs[32p + 4g]
        put_line(dst, line, r, block + stored_qs(f) + 4 * line);
      if (l.qh >= 0)
        for (int64_t g = 0; g < 8; ++g)
          put_line(dst + l.qh, g, r, block + stored_q5_qh + 4 * g);
      int32_t sc[8], mn[8];
      for (int j = 0; j < 8; ++j)
        scale_min_k4(j, block + stored_scales, sc[j], mn[j]);
      for (int j = 0; j < 8; ++j)
        dst[l.sc + 16 * j + r] = static_cast<uint8_t>(sc[j]);
      for (int p = 0; p < 4; ++p) {
        const uint32_t pair =
            static_cast<uint32_t>(mn[2 * p]) | static_cast<uint32_t>(mn[2 * p + 1]) << 16;
        std::memcpy(dst + l.mn + 64 * p + 4 * r, &pair, 4);
      }
      std::memcpy(dst + l.d + 2 * r, block, 2);
      std::memcpy(dst + l.dmin + 2 * r, block + 2, 2);
    }
  }
}

void unpack_k_row(block_format f, const uint8_t* tile, int64_t K, int r, uint8_t* row) {
  const int64_t nb = K / qk_k, bytes = block_bytes(f), tbb = k_tile_block_bytes(f);
  const k_tile_layout l = k_layout(f);
  uint8_t* block = row;
  for (int64_t b = 0; b < nb; ++b, block += bytes) {
    const uint8_t* src = tile + b * tbb;
    if (f == block_format::q6_k) {
      for (int64_t line = 0; line < 32; ++line)
        get_line(src, line, r, block + q6_ql + 4 * line);
      for (int64_t line = 0; line < 16; ++line)
        get_line(src + l.qh, line, r, block + q6_qh + 4 * line);
      for (int s = 0; s < 16; ++s)
        block[q6_scales + s] = src[l.sc + 16 * s + r];
      std::memcpy(block + q6_d, src + l.d + 2 * r, 2);
      continue;
    }
    for (int64_t line = 0; line < 32; ++line)
      get_line(src, line, r, block + stored_qs(f) + 4 * line);
    if (l.qh >= 0)
      for (int64_t g = 0; g < 8; ++g)
        get_line(src + l.qh, g, r, block + stored_q5_qh + 4 * g);
    // The 12 scale bytes back from the 6-bit scales and mins (scale_min_k4's packing).
    uint8_t* q = block + stored_scales;
    std::memset(q, 0, 12);
    for (int j = 0; j < 8; ++j) {
      uint32_t pair;
      std::memcpy(&pair, src + l.mn + 64 * (j / 2) + 4 * r, 4);
      const uint8_t sc = src[l.sc + 16 * j + r];
      const uint8_t mn = static_cast<uint8_t>(j % 2 ? pair >> 16 : pair & 0xffff);
      if (j < 4) {
        q[j] |= sc;
        q[j + 4] |= mn;
      } else {
        q[j + 4] |= static_cast<uint8_t>((sc & 0x0f) | (mn & 0x0f) << 4);
        q[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
        q[j] |= static_cast<uint8_t>((mn >> 4) << 6);
      }
    }
    std::memcpy(block, src + l.d + 2 * r, 2);
    std::memcpy(block + 2, src + l.dmin + 2 * r, 2);
  }
}

#if defined(__x86_64__)
namespace {

#define TROUPE_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

TROUPE_VNNI inline __m512i broadcast_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

TROUPE_VNNI inline __m512 half_to_float(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Bit `bit` (0..7) of every byte moved to bit `to` (4 or 5 ...), the other bits cleared.
TROUPE_VNNI inline __m512i bits_to(__m512i v, int bit, int to, int width) {
  const __m512i mask = _mm512_set1_epi8(static_cast<char>(((1 << width) - 1) << to));
  // Shifting whole 32-bit lanes moves bits across bytes, but only into positions the mask drops.
  const __m512i moved = bit < to ? _mm512_sllv_epi32(v, _mm512_set1_epi32(to - bit))
                                 : _mm512_srlv_epi32(v, _mm512_set1_epi32(bit - to));
  return _mm512_and_si512(moved, mask);
}

// y[m0 + i][0 .. nr) for i < MR from one tile: the rows' q8_K quants, sums and scales in xq.
template <block_format F, int MR>
TROUPE_VNNI void k_kernel(const uint8_t* tile, int64_t nb, const quantized_rows& xq, int64_t m0,
                          float* y, int64_t ldy, int nr) {
  constexpr k_tile_layout l = k_layout(F);
  constexpr bool six = F == block_format::q6_k;
  const int64_t tbb = k_tile_block_bytes(F);
  const __m512i low = _mm512_set1_epi8(0x0f);
  const int8_t* xr[MR];
  for (int i = 0; i < MR; ++i)
    xr[i] = xq.row_q(m0 + i);
  __m512 acc[MR];
  for (int i = 0; i < MR; ++i)
    acc[i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = tile + b * tbb;
    const int64_t xb = b * qk_k;
    __m512i isum[MR];
    for (int i = 0; i < MR; ++i)
      isum[i] = _mm512_setzero_si512();
    constexpr int subs = six ? 16 : 8, groups = six ? 4 : 8;  // 4-value groups per sub-block
    for (int j = 0; j < subs; ++j) {
      __m512i s[MR];
      for (int i = 0; i < MR; ++i)
        s[i] = _mm512_setzero_si512();
      for (int u = 0; u < groups; ++u) {
        __m512i q;
        int64_t xoff;
        if constexpr (six) {
          // Sub-block j: values 16j + 4u + t = 128h + 32k + 4g + t.
          const int h = j / 8, k = (j % 8) / 2, g = 4 * (j % 2) + u;
          const __m512i ql = _mm512_loadu_si512(w + 64 * (16 * h + 8 * (k % 2) + g));
          const __m512i lo =
              k < 2 ? _mm512_and_si512(ql, low) : _mm512_and_si512(_mm512_srli_epi32(ql, 4), low);
          const __m512i qh = _mm512_loadu_si512(w + l.qh + 64 * (8 * h + g));
          q = _mm512_or_si512(lo, bits_to(qh, 2 * k, 4, 2));
          xoff = 16 * j + 4 * u;
        } else {
          const __m512i raw = _mm512_loadu_si512(w + 64 * (8 * (j / 2) + u));
          q = j % 2 ? _mm512_and_si512(_mm512_srli_epi32(raw, 4), low) : _mm512_and_si512(raw, low);
          if constexpr (F == block_format::q5_k)
            q = _mm512_or_si512(q, bits_to(_mm512_loadu_si512(w + l.qh + 64 * u), j, 4, 1));
          xoff = 32 * j + 4 * u;
        }
        for (int i = 0; i < MR; ++i)
          s[i] = _mm512_dpbusd_epi32(s[i], q, broadcast_i32(xr[i] + xb + xoff));
      }
      const __m128i sc_bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + l.sc + 16 * j));
      const __m512i sc = six ? _mm512_cvtepi8_epi32(sc_bytes) : _mm512_cvtepu8_epi32(sc_bytes);
      for (int i = 0; i < MR; ++i) {
        __m512i sub = s[i];
        if constexpr (six)  // the stored quants are q + 32: sum (q - 32) x = sum q x - 32 bsum
          sub = _mm512_sub_epi32(sub, _mm512_set1_epi32(32 * xq.row_sums(m0 + i)[b * 16 + j]));
        isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(sub, sc));
      }
    }
    const __m512 dw = half_to_float(w + l.d);
    if constexpr (six) {
      for (int i = 0; i < MR; ++i) {
        const __m512 dx = _mm512_set1_ps(xq.row_d(m0 + i)[b]);
        acc[i] = _mm512_add_ps(acc[i],
                               _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(isum[i])));
      }
    } else {
      const __m512 dmin = half_to_float(w + l.dmin);
      __m512i mn[4];
      for (int p = 0; p < 4; ++p)
        mn[p] = _mm512_loadu_si512(w + l.mn + 64 * p);
      for (int i = 0; i < MR; ++i) {
        const int32_t* bs = xq.row_sums(m0 + i) + b * 16;
        __m512i msum = _mm512_setzero_si512();
        for (int p = 0; p < 4; ++p) {
          // (bsum of sub-block 2p, of 2p + 1) as int16 pairs (|bsum| <= 32 * 127).
          const int32_t b0 = bs[4 * p] + bs[4 * p + 1], b1 = bs[4 * p + 2] + bs[4 * p + 3];
          const uint32_t pair = (static_cast<uint32_t>(b0) & 0xffff) | static_cast<uint32_t>(b1)
                                                                           << 16;
          msum = _mm512_add_epi32(
              msum, _mm512_madd_epi16(mn[p], _mm512_set1_epi32(static_cast<int32_t>(pair))));
        }
        const __m512 dx = _mm512_set1_ps(xq.row_d(m0 + i)[b]);
        const __m512 t =
            _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(isum[i])),
                          _mm512_mul_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(msum)));
        acc[i] = _mm512_add_ps(acc[i], t);
      }
    }
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << nr) - 1u);
  for (int i = 0; i < MR; ++i)
    _mm512_mask_storeu_ps(y + i * ldy, mask, acc[i]);
}

template <block_format F>
void k_dispatch(const uint8_t* tile, int64_t nb, const quantized_rows& xq, int64_t m0, int mr,
                float* y, int64_t ldy, int nr) {
  using fn =
      void (*)(const uint8_t*, int64_t, const quantized_rows&, int64_t, float*, int64_t, int);
  static constexpr fn table[8] = {k_kernel<F, 1>, k_kernel<F, 2>, k_kernel<F, 3>, k_kernel<F, 4>,
                                  k_kernel<F, 5>, k_kernel<F, 6>, k_kernel<F, 7>, k_kernel<F, 8>};
  table[mr - 1](tile, nb, xq, m0, y, ldy, nr);
}

// The AVX2 twin of k_kernel: each 64-byte line as two halves of 8 rows; VPMADDUBSW (u8 x s8 into
// int16 pairs, which cannot saturate here: 2 * 63 * 127 < 32768) then VPMADDWD by ones stands
// in for VPDPBUSD, giving the same exact sums; the f32 update is the same operations per lane.
#define TROUPE_AVX2 __attribute__((target("avx2,fma,f16c")))

TROUPE_AVX2 inline __m256i line_half(const uint8_t* p, int half) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * half));
}

// Bits [bit, bit + width) of every byte moved to [to, to + width), the rest cleared (as bits_to).
TROUPE_AVX2 inline __m256i bits_to_avx2(__m256i v, int bit, int to, int width) {
  const __m256i mask = _mm256_set1_epi8(static_cast<char>(((1 << width) - 1) << to));
  const __m256i moved = bit < to ? _mm256_sllv_epi32(v, _mm256_set1_epi32(to - bit))
                                 : _mm256_srlv_epi32(v, _mm256_set1_epi32(bit - to));
  return _mm256_and_si256(moved, mask);
}

template <block_format F, int MR>
TROUPE_AVX2 void k_kernel_avx2(const uint8_t* tile, int64_t nb, const quantized_rows& xq,
                               int64_t m0, float* y, int64_t ldy, int nr) {
  constexpr k_tile_layout l = k_layout(F);
  constexpr bool six = F == block_format::q6_k;
  const int64_t tbb = k_tile_block_bytes(F);
  const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
  for (int half = 0; half < 2 && 8 * half < nr; ++half) {
    __m256 acc[MR];
    for (int i = 0; i < MR; ++i)
      acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* w = tile + b * tbb;
      const int64_t xb = b * qk_k;
      __m256i isum[MR];
      for (int i = 0; i < MR; ++i)
        isum[i] = _mm256_setzero_si256();
      constexpr int subs = six ? 16 : 8, groups = six ? 4 : 8;
      for (int j = 0; j < subs; ++j) {
        __m256i sub[MR];
        for (int i = 0; i < MR; ++i)
          sub[i] = _mm256_setzero_si256();
        for (int u = 0; u < groups; ++u) {
          __m256i q;
          int64_t xoff;
          if constexpr (six) {
            const int h = j / 8, k = (j % 8) / 2, g = 4 * (j % 2) + u;
            const __m256i ql = line_half(w + 64 * (16 * h + 8 * (k % 2) + g), half);
            const __m256i lo =
                k < 2 ? _mm256_and_si256(ql, low) : _mm256_and_si256(_mm256_srli_epi32(ql, 4), low);
            q = _mm256_or_si256(
                lo, bits_to_avx2(line_half(w + l.qh + 64 * (8 * h + g), half), 2 * k, 4, 2));
            xoff = 16 * j + 4 * u;
          } else {
            const __m256i raw = line_half(w + 64 * (8 * (j / 2) + u), half);
            q = j % 2 ? _mm256_and_si256(_mm256_srli_epi32(raw, 4), low)
                      : _mm256_and_si256(raw, low);
            if constexpr (F == block_format::q5_k)
              q = _mm256_or_si256(q, bits_to_avx2(line_half(w + l.qh + 64 * u, half), j, 4, 1));
            xoff = 32 * j + 4 * u;
          }
          for (int i = 0; i < MR; ++i) {
            int32_t xv;
            std::memcpy(&xv, xq.row_q(m0 + i) + xb + xoff, 4);
            const __m256i prod = _mm256_maddubs_epi16(q, _mm256_set1_epi32(xv));
            sub[i] = _mm256_add_epi32(sub[i], _mm256_madd_epi16(prod, ones));
          }
        }
        const __m128i sc_bytes =
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + l.sc + 16 * j + 8 * half));
        const __m256i sc = six ? _mm256_cvtepi8_epi32(sc_bytes) : _mm256_cvtepu8_epi32(sc_bytes);
        for (int i = 0; i < MR; ++i) {
          __m256i v = sub[i];
          if constexpr (six)
            v = _mm256_sub_epi32(v, _mm256_set1_epi32(32 * xq.row_sums(m0 + i)[b * 16 + j]));
          isum[i] = _mm256_add_epi32(isum[i], _mm256_mullo_epi32(v, sc));
        }
      }
      const __m256 dw =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + l.d + 16 * half)));
      if constexpr (six) {
        for (int i = 0; i < MR; ++i) {
          const __m256 dx = _mm256_set1_ps(xq.row_d(m0 + i)[b]);
          acc[i] = _mm256_add_ps(acc[i],
                                 _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum[i])));
        }
      } else {
        const __m256 dmin = _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + l.dmin + 16 * half)));
        for (int i = 0; i < MR; ++i) {
          const int32_t* bs = xq.row_sums(m0 + i) + b * 16;
          __m256i msum = _mm256_setzero_si256();
          for (int p = 0; p < 4; ++p) {
            const int32_t b0 = bs[4 * p] + bs[4 * p + 1], b1 = bs[4 * p + 2] + bs[4 * p + 3];
            const uint32_t pair = (static_cast<uint32_t>(b0) & 0xffff) | static_cast<uint32_t>(b1)
                                                                             << 16;
            msum = _mm256_add_epi32(
                msum, _mm256_madd_epi16(line_half(w + l.mn + 64 * p, half),
                                        _mm256_set1_epi32(static_cast<int32_t>(pair))));
          }
          const __m256 dx = _mm256_set1_ps(xq.row_d(m0 + i)[b]);
          const __m256 t =
              _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum[i])),
                            _mm256_mul_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(msum)));
          acc[i] = _mm256_add_ps(acc[i], t);
        }
      }
    }
    const int n = std::min(8, nr - 8 * half);  // this half's live W rows
    for (int i = 0; i < MR; ++i)
      std::memcpy(y + i * ldy + 8 * half, &acc[i], sizeof(float) * n);
  }
}

template <block_format F>
void k_dispatch_avx2(const uint8_t* tile, int64_t nb, const quantized_rows& xq, int64_t m0, int mr,
                     float* y, int64_t ldy, int nr) {
  using fn =
      void (*)(const uint8_t*, int64_t, const quantized_rows&, int64_t, float*, int64_t, int);
  static constexpr fn table[4] = {k_kernel_avx2<F, 1>, k_kernel_avx2<F, 2>, k_kernel_avx2<F, 3>,
                                  k_kernel_avx2<F, 4>};
  for (int i = 0; i < mr; i += 4)
    table[std::min(4, mr - i) - 1](tile, nb, xq, m0 + i, y + i * ldy, ldy, nr);
}

}  // namespace

void avx2_k_tile(block_format f, const uint8_t* tile, int64_t num_blocks, const quantized_rows& xq,
                 int64_t m0, int mr, float* y, int64_t ldy, int nr) {
  switch (f) {
    case block_format::q4_k:
      return k_dispatch_avx2<block_format::q4_k>(tile, num_blocks, xq, m0, mr, y, ldy, nr);
    case block_format::q5_k:
      return k_dispatch_avx2<block_format::q5_k>(tile, num_blocks, xq, m0, mr, y, ldy, nr);
    default:
      return k_dispatch_avx2<block_format::q6_k>(tile, num_blocks, xq, m0, mr, y, ldy, nr);
  }
}

void vnni_k_tile(block_format f, const uint8_t* tile, int64_t num_blocks, const quantized_rows& xq,
                 int64_t m0, int mr, float* y, int64_t ldy, int nr) {
  switch (f) {
    case block_format::q4_k:
      return k_dispatch<block_format::q4_k>(tile, num_blocks, xq, m0, mr, y, ldy, nr);
    case block_format::q5_k:
      return k_dispatch<block_format::q5_k>(tile, num_blocks, xq, m0, mr, y, ldy, nr);
    default:
      return k_dispatch<block_format::q6_k>(tile, num_blocks, xq, m0, mr, y, ldy, nr);
  }
}

#else

void avx2_k_tile(block_format, const uint8_t*, int64_t, const quantized_rows&, int64_t, int, float*,
                 int64_t, int) {}
void vnni_k_tile(block_format, const uint8_t*, int64_t, const quantized_rows&, int64_t, int, float*,
                 int64_t, int) {}

#endif

}  // namespace troupe::kernels::cpu::quant
