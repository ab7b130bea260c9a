// quant_gemm_packed: W packed into 16-row tiles once (quant_blocks.hpp), x quantized and regrouped
// into 8-row panels per call, threads splitting N by 32 rows. On the VNNI path a thread sweeps
// blocks of 64 x rows: each 2-tile (32-row) slice of its W is swept by every panel group of the
// block while it is still in L1, the block's panels staying in L2. The AVX2 path does the same
// tile by tile for the 32-block formats (quant_packed_avx2.cpp); the K-quants run their own
// kernels on their own tiles (quant_kquant_vnni.cpp, VNNI and AVX2). The scalar path unpacks each
// tile back to its stored rows and runs quant_gemm's kernels on them (same bits).
#include <algorithm>
#include <cassert>
#include <new>

#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu {
namespace {

constexpr int64_t x_block_rows = 64;  // a multiple of panel_group_rows: blocks start on groups

int64_t tile_stride(block_format f, int64_t K) {
  if (quant::is_k_quant(f)) return K / quant::qk_k * quant::k_tile_block_bytes(f);
  return K / quant::qk * quant::packed_block_bytes(f);
}

// Row r of a packed tile back to its stored bytes.
void unpack_row(block_format f, const uint8_t* tile, int64_t K, int r, uint8_t* row) {
  if (quant::is_k_quant(f)) return quant::unpack_k_row(f, tile, K, r, row);
  quant::unpack_stored_row(f, tile, K, r, row);
}

struct scratch {
  quant::quantized_rows xq;   // the calling thread's
  quant::x_panels panels;     // the calling thread's
  std::vector<uint8_t> rows;  // each thread's: one tile unpacked to stored rows
};

scratch& thread_scratch() {
  thread_local scratch s;
  return s;
}

// Rows are independent, so any split gives the same bits; chunks start on panel groups.
void quantize(thread_pool& pool, block_format f, const float* x, int64_t M, int64_t K, bool panels,
              scratch& s) {
  quant::resize(s.xq, f, M, K);
  if (panels) quant::resize(s.panels, M, K / quant::qk);
  const int64_t num_tasks =
      std::max<int64_t>(1, std::min<int64_t>(pool.num_threads(), M * K / 8192));
  const int64_t g = quant::panel_group_rows;
  const int64_t chunk = ((M + num_tasks - 1) / num_tasks + g - 1) / g * g;
  auto rows = [&](int64_t m0, int64_t m1) {
    if (m0 >= m1) return;
    quant::quantize_rows(f, x, m0, m1, s.xq);
    if (panels) quant::fill_panels(f, s.xq, m0, m1, M, s.panels);
  };
  if (num_tasks == 1) return rows(0, M);
  pool.run(static_cast<int>(num_tasks),
           [&](int task) { rows(std::min(M, task * chunk), std::min(M, (task + 1) * chunk)); });
}

void vnni_columns(const quant_packed_weight& w, const quant::x_panels& panels, int64_t M,
                  int64_t n_begin, int64_t n_end, float* y) {
  const block_format f = w.format();
  const int64_t N = w.rows(), stride = tile_stride(f, w.cols()), nb = w.cols() / quant::qk;
  for (int64_t mb = 0; mb < M; mb += x_block_rows) {
    const int64_t me = std::min(M, mb + x_block_rows);
    for (int64_t n = n_begin; n < n_end; n += 2 * quant::tile_rows) {
      const int64_t left = n_end - n;
      const int num_tiles = left > quant::tile_rows ? 2 : 1;
      const int nr_last = static_cast<int>(
          std::min<int64_t>(quant::tile_rows, left - quant::tile_rows * (num_tiles - 1)));
      const uint8_t* tile = w.data() + n / quant::tile_rows * stride;
      for (int64_t m0 = mb; m0 < me; m0 += quant::panel_group_rows) {
        const int mr = static_cast<int>(std::min<int64_t>(quant::panel_group_rows, me - m0));
        quant::vnni_packed(f, tile, stride, num_tiles, panels.group(m0), mr, nb, y + m0 * N + n, N,
                           nr_last);
      }
    }
  }
}

// fn(tile, n, nr, m0, mr) for the tiles of columns [n_begin, n_end), one at a time, and every
// 8-row group of x in blocks of x_block_rows (the tile stays in L1 for the block's groups).
template <class F>
void for_tile_groups(const quant_packed_weight& w, int64_t M, int64_t n_begin, int64_t n_end,
                     F&& fn) {
  const int64_t stride = tile_stride(w.format(), w.cols());
  for (int64_t mb = 0; mb < M; mb += x_block_rows) {
    const int64_t me = std::min(M, mb + x_block_rows);
    for (int64_t n = n_begin; n < n_end; n += quant::tile_rows) {
      const int nr = static_cast<int>(std::min<int64_t>(quant::tile_rows, n_end - n));
      const uint8_t* tile = w.data() + n / quant::tile_rows * stride;
      for (int64_t m0 = mb; m0 < me; m0 += quant::panel_group_rows)
        fn(tile, n, nr, m0, static_cast<int>(std::min<int64_t>(quant::panel_group_rows, me - m0)));
    }
  }
}

// The K-quants' VNNI or AVX2 kernel (their own tiles, x's q8_K rows).
void k_columns(quant_path path, const quant_packed_weight& w, const quant::quantized_rows& xq,
               int64_t M, int64_t n_begin, int64_t n_end, float* y) {
  const block_format f = w.format();
  const int64_t N = w.rows(), nb = w.cols() / quant::qk_k;
  auto kernel = path == quant_path::avx512_vnni ? quant::vnni_k_tile : quant::avx2_k_tile;
  for_tile_groups(w, M, n_begin, n_end,
                  [&](const uint8_t* tile, int64_t n, int nr, int64_t m0, int mr) {
                    kernel(f, tile, nb, xq, m0, mr, y + m0 * N + n, N, nr);
                  });
}

// The AVX2 kernel on the packed tiles and x panels (the 32-block formats).
void avx2_columns(const quant_packed_weight& w, const quant::x_panels& panels, int64_t M,
                  int64_t n_begin, int64_t n_end, float* y) {
  const block_format f = w.format();
  const int64_t N = w.rows(), nb = w.cols() / quant::qk;
  for_tile_groups(w, M, n_begin, n_end,
                  [&](const uint8_t* tile, int64_t n, int nr, int64_t m0, int mr) {
                    quant::avx2_packed(f, tile, panels.group(m0), mr, nb, y + m0 * N + n, N, nr);
                  });
}

// Whether `path` runs the packed tiles and x panels directly (else tiles are unpacked to rows).
bool uses_panels(quant_path path, block_format f) {
  if (quant::is_k_quant(f)) return false;
  return path == quant_path::avx512_vnni || path == quant_path::avx2;
}

// The scalar path: each tile unpacked to its stored rows, quant_gemm's kernels on them.
void unpacked_columns(const quant_packed_weight& w, const quant::quantized_rows& xq, int64_t M,
                      int64_t n_begin, int64_t n_end, float* y) {
  const block_format f = w.format();
  const int64_t N = w.rows(), K = w.cols(), stride = tile_stride(f, K), rb = row_bytes(f, K);
  scratch& s = thread_scratch();
  s.rows.resize(quant::tile_rows * rb);
  for (int64_t n = n_begin; n < n_end; n += quant::tile_rows) {
    const int nr = static_cast<int>(std::min<int64_t>(quant::tile_rows, n_end - n));
    for (int r = 0; r < nr; ++r)
      unpack_row(f, w.data() + n / quant::tile_rows * stride, K, r, s.rows.data() + r * rb);
    quant::scalar_columns(f, xq, M, s.rows.data(), N, 0, nr, y + n);
  }
}

}  // namespace

