// dense_gemm: x [M][K] f32, W [N][K] f32/bf16/f16 -> y [M][N] (contract: dense_gemm.hpp).
// The scalar reference, the run-time choice of implementation, and the loops that sweep an
// implementation's register tiles over y.
#include "kernels/cpu/dense_gemm.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/dense_gemm_tiles.hpp"

namespace troupe::kernels::cpu {

float bf16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

float f16_to_float(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
  }
  if (exponent == 0x1f)  // infinity, or a quiet NaN (NaN payloads are not part of the contract)
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

namespace {

float widen(dense_type type, const void* w, int64_t k) {
  switch (type) {
    case dense_type::bf16:
      return bf16_to_float(static_cast<const uint16_t*>(w)[k]);
    case dense_type::f16:
      return f16_to_float(static_cast<const uint16_t*>(w)[k]);
    default:
      return static_cast<const float*>(w)[k];
  }
}

int64_t element_size(dense_type type) {
  return type == dense_type::f32 ? 4 : 2;
}

}  // namespace

float dense_dot_scalar(dense_type type, const float* x, const void* w, int64_t K) {
  float lane[16] = {};
  for (int64_t k0 = 0; k0 < K; k0 += 16) {
    for (int l = 0; l < 16; ++l) {
      int64_t k = k0 + l;
      // Padding lanes still add fma(0, 0, acc) = acc + 0, as the SIMD tails do (this matters
      // only for the sign of a zero).
      float xv = k < K ? x[k] : 0.0f, wv = k < K ? widen(type, w, k) : 0.0f;
      lane[l] = std::fma(xv, wv, lane[l]);
    }
  }
  float s[8], t[4];
  for (int i = 0; i < 8; ++i)
    s[i] = lane[i] + lane[i + 8];
  for (int i = 0; i < 4; ++i)
    t[i] = s[i] + s[i + 4];
  return (t[0] + t[2]) + (t[1] + t[3]);
}

namespace dense_detail {
namespace {

void scalar_tile(const float* x, int64_t K, const void* w, float* y, int64_t ldy) {
  y[0] = dense_dot_scalar(dense_type::f32, x, w, K);
}
void scalar_tile_bf16(const float* x, int64_t K, const void* w, float* y, int64_t ldy) {
  y[0] = dense_dot_scalar(dense_type::bf16, x, w, K);
}
void scalar_tile_f16(const float* x, int64_t K, const void* w, float* y, int64_t ldy) {
  y[0] = dense_dot_scalar(dense_type::f16, x, w, K);
}

tile_fn scalar_tile_for(dense_type type, int mr, int nr) {
  switch (type) {
    case dense_type::bf16:
      return scalar_tile_bf16;
    case dense_type::f16:
      return scalar_tile_f16;
    default:
      return scalar_tile;
  }
}

}  // namespace

const tile_set& scalar_tiles() {
  static const tile_set tiles{1, 1, 1, scalar_tile_for};
  return tiles;
}

}  // namespace dense_detail

namespace {

// A task sweeps blocks of x rows and W rows that stay in L2 together (2 MiB per core on the
// machines measured): about this many bytes of each.
constexpr int64_t x_block_bytes = 768 * 1024;
constexpr int64_t w_block_bytes = 512 * 1024;

// `bytes` / `row_bytes` rounded down to a multiple of `unit`, at least `unit`.
int64_t rows_in(int64_t bytes, int64_t row_bytes, int64_t unit) {
  return std::max<int64_t>(unit, bytes / std::max<int64_t>(1, row_bytes) / unit * unit);
}

// Rows [m0, m1) of x against W rows [n0, n1), one block of each.
void dense_block(const dense_detail::tile_set& tiles, dense_type type, const float* x, int64_t m0,
                 int64_t m1, int64_t K, const char* w, int64_t n0, int64_t n1, int64_t N,
                 float* y) {
  const int64_t row_bytes = K * element_size(type);
  for (int64_t m = m0; m < m1;) {
    int mr = static_cast<int>(std::min<int64_t>(tiles.max_rows, m1 - m));
    int64_t width = mr == 1 ? tiles.cols_single : tiles.cols;
    for (int64_t n = n0; n < n1; n += width) {
      int nr = static_cast<int>(std::min(width, n1 - n));
      tiles.get(type, mr, nr)(x + m * K, K, w + n * row_bytes, y + m * N + n, N);
    }
    m += mr;
  }
}

// Columns [n_begin, n_end) of y, blocked as:
//
//   for each block of x rows (L2)             n_begin ........................ n_end
//     for each block of W rows (L2)           |  block  |  block  |  block  | ..|
//       for each tile of x rows
//         for each tile of W rows             mr x nr tiles sweep a block row by row of x tiles
//
// so a tile's x rows stay in L1 (at least for K up to ~1000) across the block's W rows, and x
// and W come from L2. (Splitting K into passes, with each tile's 16-lane accumulators saved
// between passes, gives the same bits; measured on the machine above it was slower at K = 1536.)
void dense_columns(const dense_detail::tile_set& tiles, dense_type type, const float* x, int64_t M,
                   int64_t K, const void* w, int64_t N, int64_t n_begin, int64_t n_end, float* y) {
  const int64_t w_block = rows_in(w_block_bytes, K * element_size(type), tiles.cols_single);
  const int64_t x_block = rows_in(x_block_bytes, K * 4, tiles.max_rows);
  for (int64_t m0 = 0; m0 < M; m0 += x_block)
    for (int64_t n0 = n_begin; n0 < n_end; n0 += w_block)
      dense_block(tiles, type, x, m0, std::min(M, m0 + x_block), K, static_cast<const char*>(w), n0,
                  std::min(n_end, n0 + w_block), N, y);
}

const dense_detail::tile_set& tiles_of(dense_isa isa) {
  switch (isa) {
    case dense_isa::avx512:
      return dense_detail::avx512_tiles();
    case dense_isa::avx2:
      return dense_detail::avx2_tiles();
    default:
      return dense_detail::scalar_tiles();
  }
}

}  // namespace

bool dense_isa_supported(dense_isa isa) {
  const cpu_features& f = detect_cpu_features();
  switch (isa) {
    case dense_isa::avx512:
      return f.avx512f && f.avx512bw && f.avx512vl;
    case dense_isa::avx2:
      return f.avx2 && f.fma && f.f16c;
    default:
      return true;
  }
}

dense_isa dense_best_isa() {
  static const dense_isa best = dense_isa_supported(dense_isa::avx512) ? dense_isa::avx512
                                : dense_isa_supported(dense_isa::avx2) ? dense_isa::avx2
                                                                       : dense_isa::scalar;
  return best;
}

void dense_gemm_with(dense_isa isa, thread_pool& pool, dense_type type, const float* x, int64_t M,
                     int64_t K, const void* w, int64_t N, float* y) {
  if (M == 0 || N == 0) return;
  const dense_detail::tile_set& tiles = tiles_of(isa);
  // A task's columns are whole strips of tiles, so no task runs narrower tiles than it must.
  run_column_tasks(pool, N, 32, tiles.cols_single, [&](int64_t n0, int64_t n1) {
    dense_columns(tiles, type, x, M, K, w, N, n0, n1, y);
  });
}

void dense_gemm(thread_pool& pool, dense_type type, const float* x, int64_t M, int64_t K,
                const void* w, int64_t N, float* y) {
  dense_gemm_with(dense_best_isa(), pool, type, x, M, K, w, N, y);
}

}  // namespace troupe::kernels::cpu
