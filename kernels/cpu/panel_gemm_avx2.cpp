// panel_gemm's AVX2+FMA tiles: a tile runs a panel as two halves of 16 columns (two ymm registers
// each), one after the other. Compiled for AVX2 by function attributes whatever the build flags;
// run only where panel_isa_supported(dense_isa::avx2) (the driver checks).
#include <immintrin.h>

#include <utility>

#include "kernels/cpu/panel_gemm_tiles.hpp"

#define TROUPE_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TROUPE_AVX2_INLINE TROUPE_AVX2 __attribute__((always_inline)) inline

namespace troupe::kernels::cpu::panel_detail {
namespace {

// 16 ymm registers: 6 rows x 2 vectors = 12 accumulators + 2 W vectors + 1 broadcast x (+ mask);
// 1 or 2 rows take whole panels (wide_tile below).
constexpr int max_rows = 6;

// Columns 16h + [0, 8) in a, 16h + [8, 16) in b, of panel row `row`.
template <dense_type T, int H>
TROUPE_AVX2_INLINE void load_half(const uint8_t* row, __m256& a, __m256& b) {
  if constexpr (T == dense_type::f32) {
    a = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + 16 * H);
    b = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + 16 * H + 8);
  } else if constexpr (T == dense_type::f16) {
    const auto* p = reinterpret_cast<const __m128i*>(row + 32 * H);
    a = _mm256_cvtph_ps(_mm_loadu_si128(p));
    b = _mm256_cvtph_ps(_mm_loadu_si128(p + 1));
  } else {
    // dword j = column j (low half) | column j + 16 (high half): half 0 shifts, half 1 masks.
    const auto* p = reinterpret_cast<const __m256i*>(row);
    __m256i u = _mm256_loadu_si256(p), v = _mm256_loadu_si256(p + 1);
    if constexpr (H == 0) {
      a = _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
      b = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    } else {
      const __m256i mask = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
      a = _mm256_castsi256_ps(_mm256_and_si256(u, mask));
      b = _mm256_castsi256_ps(_mm256_and_si256(v, mask));
    }
  }
}

template <dense_type T, int MR, int H>
TROUPE_AVX2_INLINE void half_tile(const tile_args& a) {
  constexpr int64_t row_bytes = T == dense_type::f32 ? 128 : 64;
  float* y = a.y + 16 * H;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = a.accumulate ? _mm256_loadu_ps(y + i * a.ldy) : _mm256_setzero_ps();
    acc[i][1] = a.accumulate ? _mm256_loadu_ps(y + i * a.ldy + 8) : _mm256_setzero_ps();
  }
  const float* x = a.x;
  const uint8_t* w = a.w;
  for (int64_t k = 0; k < a.kc; ++k, x += MR, w += row_bytes) {
    __m256 lo, hi;
    load_half<T, H>(w, lo, hi);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 xv = _mm256_broadcast_ss(x + i);
      acc[i][0] = _mm256_fmadd_ps(xv, lo, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(xv, hi, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_ps(y + i * a.ldy, acc[i][0]);
    _mm256_storeu_ps(y + i * a.ldy + 8, acc[i][1]);
  }
}

template <dense_type T, int MR>
TROUPE_AVX2 void tile(const tile_args& a) {
  half_tile<T, MR, 0>(a);
  half_tile<T, MR, 1>(a);
}

// For 1 or 2 rows a half panel has too few FMA chains (2 per row; two FMA ports x 4 cycles of
// latency want 8): whole panels instead, NP at once (MR x 4 x NP <= 8 accumulators).
template <dense_type T, int MR, int NP>
TROUPE_AVX2 void wide_tile(const tile_args& a) {
  constexpr int64_t row_bytes = T == dense_type::f32 ? 128 : 64;
  __m256 acc[MR][4 * NP];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 4 * NP; ++v)
      acc[i][v] = a.accumulate ? _mm256_loadu_ps(a.y + i * a.ldy + 8 * v) : _mm256_setzero_ps();
  const float* x = a.x;
  const uint8_t* w = a.w;
  for (int64_t k = 0; k < a.kc; ++k, x += MR, w += row_bytes) {
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p) {
      __m256 wv[4];
      load_half<T, 0>(w + p * a.panel_stride, wv[0], wv[1]);
      load_half<T, 1>(w + p * a.panel_stride, wv[2], wv[3]);
#pragma GCC unroll 2
      for (int i = 0; i < MR; ++i) {
        const __m256 xv = _mm256_broadcast_ss(x + i);
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v)
          acc[i][4 * p + v] = _mm256_fmadd_ps(xv, wv[v], acc[i][4 * p + v]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 4 * NP; ++v)
      _mm256_storeu_ps(a.y + i * a.ldy + 8 * v, acc[i][v]);
}

template <dense_type T, int... MR>
tile_fn tile_for_type(int mr, std::integer_sequence<int, MR...>) {
  tile_fn fn = nullptr;
  ((mr == MR + 1 ? (fn = tile<T, MR + 1>, 0) : 0), ...);
  return fn;
}

template <dense_type T>
tile_fn tile_for_rows(int mr, int np) {
  if (mr == 1) return np == 2 ? wide_tile<T, 1, 2> : wide_tile<T, 1, 1>;
  if (mr == 2) return wide_tile<T, 2, 1>;
  return tile_for_type<T>(mr, std::make_integer_sequence<int, max_rows>());
}

tile_fn tile_for(dense_type type, int mr, int np) {
  switch (type) {
    case dense_type::bf16:
      return tile_for_rows<dense_type::bf16>(mr, np);
    case dense_type::f16:
      return tile_for_rows<dense_type::f16>(mr, np);
    default:
      return tile_for_rows<dense_type::f32>(mr, np);
  }
}

int panels_for(int mr) {
  return mr == 1 ? 2 : 1;
}

}  // namespace

const tile_set& avx2_tiles() {
  static const tile_set tiles{max_rows, panels_for, tile_for};
  return tiles;
}

}  // namespace troupe::kernels::cpu::panel_detail
