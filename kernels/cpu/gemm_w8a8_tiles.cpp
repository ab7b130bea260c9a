// gemm_w8a8's register tiles, one per path (contract: gemm_w8a8_tiles.hpp). Integer sums are
// exact, so the paths may order their additions however suits the instruction set.
#include "kernels/cpu/gemm_w8a8_tiles.hpp"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
// GCC 12 reports _mm512_reduce_add_epi32's _mm256_undefined_si256() as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define TROUPE_W8A8_X86 1
#endif

namespace troupe::kernels::cpu::w8a8_detail {
namespace {

template <int MR, int NR>
void scalar(const int8_t* q, int64_t ldq, int64_t K, const int8_t* w, const int32_t*,
            int32_t acc[4][4]) {
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += int32_t{q[i * ldq + k]} * w[j * K + k];
      acc[i][j] = s;
    }
  }
}

#ifdef TROUPE_W8A8_X86

// AVX2: 16 int8 at a time widened to int16; vpmaddwd adds adjacent products into int32 (at most
// 2 * 128 * 128, no saturation). The tail of W past the last full 16 is summed in scalar code.
template <int MR, int NR>
__attribute__((target("avx2"))) void avx2(const int8_t* q, int64_t ldq, int64_t K, const int8_t* w,
                                          const int32_t*, int32_t acc[4][4]) {
  __m256i sum[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      sum[i][j] = _mm256_setzero_si256();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m256i wv[NR];
    for (int j = 0; j < NR; ++j)
      wv[j] =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + j * K + k)));
    for (int i = 0; i < MR; ++i) {
      const __m256i xv =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i * ldq + k)));
      for (int j = 0; j < NR; ++j)
        sum[i][j] = _mm256_add_epi32(sum[i][j], _mm256_madd_epi16(xv, wv[j]));
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      __m128i s =
          _mm_add_epi32(_mm256_castsi256_si128(sum[i][j]), _mm256_extracti128_si256(sum[i][j], 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
      int32_t t = _mm_cvtsi128_si32(s);
      for (int64_t kk = k; kk < K; ++kk)
        t += int32_t{q[i * ldq + kk]} * w[j * K + kk];
      acc[i][j] = t;
    }
  }
}

// AVX512-VNNI: vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the 4 products to
// an int32 lane (no saturation). Activations enter as u = q + 128 (q xor 0x80), so the lanes sum
// to acc + 128 * row_sum, undone at the end in wrapping int32 (exact: acc fits in int32). The
// tail of W is a masked load, so W is never read past its row; q is padded to k_pad.
template <int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni(const int8_t* q, int64_t ldq,
                                                                 int64_t K, const int8_t* w,
                                                                 const int32_t* row_sums,
                                                                 int32_t acc[4][4]) {
  __m512i sum[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      sum[i][j] = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t k = 0; k < K; k += 64) {
    const int64_t left = K - k;
    const __mmask64 mask = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    __m512i wv[NR];
    for (int j = 0; j < NR; ++j)
      wv[j] = _mm512_maskz_loadu_epi8(mask, w + j * K + k);
    for (int i = 0; i < MR; ++i) {
      const __m512i xv = _mm512_xor_si512(_mm512_loadu_si512(q + i * ldq + k), flip);
      for (int j = 0; j < NR; ++j)
        sum[i][j] = _mm512_dpbusd_epi32(sum[i][j], xv, wv[j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      acc[i][j] = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(sum[i][j])) -
                                       128u * static_cast<uint32_t>(row_sums[j]));
}

// The panel: for each group of 4 k values g (K rounded up), two 64-byte lines (rows 0..15 and
// 16..31 of the slice), row r's 4 bytes W[r][4g .. 4g + 3] + 128 at byte 4 * (r % 16); rows and
// k values past the slice's end hold 0 + 128 (their products with q's zero padding, or the
// dropped columns, never reach a result).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void pack_panel_avx512(const int8_t* w,
                                                                              int64_t K, int nr,
                                                                              uint8_t* panel) {
  const int64_t groups = (K + 3) / 4, full = K / 4;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int half = 0; half < 2; ++half) {
    const int rows = std::clamp(nr - 16 * half, 0, 16);
    const __mmask16 live = static_cast<__mmask16>((1u << rows) - 1u);
    const __m512i offsets =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(static_cast<int32_t>(K)));
    const int8_t* base = w + int64_t{16} * half * K;
    for (int64_t g = 0; g < full; ++g) {
      const __m512i v = rows == 0 ? _mm512_setzero_si512()
                                  : _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live,
                                                                offsets, base + 4 * g, 1);
      _mm512_storeu_si512(panel + 128 * g + 64 * half, _mm512_xor_si512(v, flip));
    }
    if (full < groups) {  // the last, partial group of k: byte by byte, zero padded
      alignas(64) uint8_t line[64] = {};
      for (int r = 0; r < rows; ++r)
        for (int64_t k = 4 * full; k < K; ++k)
          line[4 * r + (k - 4 * full)] = static_cast<uint8_t>(base[r * K + k]);
      _mm512_storeu_si512(panel + 128 * full + 64 * half,
                          _mm512_xor_si512(_mm512_load_si512(line), flip));
    }
  }
}

