// dense_gemm's AVX2+FMA register tiles: two ymm registers hold lanes 0-7 and 8-15 of one output.
// Compiled for AVX2 by function attributes whatever the build flags; run only where
// dense_isa_supported(dense_isa::avx2) (dense_gemm.cpp checks before choosing them).
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/cpu/dense_gemm_tiles.hpp"

#define TROUPE_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TROUPE_AVX2_INLINE TROUPE_AVX2 __attribute__((always_inline)) inline

namespace troupe::kernels::cpu::dense_detail {
namespace {

// 16 ymm registers: 3 x 2 outputs x 2 halves = 12 accumulators + 2 W halves + 1 x half; a single
// x row takes 4 W rows (8 accumulators + 4 + 1).
constexpr int max_rows = 3;
constexpr int cols = 2;
constexpr int cols_single = 4;

template <dense_type T>
using weight_t = std::conditional_t<T == dense_type::f32, float, uint16_t>;

// Weights p[0..8) as f32.
template <dense_type T>
TROUPE_AVX2_INLINE __m256 load_w8(const weight_t<T>* p) {
  if constexpr (T == dense_type::f32) {
    return _mm256_loadu_ps(p);
  } else {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (T == dense_type::f16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// One k step of 16 (x rows ldx apart, W rows ldw apart), lanes 0-7 then lanes 8-15, so only one
// half of the W vectors is live at a time.
template <dense_type T, int MR, int NR>
TROUPE_AVX2_INLINE void step(const float* x, int64_t ldx, const weight_t<T>* w, int64_t ldw,
                             __m256 (&acc)[MR][NR][2]) {
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j)
      wv[j] = load_w8<T>(w + j * ldw + 8 * h);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m256 xv = _mm256_loadu_ps(x + i * ldx + 8 * h);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j)
        acc[i][j][h] = _mm256_fmadd_ps(xv, wv[j], acc[i][j][h]);
    }
  }
}

// dense_gemm.hpp's tree: s = lanes 0-7 + lanes 8-15, then t_i = s_i + s_(i+4),
// u_i = t_i + t_(i+2), u_0 + u_1.
TROUPE_AVX2_INLINE float reduce(__m256 lo, __m256 hi) {
  __m256 s = _mm256_add_ps(lo, hi);
  __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));
}

template <dense_type T, int MR, int NR>
TROUPE_AVX2 void tile(const float* x, int64_t K, const void* w_void, float* y, int64_t ldy) {
  const weight_t<T>* w = static_cast<const weight_t<T>*>(w_void);
  __m256 acc[MR][NR][2];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      acc[i][j][0] = acc[i][j][1] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16)
    step<T, MR, NR>(x + k, K, w + k, K, acc);
  if (k < K) {
    // The zero-padded tail, copied out (AVX2 has no 16-bit masked load).
    float x_tail[MR][16] = {};
    weight_t<T> w_tail[NR][16] = {};
    for (int i = 0; i < MR; ++i)
      std::memcpy(x_tail[i], x + i * K + k, (K - k) * sizeof(float));
    for (int j = 0; j < NR; ++j)
      std::memcpy(w_tail[j], w + j * K + k, (K - k) * sizeof(weight_t<T>));
    step<T, MR, NR>(&x_tail[0][0], 16, &w_tail[0][0], 16, acc);
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      y[i * ldy + j] = reduce(acc[i][j][0], acc[i][j][1]);
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
  switch (mr) {
    case 1:
      return tile_for_rows<T, 1>(nr);
    case 2:
      return nr == 1 ? tile<T, 2, 1> : tile<T, 2, 2>;
    default:
      return nr == 1 ? tile<T, 3, 1> : tile<T, 3, 2>;
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

const tile_set& avx2_tiles() {
  static const tile_set tiles{max_rows, cols, cols_single, tile_for};
  return tiles;
}

}  // namespace troupe::kernels::cpu::dense_detail
