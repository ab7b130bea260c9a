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

namespace troupe::kernels::cpu::w8a8_detail {

// The quantized rows' stride is a multiple of this (one 512-bit register of int8).
constexpr int64_t k_pad = 64;

using tile_fn = void (*)(const int8_t* q, int64_t ldq, int64_t K, const int8_t* w,
                         const int32_t* row_sums, int32_t acc[4][4]);

// The tile for mr (1..4) rows by nr (1..4) columns on each path.
tile_fn scalar_tile(int mr, int nr);
tile_fn avx2_tile(int mr, int nr);
tile_fn vnni_tile(int mr, int nr);

}  // namespace troupe::kernels::cpu::w8a8_detail
