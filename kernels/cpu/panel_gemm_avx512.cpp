// panel_gemm's AVX-512 tiles: a panel row is two zmm registers (columns 0-15, 16-31); each output
// is one lane of one accumulator. Compiled for AVX-512F by function attributes whatever the build
// flags; run only where panel_isa_supported(dense_isa::avx512) (the driver checks).
#include <immintrin.h>

#include <utility>

#include "kernels/cpu/panel_gemm_tiles.hpp"

// GCC 12's _mm512_undefined_*() (inside the AVX-512 intrinsics) is a deliberate
// self-initialization that its own -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define TROUPE_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#define TROUPE_AVX512_INLINE TROUPE_AVX512 __attribute__((always_inline)) inline

namespace troupe::kernels::cpu::panel_detail {
namespace {

// 12 rows x 2 vectors = 24 accumulators + 2 widened W vectors (+ the bf16 mask); the x values
// are broadcast from memory as FMA operands.
constexpr int max_rows = 12;

// Row k of a panel as f32: columns 0-15 in lo, 16-31 in hi.
template <dense_type T>
TROUPE_AVX512_INLINE void load_row(const uint8_t* row, __m512& lo, __m512& hi) {
  if constexpr (T == dense_type::f32) {
    lo = _mm512_loadu_ps(row);
    hi = _mm512_loadu_ps(row + 64);
  } else if constexpr (T == dense_type::f16) {
    lo = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
    hi = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32)));
  } else {
    // dword j = (bf16 of column j) | (bf16 of column j + 16) << 16 (panel_gemm.hpp's layout).
    const __m512i v = _mm512_loadu_si512(row);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
}

template <dense_type T, int MR, int NP>
TROUPE_AVX512 void tile(const tile_args& a) {
  constexpr int64_t row_bytes = T == dense_type::f32 ? 128 : 64;
  __m512 acc[MR][2 * NP];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int v = 0; v < 2 * NP; ++v)
      acc[i][v] = a.accumulate ? _mm512_loadu_ps(a.y + i * a.ldy + 16 * v) : _mm512_setzero_ps();
  }
  const float* x = a.x;
  const uint8_t* w = a.w;
  for (int64_t k = 0; k < a.kc; ++k, x += MR, w += row_bytes) {
    if (a.prefetch_ahead) {
#pragma GCC unroll 4
      for (int p = 0; p < NP; ++p) {
        const char* ahead =
            reinterpret_cast<const char*>(w + p * a.panel_stride + a.prefetch_ahead);
        _mm_prefetch(ahead, _MM_HINT_T1);
        if constexpr (row_bytes > 64) _mm_prefetch(ahead + 64, _MM_HINT_T1);
      }
    }
#pragma GCC unroll 4
    for (int p = 0; p < NP; ++p) {
      __m512 lo, hi;
      load_row<T>(w + p * a.panel_stride, lo, hi);
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const __m512 xv = _mm512_set1_ps(x[i]);
        acc[i][2 * p] = _mm512_fmadd_ps(xv, lo, acc[i][2 * p]);
        acc[i][2 * p + 1] = _mm512_fmadd_ps(xv, hi, acc[i][2 * p + 1]);
      }
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int v = 0; v < 2 * NP; ++v)
      _mm512_storeu_ps(a.y + i * a.ldy + 16 * v, acc[i][v]);
  }
}

// A lone group of few rows runs several panels at once: at least 8 independent FMA chains (two
// FMA ports x 4 cycles of latency), at most 24 accumulators.
constexpr int single_group_panels(int mr) {
  return mr <= 3 ? 4 : mr <= 6 ? 2 : 1;
}

template <dense_type T, int MR>
tile_fn tile_for_rows(int np) {
  constexpr int wide = single_group_panels(MR);
  if constexpr (wide > 1)
    if (np == wide) return tile<T, MR, wide>;
  return tile<T, MR, 1>;
}

template <dense_type T, int... MR>
tile_fn tile_for_type(int mr, int np, std::integer_sequence<int, MR...>) {
  tile_fn fn = nullptr;
  ((mr == MR + 1 ? (fn = tile_for_rows<T, MR + 1>(np), 0) : 0), ...);
  return fn;
}

tile_fn tile_for(dense_type type, int mr, int np) {
  const auto rows = std::make_integer_sequence<int, max_rows>();
  switch (type) {
    case dense_type::bf16:
      return tile_for_type<dense_type::bf16>(mr, np, rows);
    case dense_type::f16:
      return tile_for_type<dense_type::f16>(mr, np, rows);
    default:
      return tile_for_type<dense_type::f32>(mr, np, rows);
  }
}

int panels_for(int mr) {
  return single_group_panels(mr);
}

}  // namespace

const tile_set& avx512_tiles() {
  static const tile_set tiles{max_rows, panels_for, tile_for};
  return tiles;
}

}  // namespace troupe::kernels::cpu::panel_detail
