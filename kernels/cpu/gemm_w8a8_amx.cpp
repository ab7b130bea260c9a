// gemm_w8a8's AMX path (contract: gemm_w8a8_tiles.hpp): TDPBSSD multiplies the signed int8
// activations by the signed int8 weights directly, 16 x 16 outputs x 64 values of k per
// instruction, into int32 tiles that stay in the tile registers over the whole K. The sums are
// exact, so they are the other paths' sums bit for bit; the epilogue is w8a8_dequantize's
// operations in AVX-512 lanes. Compiled for AMX by function attributes
// whatever the build flags; called only where w8a8_supported_paths() lists the amx path.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm_w8a8_tiles.hpp"

#if defined(__x86_64__)
#include "kernels/cpu/amx_tiles.hpp"
// GCC 12's _mm512_cvtepi32_ps passes an undefined vector as its (unused) merge source, which
// -Wmaybe-uninitialized reports inside target("avx512f") functions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define TROUPE_AMX_INT8 __attribute__((target("amx-tile,amx-int8")))
#endif

namespace troupe::kernels::cpu::w8a8_detail {

namespace {

constexpr int64_t tile_k = 64;                   // k per tile: 16 rows of 4-value quads
constexpr int64_t tile_bytes = 1024;             // 16 x 64 bytes
constexpr int64_t chunk_bytes = 2 * tile_bytes;  // a k chunk's two B tiles (32 W rows)

}  // namespace

int64_t amx_panel_bytes(int64_t ldq) {
  return ldq / tile_k * chunk_bytes;
}

// Chunk c, half h, tile row r, column j, byte t: W row 16h + j, value k = 64c + 4r + t.
int64_t amx_panel_offset(int64_t k, int j) {
  return (k / tile_k) * chunk_bytes + (j / 16) * tile_bytes + ((k % tile_k) / 4) * 64 +
         (j % 16) * 4 + k % 4;
}

#if defined(__x86_64__)

// amx_panel_offset's layout. A tile row of 16 whole W rows is one gather of their dwords; the
// rest (rows past nr, a quad cut by K) byte by byte.
__attribute__((target("avx512f"))) void amx_pack_panel(const int8_t* w, int64_t K, int64_t ldq,
                                                       int nr, int8_t* panel) {
  std::memset(panel, 0, static_cast<size_t>(amx_panel_bytes(ldq)));
  const __m512i offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(K)));
  for (int h = 0; h < 2; ++h) {
    const int rows = std::clamp(nr - 16 * h, 0, 16);
    const int8_t* base = w + 16 * h * K;
    for (int64_t q = 0; q < ldq / 4; ++q) {
      int8_t* dst = panel + (q / 16) * chunk_bytes + h * tile_bytes + (q % 16) * 64;
      if (rows == 16 && 4 * q + 4 <= K) {
        _mm512_storeu_si512(dst, _mm512_i32gather_epi32(offsets, base + 4 * q, 1));
        continue;
      }
      for (int j = 0; j < rows; ++j)
        for (int64_t k = 4 * q; k < std::min(K, 4 * q + 4); ++k)
          dst[j * 4 + k % 4] = base[j * K + k];
    }
  }
}

#else

void amx_pack_panel(const int8_t*, int64_t, int64_t, int, int8_t*) {}

#endif

#if defined(__x86_64__)

namespace {

// TDPBSSD for amx::sweep.
struct int8_dot {
  __attribute__((always_inline)) static void c0() { _tile_dpbssd(0, 4, 6); }
  __attribute__((always_inline)) static void c1() { _tile_dpbssd(1, 4, 7); }
  __attribute__((always_inline)) static void c2() { _tile_dpbssd(2, 5, 6); }
  __attribute__((always_inline)) static void c3() { _tile_dpbssd(3, 5, 7); }
};

// C0/C1 = rows [0, 16) x the two halves, C2/C3 (Two) = rows [16, 32), over every k chunk; A0/A1
// the two 16-row slices of q, B0/B1 the chunk's halves.
template <bool Two, bool Prefetch>
TROUPE_AMX_INT8 void rows_of(const int8_t* panel, int64_t ldq, const int8_t* q, int32_t* acc,
                             amx::l2_prefetch ahead) {
  amx::sweep<Two, int8_dot, Prefetch>(reinterpret_cast<const uint8_t*>(q), 16 * ldq,
                                      static_cast<long>(ldq), tile_k,
                                      reinterpret_cast<const uint8_t*>(panel), ldq / tile_k, ahead);
  constexpr long acc_stride = 32 * sizeof(int32_t);
  _tile_stored(0, acc, acc_stride);
  _tile_stored(1, acc + 16, acc_stride);
  if constexpr (Two) {
    _tile_stored(2, acc + 16 * 32, acc_stride);
    _tile_stored(3, acc + 16 * 32 + 16, acc_stride);
  }
}

}  // namespace

