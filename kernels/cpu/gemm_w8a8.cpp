// gemm_w8a8: per-token int8 activations x per-channel int8 weights (contract and numerics:
// gemm_w8a8.hpp).
#include "kernels/cpu/gemm_w8a8.hpp"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/gemm_w8a8_tiles.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics pass an undefined vector as their unused merge source, which
// -W(maybe-)uninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu {
namespace {

// CUDA's cvt.rni.sat.s8.f32: NaN -> 0, else round half to even and saturate.
int8_t rn_sat_int8(float v) {
  if (std::isnan(v)) return 0;
  v = std::nearbyint(v);
  return static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
}

// CUDA's cvt.rni.sat.s32.f32.
int32_t rn_sat_int32(float v) {
  if (std::isnan(v)) return 0;
  v = std::nearbyint(v);
  if (v >= 2147483648.0f) return INT32_MAX;
  if (v <= -2147483648.0f) return INT32_MIN;
  return static_cast<int32_t>(v);
}

w8a8_token_scale quantize_symmetric(const float* x, int64_t K, int8_t* q) {
  float absmax = 0.0f;
  int64_t k = 0;
#if defined(__AVX512F__)
  // The same maximum (exact in any order; VMAXPS with the running maximum second skips a NaN as
  // fmax does), and the same conversions 16 at a time: x * inv rounded to nearest even (the
  // default rounding mode), |x * inv| <= 127 so no lane overflows, NaN lanes (0 * inf for a zero
  // row) set to 0.
  __m512 m = _mm512_setzero_ps();
  for (; k + 16 <= K; k += 16)
    m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k)), m);
  absmax = _mm512_reduce_max_ps(m);
#endif
  for (; k < K; ++k)
    absmax = std::fmax(absmax, std::fabs(x[k]));
  const float inv = 127.0f / absmax;
  k = 0;
#if defined(__AVX512F__)
  const __m512 vinv = _mm512_set1_ps(inv);
  for (; k + 16 <= K; k += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + k), vinv);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i i = _mm512_maskz_cvtps_epi32(static_cast<__mmask16>(~nan), v);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtsepi32_epi8(i));
  }
#endif
  for (; k < K; ++k)
    q[k] = rn_sat_int8(x[k] * inv);
  return {absmax / 127.0f, 0};
}

w8a8_token_scale quantize_asymmetric(const float* x, int64_t K, int8_t* q) {
  float max = FLT_MIN, min = FLT_MAX;
  for (int64_t k = 0; k < K; ++k) {
    max = std::max(max, x[k]);
    min = std::min(min, x[k]);
  }
  const float scale = (max - min) / 255.0f;
  if (!(scale > 0.0f)) {  // a constant row (see the header); NaN scales are not expected
    std::fill(q, q + K, int8_t{0});
    return {0.0f, 0};
  }
  const int32_t azp = rn_sat_int32(-128.0f - min / scale);
  for (int64_t k = 0; k < K; ++k) {
    const uint32_t v =
        static_cast<uint32_t>(rn_sat_int32(x[k] / scale)) + static_cast<uint32_t>(azp);
    q[k] = static_cast<int8_t>(std::clamp(static_cast<int32_t>(v), -128, 127));
  }
  return {scale, azp};
}

// The activations, quantized once per call and shared by every thread's columns.
struct quantized_rows {
  std::vector<int8_t> q;  // [M][ldq], zero padded
  std::vector<w8a8_token_scale> scales;
  std::vector<int32_t> sums;  // [M] sum of the row's q (the VNNI panels' offset)
  int64_t ldq = 0;
};

// padded_rows >= M: the rows q holds (those past M zero). row(m, scratch): x's row m, read in
// place or computed into scratch [K] (the task's own); tasks of at least min_rows rows.
template <class Row>
void quantize_rows_of(thread_pool& pool, int64_t M, int64_t K, bool asymmetric, int64_t padded_rows,
                      int64_t min_rows, Row&& row, quantized_rows& out) {
  out.ldq = (K + w8a8_detail::k_pad - 1) / w8a8_detail::k_pad * w8a8_detail::k_pad;
  out.q.assign(static_cast<size_t>(padded_rows * out.ldq), int8_t{0});
  out.scales.resize(static_cast<size_t>(M));
  out.sums.resize(static_cast<size_t>(M));
  run_range_tasks(pool, M, min_rows, [&](int64_t m0, int64_t m1) {
    thread_local std::vector<float> scratch;
    scratch.resize(static_cast<size_t>(K));
    for (int64_t m = m0; m < m1; ++m) {
      int8_t* q = out.q.data() + m * out.ldq;
      out.scales[m] = w8a8_quantize_token(row(m, scratch.data()), K, asymmetric, q);
      int32_t sum = 0;
      for (int64_t k = 0; k < K; ++k)
        sum += q[k];
      out.sums[m] = sum;
    }
  });
}

