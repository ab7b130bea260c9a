// dense_gemm's AVX-512 register tiles: one zmm register holds the 16 lanes of one output.
// Compiled for AVX-512 by function attributes whatever the build flags; run only where
// dense_isa_supported(dense_isa::avx512) (dense_gemm.cpp checks before choosing them).
#include <immintrin.h>

#include "kernels/cpu/dense_gemm_tiles.hpp"

// GCC 12's _mm512_undefined_ps() (inside shuffle intrinsics) is a deliberate self-initialization
// that its own -Wuninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define TROUPE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define TROUPE_AVX512_INLINE TROUPE_AVX512 __attribute__((always_inline)) inline

namespace troupe::kernels::cpu::dense_detail {
namespace {

// 6 x 4 accumulators + 4 widened W vectors + 1 x vector + the VPERMW index fit the 32 zmm
// registers; a single x row has no x reuse to gain, so it takes 8 W rows at once instead.
constexpr int max_rows = 6;
constexpr int cols = 4;
constexpr int cols_single = 8;

// The 16 weights at w[k..k+16) of type T as f32 (lanes past `mask` zero).
template <dense_type T>
TROUPE_AVX512_INLINE __m512 load_w(const void* w, int64_t k, __mmask16 mask, bool full) {
  if constexpr (T == dense_type::f32) {
    const float* p = static_cast<const float*>(w) + k;
    return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask, p);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(w) + k;
    __m256i h = full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                     : _mm256_maskz_loadu_epi16(mask, p);
    if constexpr (T == dense_type::f16) {
      return _mm512_cvtph_ps(h);
    } else {
      // bf16 -> f32 is bits << 16: word 2i+1 of the result takes word i of h, even words are
      // zeroed by the mask. One VPERMW (1 uop) instead of zero-extend + shift (2).
      const __m512i idx = _mm512_set_epi16(15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8, 0, 7,
                                           0, 6, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0, 0);
      return _mm512_castsi512_ps(
          _mm512_maskz_permutexvar_epi16(0xaaaaaaaau, idx, _mm512_castsi256_si512(h)));
    }
  }
}

// One k step of 16 for the whole tile: every accumulator gets one FMA per lane.
template <dense_type T, int MR, int NR>
TROUPE_AVX512_INLINE void step(const float* x, int64_t K, const void* w, int64_t k, __mmask16 mask,
                               bool full, __m512 (&acc)[MR][NR]) {
  __m512 wv[NR];
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j)
    wv[j] = load_w<T>(w, j * K + k, mask, full);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const float* p = x + i * K + k;
    __m512 xv = full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask, p);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j)
      acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
  }
}

// The reduction tree of dense_gemm.hpp for four accumulators at once; lane j of the result is
// accumulator j's output. Each level adds the same pairs as the scalar form (IEEE addition is
// commutative, so which operand a shuffle puts first does not matter):
//   level 1  s = lanes 0-7 + lanes 8-15      blocks [a s0-3 | a s4-7 | b s0-3 | b s4-7]
//   level 2  t = s 0-3 + s 4-7               blocks [a t | b t | c t | d t]
//   level 3  u = t 0-1 + t 2-3               within each block
//   level 4  u0 + u1                         element 0 of each block
TROUPE_AVX512_INLINE __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
  __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xee));
  __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xdd));
  __m512 u = _mm512_add_ps(t, _mm512_shuffle_ps(t, t, _MM_SHUFFLE(3, 2, 3, 2)));
  __m512 r = _mm512_add_ps(u, _mm512_shuffle_ps(u, u, _MM_SHUFFLE(1, 1, 1, 1)));
  return _mm512_castps512_ps128(
      _mm512_permutexvar_ps(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), r));
}

template <dense_type T, int MR, int NR>
TROUPE_AVX512 void tile(const float* x, int64_t K, const void* w, float* y, int64_t ldy) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16)
    step<T, MR, NR>(x, K, w, k, 0xffff, true, acc);
  if (k < K) step<T, MR, NR>(x, K, w, k, static_cast<__mmask16>((1u << (K - k)) - 1), false, acc);
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; j += 4) {
      __m128 r = reduce4(acc[i][j], j + 1 < NR ? acc[i][j + 1] : zero,
                         j + 2 < NR ? acc[i][j + 2] : zero, j + 3 < NR ? acc[i][j + 3] : zero);
      int n = NR - j < 4 ? NR - j : 4;
      _mm_mask_storeu_ps(y + i * ldy + j, static_cast<__mmask8>((1u << n) - 1), r);
    }
  }
}

template <dense_type T, int MR>
tile_fn tile_for_rows(int nr) {
  switch (nr) {
    case 1:
      return tile<T, MR, 1>;
    case 2:
      return tile<T, MR, 2>;
    case 3:
      return tile<T, MR, 3>;
    default:
      return tile<T, MR, 4>;
  }
}

template <dense_type T>
tile_fn tile_for_type(int mr, int nr) {
  if (mr == 1) {
    switch (nr) {
      case 5:
        return tile<T, 1, 5>;
      case 6:
        return tile<T, 1, 6>;
      case 7:
        return tile<T, 1, 7>;
      case 8:
        return tile<T, 1, 8>;
      default:
        return tile_for_rows<T, 1>(nr);
    }
  }
  switch (mr) {
    case 2:
      return tile_for_rows<T, 2>(nr);
    case 3:
      return tile_for_rows<T, 3>(nr);
    case 4:
      return tile_for_rows<T, 4>(nr);
    case 5:
      return tile_for_rows<T, 5>(nr);
    default:
      return tile_for_rows<T, 6>(nr);
  }
}

tile_fn tile_for(dense_type type, int mr, int nr) {
  switch (type) {
    case dense_type::bf16:
      return tile_for_type<dense_type::bf16>(mr, nr);
    case dense_type::f16:
      return tile_for_type<dense_type::f16>(mr, nr);
    default:
      return tile_for_type<dense_type::f32>(mr, nr);
  }
}

}  // namespace

const tile_set& avx512_tiles() {
  static const tile_set tiles{max_rows, cols, cols_single, tile_for};
  return tiles;
}

}  // namespace troupe::kernels::cpu::dense_detail
