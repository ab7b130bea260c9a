#pragma once
// The register tiles of gemm_w8a8 (internal to kernels/cpu; contract: gemm_w8a8.hpp).
//
// A tile computes the exact int32 sums acc[i][j] = sum_k q[i][k] * W[j][k] for up to 4 rows of
// quantized activations and up to 4 rows of W, whatever the path:
//
//   q:  rows i = 0..mr-1 at q + i * ldq, ldq a multiple of k_pad, zero padded past K
//   W:  rows j = 0..nr-1 at w + j * K (unpadded: a tile never reads W past row end)
//   row_sums[j] = sum_k W[j][k] (the VNNI tile uses it to undo its +128 offset)
//
// The SIMD tiles are compiled with __attribute__((target(...))), whatever the build flags, and
// are only called where w8a8_supported_paths() lists their path.
#include <cstdint>

#include "kernels/cpu/gemm_w8a8.hpp"

namespace troupe::kernels::cpu::w8a8_detail {

// The quantized rows' stride is a multiple of this (one 512-bit register of int8).
constexpr int64_t k_pad = 64;

using tile_fn = void (*)(const int8_t* q, int64_t ldq, int64_t K, const int8_t* w,
                         const int32_t* row_sums, int32_t acc[4][4]);

// The tile for mr (1..4) rows by nr (1..4) columns on each path.
tile_fn scalar_tile(int mr, int nr);
tile_fn avx2_tile(int mr, int nr);
tile_fn vnni_tile(int mr, int nr);

// The VNNI path for many rows: W's rows [0, nr) (nr <= 32, at w, K apart) regrouped once into
// 16-row panels (per 4 values of k, 16 rows x 4 bytes, offset by +128 so VPDPBUSD takes them as
// its unsigned operand) in `panel` (room for vnni_panel_bytes(K)), then every x row runs against
// them: acc[i][j] = sum_k q[i][k] W[j][k], exact, written to acc + i * 32 + j for i < mr (<= 8)
// and every j < 32 (lanes past the slice's rows hold sums against the padding).
// q_sums[i] = sum_k q[i][k] undoes the offset. Only where VNNI is supported.
int64_t vnni_panel_bytes(int64_t K);
void vnni_pack_panel(const int8_t* w, int64_t K, int nr, uint8_t* panel);
void vnni_panel_rows(const uint8_t* panel, int64_t K, const int8_t* q, int64_t ldq,
                     const int32_t* q_sums, int mr, int32_t* acc);

// The AMX path for many rows (gemm_w8a8_amx.cpp): W's rows [0, nr) (nr <= 32, at w, K apart)
// packed once into TDPBSSD's B tiles (per 64 values of k, two tiles of 16 rows x 16 W rows x 4
// bytes, zero past K and nr) in `panel` (room for amx_panel_bytes(ldq)); then acc[i][j] =
// sum_k q[i][k] W[j][k], exact, at acc + i * 32 + j for every i < M rounded up to 16 and j < 32.
// q's rows past M must be readable zeros up to that multiple of 16. Only where AMX-INT8 is usable.
int64_t amx_panel_bytes(int64_t ldq);
// Where W row j (< 32) of the slice keeps its value k in the panel.
int64_t amx_panel_offset(int64_t k, int j);
void amx_pack_panel(const int8_t* w, int64_t K, int64_t ldq, int nr, int8_t* panel);
// The tile registers configured for products of M rows on the calling thread while a scope lives:
// amx_panel_rows runs inside one. One per column range, not per panel: LDTILECFG and TILERELEASE
// cost about as much as a one-row panel's products (measured: a 16-row decode product spent a
// quarter of its time configuring tiles when every panel did).
class amx_tile_scope {
 public:
  explicit amx_tile_scope(int64_t M);
  ~amx_tile_scope();
  amx_tile_scope(const amx_tile_scope&) = delete;
  amx_tile_scope& operator=(const amx_tile_scope&) = delete;
};
// Inside an amx_tile_scope of M rows. `next` (or nullptr): the panel to compute after this one,
// fetched into L2 meanwhile when M spans more than one block of 32 rows (amx_gemm.cpp's reasoning).
void amx_panel_rows(const int8_t* panel, int64_t ldq, const int8_t* q, int64_t M, int32_t* acc,
                    const int8_t* next = nullptr);
// y[m * ldy + j] = w8a8_dequantize(acc[m * 32 + j], scales[m], row_sums[j], w_scale[j]) for
// m < M, j < nr (<= 32): the same operations in AVX-512 lanes, so the same bits.
void amx_dequantize(const int32_t* acc, int64_t M, const w8a8_token_scale* scales,
                    const int32_t* row_sums, const float* w_scale, int nr, float* y, int64_t ldy);

}  // namespace troupe::kernels::cpu::w8a8_detail