void quantize_rows(thread_pool& pool, const float* x, int64_t M, int64_t K, bool asymmetric,
                   int64_t padded_rows, quantized_rows& out) {
  // Small batches (decode) are quantized on the caller: waking the pool costs more. Larger ones
  // in a task a thread.
  const int64_t min_rows = M * K < (int64_t{1} << 16) ? std::max<int64_t>(M, 1) : 1;
  quantize_rows_of(
      pool, M, K, asymmetric, padded_rows, min_rows, [&](int64_t m, float*) { return x + m * K; },
      out);
}

// The calling thread's quantized rows. One buffer per calling thread: the executor calls every
// projection from the same thread. Workers must see the caller's buffer, not their own
// thread_local one, so callers take this reference before handing work to the pool.
quantized_rows& callers_rows() {
  thread_local quantized_rows buffer;
  return buffer;
}

w8a8_detail::tile_fn tile_of(w8a8_path path, int mr, int nr) {
  switch (path) {
    case w8a8_path::avx512_vnni:
    case w8a8_path::amx:
      return w8a8_detail::vnni_tile(mr, nr);
    case w8a8_path::avx2:
      return w8a8_detail::avx2_tile(mr, nr);
    case w8a8_path::scalar:
      break;
  }
  return w8a8_detail::scalar_tile(mr, nr);
}

constexpr int tile_rows = 4, tile_cols = 4;
constexpr int64_t m_block = 64;  // activation rows kept hot while a thread sweeps its W rows

// The VNNI path from panel_rows_min rows on: each 32-row slice of W is regrouped once into a
// panel (w8a8_detail::vnni_pack_panel) and every 8 x rows run against it, so W is reordered
// once per call instead of reduced lane by lane per output (the same exact sums).
constexpr int64_t panel_rows_min = 8;
constexpr int64_t panel_cols = 32;

void panel_columns(const quantized_rows& a, int64_t M, int64_t K, const int8_t* w,
                   const float* w_scale, const int32_t* row_sums, int64_t N, int64_t n_begin,
                   int64_t n_end, float* y) {
  thread_local std::vector<uint8_t> panel;
  panel.resize(static_cast<size_t>(w8a8_detail::vnni_panel_bytes(K)));
  alignas(64) int32_t acc[8 * panel_cols];
  for (int64_t n = n_begin; n < n_end; n += panel_cols) {
    const int nr = static_cast<int>(std::min<int64_t>(panel_cols, n_end - n));
    w8a8_detail::vnni_pack_panel(w + n * K, K, nr, panel.data());
    for (int64_t m = 0; m < M; m += 8) {
      const int mr = static_cast<int>(std::min<int64_t>(8, M - m));
      w8a8_detail::vnni_panel_rows(panel.data(), K, a.q.data() + m * a.ldq, a.ldq,
                                   a.sums.data() + m, mr, acc);
      for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j)
          y[(m + i) * N + n + j] = w8a8_dequantize(acc[i * panel_cols + j], a.scales[m + i],
                                                   row_sums[n + j], w_scale[n + j]);
    }
  }
}

// The AMX path: all x rows (q padded to whole 16-row tiles) against each 32-row slice of W in
// [n_begin, n_end), its B tiles from slice(n) (n a multiple of 32), then the epilogue. ready(n):
// slice n's tiles where they already exist (fetched ahead), else nullptr.
template <class Slice, class Ready>
void amx_columns(const quantized_rows& a, int64_t M, const float* w_scale, const int32_t* row_sums,
                 int64_t N, int64_t n_begin, int64_t n_end, float* y, Slice&& slice,
                 Ready&& ready) {
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>((M + 15) / 16 * 16 * panel_cols));
  const w8a8_detail::amx_tile_scope tiles(M);
  for (int64_t n = n_begin; n < n_end; n += panel_cols) {
    const int nr = static_cast<int>(std::min<int64_t>(panel_cols, n_end - n));
    const int8_t* next = n + panel_cols < N ? ready(n + panel_cols) : nullptr;
    w8a8_detail::amx_panel_rows(slice(n, nr), a.ldq, a.q.data(), M, acc.data(), next);
    w8a8_detail::amx_dequantize(acc.data(), M, a.scales.data(), row_sums + n, w_scale + n, nr,
                                y + n, N);
  }
}

