// panel_gemm's driver: packs x into row groups, splits the panels among threads and sweeps each
// implementation's register tiles over y (contract: panel_gemm.hpp; tiles: panel_gemm_tiles.hpp).
#include <algorithm>
#include <cassert>
#include <cstring>
#include <span>
#include <vector>

#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/panel_gemm.hpp"
#include "kernels/cpu/panel_gemm_tiles.hpp"

namespace troupe::kernels::cpu {
namespace {

using panel_detail::tile_args;
using panel_detail::tile_set;

constexpr int64_t panel_cols = panel_weight::panel_cols;
constexpr int max_tile_panels = 4;
constexpr int max_tile_rows = 12;

// Blocking (L1 48 KiB, L2 2 MiB per core on the machine measured):
//
//   for each x block (row groups, about x_block_bytes of packed x: stays in L2)
//     for each panel of the task
//       for each k block (kc panel rows, at most w_block_bytes: comes from L2)
//         for each row group of the x block: one tile (y's tile goes back to L2 between k blocks)
//
// The first tile of a k block prefetches the next block of W into L2 (the next k block of the
// panel or the next panel's first, which follow in memory). A lone row group (decode) streams its
// panels with no software prefetch: measured 0-15% slower at 1-8 KiB ahead.
//
// Each k block costs every tile a round trip of its y tile (24 lines, often L2 misses), and that
// measured dearer than reading W from L2 (128 B per 12 cycles): k blocks of 32 KiB (L1-resident)
// ran 3-6% slower at K = 576 and 1536 than blocks of 96 KiB (one block up to K = 768 f32).
constexpr int64_t w_block_bytes = 96 * 1024;
constexpr int64_t x_block_bytes = 512 * 1024;

// x's rows split into groups of at most `max_rows`, as even as possible (a group of 1 or 2 rows
// next to full ones would leave the FMA units waiting on latency): group g is rows
// [starts[g], starts[g + 1]).
std::vector<int64_t> row_groups(int64_t M, int max_rows) {
  const int64_t num_groups = (M + max_rows - 1) / max_rows;
  std::vector<int64_t> starts{0};
  for (int64_t g = 0; g < num_groups; ++g)
    starts.push_back(starts.back() + M / num_groups + (g < M % num_groups ? 1 : 0));
  return starts;
}

// Packed x: group g's rows, k-major ([K][mr]), at starts[g] * K, so a tile's k step broadcasts
// mr consecutive floats.
//
//   x rows r0..r0+mr-1:  x[r0][0] x[r0+1][0] ... x[r0+mr-1][0] | x[r0][1] ... | ... k = K - 1
void pack_group(const float* x, int64_t K, int64_t r0, int64_t mr, float* xp) {
  const float* src = x + r0 * K;
  float* dst = xp + r0 * K;
  // k outer: the writes stream, the mr rows are read side by side (a strided write per element
  // measured several times slower).
  for (int64_t k = 0; k < K; ++k, dst += mr)
    for (int64_t i = 0; i < mr; ++i)
      dst[i] = src[i * K + k];
}

struct sweep {
  const tile_set& tiles;
  const panel_weight& w;
  const float* xp;
  const std::vector<int64_t>& starts;
  float* y;

  // Row group g against np panels from p, k in [k0, k0 + kc).
  void tile(int64_t g, int64_t p, int np, int64_t k0, int64_t kc, bool prefetch = false) const {
    const int64_t K = w.cols(), N = w.rows(), mr = starts[g + 1] - starts[g];
    tile_args a{xp + starts[g] * K + k0 * mr,
                w.data() + p * w.panel_bytes() + k0 * panel_cols * w.element_bytes(),
                w.panel_bytes(),
                kc,
                y + starts[g] * N + p * panel_cols,
                N,
                static_cast<int>(mr),
                k0 > 0,
                0};
    // The next block in memory: this panel's next k block, or the next panel's first.
    if (prefetch && (k0 + kc < K || p + 1 < w.num_panels()))
      a.prefetch_ahead = kc * panel_cols * w.element_bytes();
    const auto fn = tiles.get(w.type(), static_cast<int>(mr), np);
    const int64_t width = np * panel_cols, valid = std::min(width, N - p * panel_cols);
    if (valid == width) return fn(a);
    // The last panel is cut short by N: the tile runs on a full-width copy.
    float buf[max_tile_rows * max_tile_panels * panel_cols];
    float* out = a.y;
    for (int64_t i = 0; i < mr && a.accumulate; ++i)
      std::memcpy(buf + i * width, out + i * N, valid * sizeof(float));
    a.y = buf;
    a.ldy = width;
    fn(a);
    for (int64_t i = 0; i < mr; ++i)
      std::memcpy(out + i * N, buf + i * width, valid * sizeof(float));
  }