void quant_packed_weight::aligned_delete::operator()(uint8_t* p) const {
  ::operator delete[](p, std::align_val_t{64});
}

quant_packed_weight::quant_packed_weight(block_format f, int64_t N, int64_t K, int64_t size_bytes)
    : format_(f),
      rows_(N),
      cols_(K),
      size_bytes_(size_bytes),
      data_(static_cast<uint8_t*>(
          ::operator new[](std::max<int64_t>(size_bytes, 1), std::align_val_t{64}))) {
  std::memset(data_.get(), 0, size_bytes);
}

std::shared_ptr<const quant_packed_weight> pack_quant_weight(block_format f, const uint8_t* w,
                                                             int64_t N, int64_t K) {
  assert(N >= 0 && K % block_elements(f) == 0);
  const int64_t rb = row_bytes(f, K);
  const int64_t num_tiles = (N + quant::tile_rows - 1) / quant::tile_rows;
  const int64_t stride = tile_stride(f, K);
  auto packed =
      std::shared_ptr<quant_packed_weight>(new quant_packed_weight(f, N, K, num_tiles * stride));
  for (int64_t t = 0; t < num_tiles; ++t) {
    const int nr = static_cast<int>(std::min<int64_t>(quant::tile_rows, N - t * quant::tile_rows));
    uint8_t* out = packed->data_.get() + t * stride;
    if (quant::is_k_quant(f)) {
      quant::pack_k_tile(f, w + t * quant::tile_rows * rb, K, nr, out);
    } else {
      quant::pack_stored_tile(f, w + t * quant::tile_rows * rb, K, nr, out);
    }
  }
  return packed;
}

