// gemm_w8a8's register tiles, one per path (contract: gemm_w8a8_tiles.hpp). Integer sums are
// exact, so the paths may order their additions however suits the instruction set.
#include "kernels/cpu/gemm_w8a8_tiles.hpp"

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