// Columns [n_begin, n_end) of y for every row.
void columns(w8a8_path path, const quantized_rows& a, int64_t M, int64_t K, const int8_t* w,
             const float* w_scale, const int32_t* row_sums, int64_t N, int64_t n_begin,
             int64_t n_end, float* y) {
  int32_t acc[tile_rows][tile_cols];
  for (int64_t m0 = 0; m0 < M; m0 += m_block) {
    const int64_t m1 = std::min(M, m0 + m_block);
    for (int64_t n = n_begin; n < n_end; n += tile_cols) {
      const int nr = static_cast<int>(std::min<int64_t>(tile_cols, n_end - n));
      for (int64_t m = m0; m < m1; m += tile_rows) {
        const int mr = static_cast<int>(std::min<int64_t>(tile_rows, m1 - m));
        tile_of(path, mr, nr)(a.q.data() + m * a.ldq, a.ldq, K, w + n * K, row_sums + n, acc);
        for (int i = 0; i < mr; ++i)
          for (int j = 0; j < nr; ++j)
            y[(m + i) * N + n + j] =
                w8a8_dequantize(acc[i][j], a.scales[m + i], row_sums[n + j], w_scale[n + j]);
      }
    }
  }
}

}  // namespace

std::vector<int32_t> w8a8_row_sums(const int8_t* w, int64_t N, int64_t K) {
  std::vector<int32_t> sums(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k)
      s += w[n * K + k];
    sums[n] = s;
  }
  return sums;
}

w8a8_token_scale w8a8_quantize_token(const float* x, int64_t K, bool asymmetric, int8_t* q) {
  return asymmetric ? quantize_asymmetric(x, K, q) : quantize_symmetric(x, K, q);
}

const char* w8a8_path_name(w8a8_path path) {
  switch (path) {
    case w8a8_path::avx512_vnni:
      return "avx512_vnni";
    case w8a8_path::amx:
      return "amx";
    case w8a8_path::avx2:
      return "avx2";
    case w8a8_path::scalar:
      break;
  }
  return "scalar";
}

const std::vector<w8a8_path>& w8a8_supported_paths() {
  static const std::vector<w8a8_path> paths = [] {
    const cpu_features& f = detect_cpu_features();
    std::vector<w8a8_path> p{w8a8_path::scalar};
    if (f.avx2) p.push_back(w8a8_path::avx2);
    if (f.avx512f && f.avx512bw && f.avx512_vnni) p.push_back(w8a8_path::avx512_vnni);
    if (p.back() == w8a8_path::avx512_vnni && f.amx_int8) p.push_back(w8a8_path::amx);
    return p;
  }();
  return paths;
}

void gemm_w8a8_on(w8a8_path path, thread_pool& pool, const float* x, int64_t M, int64_t K,
                  const int8_t* w, const float* w_scale, const int32_t* row_sums, int64_t N,
                  bool asymmetric, float* y) {
  assert(K >= 0 && K <= w8a8_max_k);
  if (M <= 0 || N <= 0) return;
  quantized_rows& a = callers_rows();
  const bool amx = path == w8a8_path::amx && M >= w8a8_amx_min_rows;
  quantize_rows(pool, x, M, K, asymmetric, amx ? (M + 15) / 16 * 16 : M, a);
  if (amx) {
    return run_column_tasks(pool, N, 2 * panel_cols, panel_cols, [&](int64_t n0, int64_t n1) {
      thread_local std::vector<int8_t> panel;
      panel.resize(static_cast<size_t>(w8a8_detail::amx_panel_bytes(a.ldq)));
      amx_columns(
          a, M, w_scale, row_sums, N, n0, n1, y,
          [&](int64_t n, int nr) {
            w8a8_detail::amx_pack_panel(w + n * K, K, a.ldq, nr, panel.data());
            return panel.data();
          },
          [](int64_t) -> const int8_t* { return nullptr; });
    });
  }
  if ((path == w8a8_path::avx512_vnni || path == w8a8_path::amx) && M >= panel_rows_min) {
    return run_column_tasks(pool, N, 2 * panel_cols, panel_cols, [&](int64_t n0, int64_t n1) {
      panel_columns(a, M, K, w, w_scale, row_sums, N, n0, n1, y);
    });
  }
  run_column_tasks(pool, N, 32, tile_cols, [&](int64_t n0, int64_t n1) {
    columns(path, a, M, K, w, w_scale, row_sums, N, n0, n1, y);
  });
}

w8a8_tiles::w8a8_tiles(int64_t N, int64_t K)
    : N_(N), K_(K), data_(static_cast<size_t>((N + 31) / 32 * slice_bytes())) {}

