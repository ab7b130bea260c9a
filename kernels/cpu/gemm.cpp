// gemm: x [M][K], W [N][K] -> y [M][N], y[m][n] = dot(x[m], W[n]) (contract: gemm.hpp).
#include "kernels/cpu/gemm.hpp"

#include <algorithm>

#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/dot.hpp"

namespace troupe::kernels::cpu {

namespace {

// A 4 x 4 tile keeps 16 accumulators + 5 operands in registers, which needs the 32 vector
// registers of AVX-512VL machines; plain AVX2 has 16, so it gets 4 x 3 (12 + 4).
constexpr int tile_rows = 4;  // x rows per register tile
#ifdef __AVX512VL__
constexpr int tile_cols = 4;  // W rows per register tile
#else
constexpr int tile_cols = 3;
#endif
constexpr int64_t m_block = 64;  // x rows kept hot in L2 while a thread sweeps its W rows

#ifdef TROUPE_KERNELS_AVX2
// One register tile: MR x NR dot products advanced together over k. Every accumulator follows
// dot()'s per-lane algorithm exactly, so the tile shape never changes a result.
template <int MR, int NR>
void tile(const float* x, int64_t K, const float* w, float* y, int64_t ldy) {
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      acc[i][j] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[NR];
    for (int j = 0; j < NR; ++j)
      wv[j] = _mm256_loadu_ps(w + j * K + k);
    for (int i = 0; i < MR; ++i) {
      __m256 xv = _mm256_loadu_ps(x + i * K + k);
      for (int j = 0; j < NR; ++j)
        acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (k < K) {
    __m256i mask = detail::tail_mask(K - k);
    __m256 wv[NR];
    for (int j = 0; j < NR; ++j)
      wv[j] = _mm256_maskload_ps(w + j * K + k, mask);
    for (int i = 0; i < MR; ++i) {
      __m256 xv = _mm256_maskload_ps(x + i * K + k, mask);
      for (int j = 0; j < NR; ++j)
        acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      y[i * ldy + j] = detail::reduce_lanes(acc[i][j]);
}
#else
template <int MR, int NR>
void tile(const float* x, int64_t K, const float* w, float* y, int64_t ldy) {
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      y[i * ldy + j] = dot_scalar(x + i * K, w + j * K, K);
}
#endif

using tile_fn = void (*)(const float*, int64_t, const float*, float*, int64_t);

template <int MR>
constexpr tile_fn tile_for(int nr) {
  switch (nr) {
    case 1:
      return tile<MR, 1>;
    case 2:
      return tile<MR, 2>;
    case 3:
      return tile<MR, 3>;
    default:
      return tile<MR, 4>;
  }
}

tile_fn tile_for(int mr, int nr) {
  switch (mr) {
    case 1:
      return tile_for<1>(nr);
    case 2:
      return tile_for<2>(nr);
    case 3:
      return tile_for<3>(nr);
    default:
      return tile_for<4>(nr);
  }
}

}  // namespace

void gemm_columns(const float* x, int64_t M, int64_t K, const float* w, int64_t N, int64_t n_begin,
                  int64_t n_end, float* y) {
  for (int64_t m0 = 0; m0 < M; m0 += m_block) {
    int64_t m1 = std::min(M, m0 + m_block);
    for (int64_t n = n_begin; n < n_end; n += tile_cols) {
      int nr = static_cast<int>(std::min<int64_t>(tile_cols, n_end - n));
      for (int64_t m = m0; m < m1; m += tile_rows) {
        int mr = static_cast<int>(std::min<int64_t>(tile_rows, m1 - m));
        tile_for(mr, nr)(x + m * K, K, w + n * K, y + m * N + n, N);
      }
    }
  }
}

void gemm(thread_pool& pool, const float* x, int64_t M, int64_t K, const float* w, int64_t N,
          float* y) {
  if (M == 0 || N == 0) return;
  // Chunks stay multiples of the tile width so each thread streams whole tiles of W.
  run_column_tasks(pool, N, 32, tile_cols,
                   [&](int64_t n0, int64_t n1) { gemm_columns(x, M, K, w, N, n0, n1, y); });
}

}  // namespace troupe::kernels::cpu