namespace {

// GCC 12 drops a target attribute written on a constructor's or destructor's definition (an
// always-inline tile intrinsic there fails to compile where -march has no AMX), so the scope's
// constructor and destructor call functions that carry it.
TROUPE_AMX_INT8 void release_tiles() {
  _tile_release();
}

}  // namespace

amx_tile_scope::amx_tile_scope(int64_t M) {
  amx::configure_tiles(M);
}

amx_tile_scope::~amx_tile_scope() {
  release_tiles();
}

TROUPE_AMX_INT8 void amx_panel_rows(const int8_t* panel, int64_t ldq, const int8_t* q, int64_t M,
                                    int32_t* acc, const int8_t* next) {
  amx::l2_prefetch ahead = amx::prefetch_over_row_blocks(reinterpret_cast<const uint8_t*>(next), M);
  for (int64_t m = 0; m < M; m += 32, ahead.advance(ldq / tile_k)) {
    if (M - m <= 16)
      rows_of<false, false>(panel, ldq, q + m * ldq, acc + m * 32, ahead);
    else if (ahead.lines == 0)
      rows_of<true, false>(panel, ldq, q + m * ldq, acc + m * 32, ahead);
    else
      rows_of<true, true>(panel, ldq, q + m * ldq, acc + m * 32, ahead);
  }
}

__attribute__((target("avx512f"))) void amx_dequantize(const int32_t* acc, int64_t M,
                                                       const w8a8_token_scale* scales,
                                                       const int32_t* row_sums,
                                                       const float* w_scale, int nr, float* y,
                                                       int64_t ldy) {
  __mmask16 lanes[2];
  __m512i sums[2];
  __m512 ws[2];
  for (int h = 0; h < 2; ++h) {
    lanes[h] = static_cast<__mmask16>((1u << std::clamp(nr - 16 * h, 0, 16)) - 1u);
    sums[h] = _mm512_maskz_loadu_epi32(lanes[h], row_sums + 16 * h);
    ws[h] = _mm512_maskz_loadu_ps(lanes[h], w_scale + 16 * h);
  }
  for (int64_t m = 0; m < M; ++m) {
    const __m512 scale = _mm512_set1_ps(scales[m].scale);
    const __m512i azp = _mm512_set1_epi32(scales[m].azp);
    for (int h = 0; h < 2; ++h) {
      // w8a8_dequantize: the wrapping int32 acc - azp * row_sum (nothing to take for a symmetric
      // token, azp 0), then a.scale * (w_scale * f).
      __m512i corrected = _mm512_loadu_si512(acc + m * 32 + 16 * h);
      if (scales[m].azp != 0)
        corrected = _mm512_sub_epi32(corrected, _mm512_mullo_epi32(azp, sums[h]));
      const __m512 f = _mm512_mul_ps(ws[h], _mm512_cvtepi32_ps(corrected));
      _mm512_mask_storeu_ps(y + m * ldy + 16 * h, lanes[h], _mm512_mul_ps(scale, f));
    }
  }
}

#else

amx_tile_scope::amx_tile_scope(int64_t) {}
amx_tile_scope::~amx_tile_scope() {}
void amx_panel_rows(const int8_t*, int64_t, const int8_t*, int64_t, int32_t*, const int8_t*) {}
void amx_dequantize(const int32_t*, int64_t, const w8a8_token_scale*, const int32_t*, const float*,
                    int, float*, int64_t) {}

#endif

}  // namespace troupe::kernels::cpu::w8a8_detail