void quant_packed_row(const quant_packed_weight& w, int64_t row, float* out) {
  const block_format f = w.format();
  const int64_t K = w.cols(), rb = row_bytes(f, K);
  assert(row >= 0 && row < w.rows());
  scratch& s = thread_scratch();
  s.rows.resize(rb);
  unpack_row(f, w.data() + row / quant::tile_rows * tile_stride(f, K), K,
             static_cast<int>(row % quant::tile_rows), s.rows.data());
  dequantize_row(f, s.rows.data(), K, out);
}

int64_t quant_packed_bytes(const quant_packed_weight& w) {
  return w.size_bytes();
}

void quant_gemm_packed_many_on(quant_path path, thread_pool& pool,
                               std::span<const quant_packed_weight* const> ws, const float* x,
                               int64_t M, std::span<float* const> ys) {
  assert(quant_path_supported(path));
  assert(ws.size() == ys.size());
  if (M == 0 || ws.empty()) return;
  const block_format f = ws[0]->format();
  const int64_t K = ws[0]->cols();
  std::vector<column_part> parts;
  for (const quant_packed_weight* w : ws) {
    assert(w->format() == f && w->cols() == K);
    // Chunks are whole 2-tile slices.
    parts.push_back({w->rows(), 4 * quant::tile_rows, 2 * quant::tile_rows});
  }
  scratch& s = thread_scratch();
  const bool k_quant = quant::is_k_quant(f);
  const bool vnni = path == quant_path::avx512_vnni;
  quantize(pool, f, x, M, K, uses_panels(path, f), s);
  run_column_tasks(pool, std::span<const column_part>(parts),
                   [&](size_t i, int64_t n0, int64_t n1) {
                     const quant_packed_weight& w = *ws[i];
                     if (k_quant && path != quant_path::scalar) {
                       k_columns(path, w, s.xq, M, n0, n1, ys[i]);
                     } else if (vnni) {
                       vnni_columns(w, s.panels, M, n0, n1, ys[i]);
                     } else if (uses_panels(path, f)) {
                       avx2_columns(w, s.panels, M, n0, n1, ys[i]);
                     } else {
                       unpacked_columns(w, s.xq, M, n0, n1, ys[i]);
                     }
                   });
}

void quant_gemm_packed_on(quant_path path, thread_pool& pool, const quant_packed_weight& w,
                          const float* x, int64_t M, float* y) {
  const quant_packed_weight* ws[] = {&w};
  float* ys[] = {y};
  quant_gemm_packed_many_on(path, pool, ws, x, M, ys);
}

void quant_gemm_packed(thread_pool& pool, const quant_packed_weight& w, const float* x, int64_t M,
                       float* y) {
  quant_gemm_packed_on(best_quant_path(), pool, w, x, M, y);
}

void quant_gemm_packed_many(thread_pool& pool, std::span<const quant_packed_weight* const> ws,
                            const float* x, int64_t M, std::span<float* const> ys) {
  quant_gemm_packed_many_on(best_quant_path(), pool, ws, x, M, ys);
}

}  // namespace troupe::kernels::cpu