template <int MR>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void panel_kernel(const uint8_t* panel,
                                                                         int64_t K, const int8_t* q,
                                                                         int64_t ldq,
                                                                         const int32_t* q_sums,
                                                                         int32_t* acc) {
  __m512i sum[MR][2];
  for (int i = 0; i < MR; ++i)
    sum[i][0] = sum[i][1] = _mm512_setzero_si512();
  const int64_t groups = (K + 3) / 4;
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i w0 = _mm512_loadu_si512(panel + 128 * g);
    const __m512i w1 = _mm512_loadu_si512(panel + 128 * g + 64);
    for (int i = 0; i < MR; ++i) {
      int32_t v;
      std::memcpy(&v, q + i * ldq + 4 * g, 4);
      const __m512i xv = _mm512_set1_epi32(v);
      sum[i][0] = _mm512_dpbusd_epi32(sum[i][0], w0, xv);
      sum[i][1] = _mm512_dpbusd_epi32(sum[i][1], w1, xv);
    }
  }
  // Each lane summed (W + 128) * q: take 128 * sum(q) back off, in wrapping int32.
  for (int i = 0; i < MR; ++i) {
    const __m512i off =
        _mm512_set1_epi32(static_cast<int32_t>(128u * static_cast<uint32_t>(q_sums[i])));
    _mm512_storeu_si512(acc + 32 * i, _mm512_sub_epi32(sum[i][0], off));
    _mm512_storeu_si512(acc + 32 * i + 16, _mm512_sub_epi32(sum[i][1], off));
  }
}

#endif  // TROUPE_W8A8_X86

// table[mr - 1][nr - 1] of a tile template.
template <template <int, int> class T>
tile_fn pick(int mr, int nr) {
  static constexpr tile_fn table[4][4] = {
      {T<1, 1>::fn, T<1, 2>::fn, T<1, 3>::fn, T<1, 4>::fn},
      {T<2, 1>::fn, T<2, 2>::fn, T<2, 3>::fn, T<2, 4>::fn},
      {T<3, 1>::fn, T<3, 2>::fn, T<3, 3>::fn, T<3, 4>::fn},
      {T<4, 1>::fn, T<4, 2>::fn, T<4, 3>::fn, T<4, 4>::fn},
  };
  return table[mr - 1][nr - 1];
}

template <int MR, int NR>
struct scalar_t {
  static constexpr tile_fn fn = scalar<MR, NR>;
};
#ifdef TROUPE_W8A8_X86
template <int MR, int NR>
struct avx2_t {
  static constexpr tile_fn fn = avx2<MR, NR>;
};
template <int MR, int NR>
struct vnni_t {
  static constexpr tile_fn fn = vnni<MR, NR>;
};
#endif

}  // namespace

int64_t vnni_panel_bytes(int64_t K) {
  return (K + 3) / 4 * 128;
}

#if defined(TROUPE_W8A8_X86)
void vnni_pack_panel(const int8_t* w, int64_t K, int nr, uint8_t* panel) {
  pack_panel_avx512(w, K, nr, panel);
}

void vnni_panel_rows(const uint8_t* panel, int64_t K, const int8_t* q, int64_t ldq,
                     const int32_t* q_sums, int mr, int32_t* acc) {
  using fn = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, const int32_t*, int32_t*);
  static constexpr fn table[8] = {panel_kernel<1>, panel_kernel<2>, panel_kernel<3>,
                                  panel_kernel<4>, panel_kernel<5>, panel_kernel<6>,
                                  panel_kernel<7>, panel_kernel<8>};
  table[mr - 1](panel, K, q, ldq, q_sums, acc);
}
#else
void vnni_pack_panel(const int8_t*, int64_t, int, uint8_t*) {}
void vnni_panel_rows(const uint8_t*, int64_t, const int8_t*, int64_t, const int32_t*, int,
                     int32_t*) {}
#endif

tile_fn scalar_tile(int mr, int nr) {
  return pick<scalar_t>(mr, nr);
}

#ifdef TROUPE_W8A8_X86
tile_fn avx2_tile(int mr, int nr) {
  return pick<avx2_t>(mr, nr);
}
tile_fn vnni_tile(int mr, int nr) {
  return pick<vnni_t>(mr, nr);
}
#else
// No x86 SIMD here; w8a8_supported_paths() never lists these paths.
tile_fn avx2_tile(int mr, int nr) {
  return pick<scalar_t>(mr, nr);
}
tile_fn vnni_tile(int mr, int nr) {
  return pick<scalar_t>(mr, nr);
}
#endif

}  // namespace troupe::kernels::cpu::w8a8_detail