int64_t w8a8_tiles::slice_bytes() const {
  return w8a8_detail::amx_panel_bytes((K_ + w8a8_detail::k_pad - 1) / w8a8_detail::k_pad *
                                      w8a8_detail::k_pad);
}

bool w8a8_tiles_supported() {
  return w8a8_supported_paths().back() == w8a8_path::amx;
}

w8a8_tiles pack_w8a8_tiles(const int8_t* w, int64_t N, int64_t K) {
  assert(w8a8_tiles_supported() && K >= 0 && K <= w8a8_max_k);
  w8a8_tiles tiles(N, K);
  const int64_t ldq = (K + w8a8_detail::k_pad - 1) / w8a8_detail::k_pad * w8a8_detail::k_pad;
  for (int64_t n = 0; n < N; n += panel_cols) {
    const int nr = static_cast<int>(std::min<int64_t>(panel_cols, N - n));
    w8a8_detail::amx_pack_panel(w + n * K, K, ldq, nr, tiles.mutable_slice(n / panel_cols));
  }
  return tiles;
}

void w8a8_tiles_row(const w8a8_tiles& w, int64_t n, int8_t* out) {
  assert(n >= 0 && n < w.rows());
  const int8_t* slice = w.slice(n / panel_cols);
  for (int64_t k = 0; k < w.cols(); ++k)
    out[k] = slice[w8a8_detail::amx_panel_offset(k, static_cast<int>(n % panel_cols))];
}

void gemm_w8a8_tiles(thread_pool& pool, const float* x, int64_t M, const w8a8_tiles& w,
                     const float* w_scale, const int32_t* row_sums, bool asymmetric, float* y) {
  const w8a8_tiles_product product[] = {{&w, w_scale, row_sums, y}};
  gemm_w8a8_tiles_many(pool, x, M, product, asymmetric);
}

// Every product's column tasks against the quantized rows a, as one job.
void run_tiles_products(thread_pool& pool, const quantized_rows& a, int64_t M,
                        std::span<const w8a8_tiles_product> products) {
  std::vector<column_part> parts;
  for (const w8a8_tiles_product& p : products) {
    assert(p.w->cols() == products[0].w->cols());
    parts.push_back({p.w->rows(), 2 * panel_cols, panel_cols});
  }
  run_column_tasks(pool, std::span<const column_part>(parts),
                   [&](size_t i, int64_t n0, int64_t n1) {
                     const w8a8_tiles_product& p = products[i];
                     auto slice = [&](int64_t n) { return p.w->slice(n / panel_cols); };
                     amx_columns(
                         a, M, p.w_scale, p.row_sums, p.w->rows(), n0, n1, p.y,
                         [&](int64_t n, int) { return slice(n); }, slice);
                   });
}

void gemm_w8a8_tiles_many(thread_pool& pool, const float* x, int64_t M,
                          std::span<const w8a8_tiles_product> products, bool asymmetric) {
  assert(w8a8_tiles_supported());
  if (M <= 0 || products.empty()) return;
  quantized_rows& a = callers_rows();
  quantize_rows(pool, x, M, products[0].w->cols(), asymmetric, (M + 15) / 16 * 16, a);
  run_tiles_products(pool, a, M, products);
}

void gemm_w8a8_tiles_silu(thread_pool& pool, const float* gate, const float* up, int64_t M,
                          const w8a8_tiles& w, const float* w_scale, const int32_t* row_sums,
                          bool asymmetric, float* y) {
  assert(w8a8_tiles_supported());
  const int64_t K = w.cols();
  if (M <= 0 || w.rows() <= 0) return;
  quantized_rows& a = callers_rows();
  quantize_rows_of(
      pool, M, K, asymmetric, (M + 15) / 16 * 16, silu_rows_per_task(K),
      [&](int64_t m, float* row) {
        silu_mul(gate + m * K, up + m * K, K, row);
        return static_cast<const float*>(row);
      },
      a);
  const w8a8_tiles_product product[] = {{&w, w_scale, row_sums, y}};
  run_tiles_products(pool, a, M, product);
}

void gemm_w8a8(thread_pool& pool, const float* x, int64_t M, int64_t K, const int8_t* w,
               const float* w_scale, const int32_t* row_sums, int64_t N, bool asymmetric,
               float* y) {
  gemm_w8a8_on(w8a8_supported_paths().back(), pool, x, M, K, w, w_scale, row_sums, N, asymmetric,
               y);
}

}  // namespace troupe::kernels::cpu