  // Panels [p0, p1) for every row.
  void columns(int64_t p0, int64_t p1) const {
    const int64_t num_groups = static_cast<int64_t>(starts.size()) - 1, K = w.cols();
    if (num_groups == 1) {
      // One group (decode): no reuse of a panel to block for; several panels at once instead.
      const int np = tiles.single_group_panels(static_cast<int>(starts[1]));
      int64_t p = p0;
      for (; p + np <= p1; p += np)
        tile(0, p, np, 0, K);
      for (; p < p1; ++p)
        tile(0, p, 1, 0, K);
      return;
    }
    const int64_t row_bytes = panel_cols * w.element_bytes();
    const int64_t num_k_blocks =
        std::max<int64_t>(1, (K * row_bytes + w_block_bytes - 1) / w_block_bytes);
    const int64_t kc = (K + num_k_blocks - 1) / num_k_blocks;
    const int64_t x_rows = std::max<int64_t>(1, x_block_bytes / (K * 4));
    for (int64_t g0 = 0; g0 < num_groups;) {
      int64_t g1 = g0 + 1;
      while (g1 < num_groups && starts[g1 + 1] - starts[g0] <= x_rows)
        ++g1;
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t k0 = 0; k0 < K; k0 += kc)
          for (int64_t g = g0; g < g1; ++g)
            tile(g, p, 1, k0, std::min(kc, K - k0), g == g0);
      g0 = g1;
    }
  }
};

const tile_set& tiles_of(dense_isa isa) {
  switch (isa) {
    case dense_isa::avx512:
      return panel_detail::avx512_tiles();
    case dense_isa::avx2:
      return panel_detail::avx2_tiles();
    default:
      return panel_detail::scalar_tiles();
  }
}

// x packed for `starts` (rows 0..M), in the calling thread's scratch buffer.
const float* packed_x(thread_pool& pool, const float* x, int64_t K,
                      const std::vector<int64_t>& starts) {
  const int64_t num_groups = static_cast<int64_t>(starts.size()) - 1, M = starts.back();
  if (num_groups == 1 && M == 1) return x;  // [K][1] is the row itself
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < M * K) scratch.resize(M * K);
  float* xp = scratch.data();
  const int num_tasks = static_cast<int>(std::min<int64_t>(pool.num_threads(), num_groups));
  pool.run(num_tasks, [&](int task) {
    for (int64_t g = task; g < num_groups; g += num_tasks)
      pack_group(x, K, starts[g], starts[g + 1] - starts[g], xp);
  });
  return xp;
}

}  // namespace

bool panel_isa_supported(dense_isa isa) {
  const cpu_features& f = detect_cpu_features();
  switch (isa) {
    case dense_isa::avx512:
      return f.avx512f;
    case dense_isa::avx2:
      return f.avx2 && f.fma && f.f16c;
    default:
      return true;
  }
}

void panel_gemm_many_with(dense_isa isa, thread_pool& pool, std::span<const panel_weight* const> ws,
                          const float* x, int64_t M, std::span<float* const> ys) {
  assert(ws.size() == ys.size());
  if (M == 0 || ws.empty()) return;
  const int64_t K = ws[0]->cols();
  for (size_t i = 0; i < ws.size(); ++i) {
    assert(ws[i]->cols() == K);
    if (K == 0) std::fill(ys[i], ys[i] + M * ws[i]->rows(), 0.0f);
  }
  if (K == 0) return;
  const tile_set& tiles = tiles_of(isa);
  const std::vector<int64_t> starts = row_groups(M, tiles.max_rows);
  const float* xp = packed_x(pool, x, K, starts);
  // Tasks take whole runs of panels (a multiple of a lone group's tile width).
  const int64_t unit = starts.size() == 2 ? tiles.single_group_panels(static_cast<int>(M)) : 1;
  std::vector<sweep> sweeps;
  std::vector<column_part> parts;
  for (size_t i = 0; i < ws.size(); ++i) {
    sweeps.push_back({tiles, *ws[i], xp, starts, ys[i]});
    parts.push_back({ws[i]->num_panels(), unit, unit});
  }
  run_column_tasks(pool, std::span<const column_part>(parts),
                   [&](size_t i, int64_t p0, int64_t p1) { sweeps[i].columns(p0, p1); });
}

void panel_gemm_with(dense_isa isa, thread_pool& pool, const panel_weight& w, const float* x,
                     int64_t M, float* y) {
  const panel_weight* ws[] = {&w};
  float* ys[] = {y};
  panel_gemm_many_with(isa, pool, ws, x, M, ys);
}

namespace {
dense_isa best_panel_isa() {
  static const dense_isa best = panel_isa_supported(dense_isa::avx512) ? dense_isa::avx512
                                : panel_isa_supported(dense_isa::avx2) ? dense_isa::avx2
                                                                       : dense_isa::scalar;
  return best;
}
}  // namespace

void panel_gemm(thread_pool& pool, const panel_weight& w, const float* x, int64_t M, float* y) {
  panel_gemm_with(best_panel_isa(), pool, w, x, M, y);
}

void panel_gemm_many(thread_pool& pool, std::span<const panel_weight* const> ws, const float* x,
                     int64_t M, std::span<float* const> ys) {
  panel_gemm_many_with(best_panel_isa(), pool, ws, x, M, ys);
}

}  // namespace troupe::kernels::cpu
