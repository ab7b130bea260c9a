// amx_gemm: bf16(x) [M][K] * W^T on AMX tiles or AVX512-BF16 register tiles, W in pairs of
// TDPBF16PS B tiles (contract and layout: amx_gemm.hpp). Each engine's code is compiled for its
// instructions by function attributes whatever the build flags, and runs only where
// bf16_tile_engine_supported() (callers check; asserted here).
#include "kernels/cpu/amx_gemm.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/half.hpp"

#if defined(__x86_64__)
#include "kernels/cpu/amx_tiles.hpp"
// GCC 12's _mm512_undefined_*() (inside the AVX-512 intrinsics) is a deliberate
// self-initialization that its own -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define TROUPE_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16")))
#define TROUPE_AMX_INLINE __attribute__((always_inline)) inline

#define TROUPE_BF16_DOT __attribute__((target("avx512f,avx512bw,avx512bf16")))
#endif

namespace troupe::kernels::cpu {

namespace {

constexpr int64_t block_cols = amx_weight::block_cols;
constexpr int64_t block_k = amx_weight::block_k;
constexpr int64_t tile_rows = 16;                // rows of every tile register
constexpr int64_t tile_bytes = 1024;             // one B tile: 16 rows x 64 bytes
constexpr int64_t block_bytes = 2 * tile_bytes;  // a pair's k block: its two B tiles

// Byte offset of w[n][k] in the packed layout (amx_gemm.hpp).
int64_t packed_offset(const amx_weight& w, int64_t n, int64_t k) {
  const int64_t pair = n / (2 * block_cols), half = (n / block_cols) % 2, c = n % block_cols;
  const int64_t b = k / block_k, r = (k % block_k) / 2, e = k % 2;
  return pair * w.pair_bytes() + b * block_bytes + half * tile_bytes + r * 64 + c * 4 + e * 2;
}

}  // namespace

amx_weight::amx_weight(int64_t N, int64_t K) : N_(N), K_(K) {
  if (size_bytes() > 0) {
    data_ = static_cast<uint8_t*>(::operator new(size_bytes(), std::align_val_t(64)));
    std::memset(data_, 0, size_bytes());
  }
}

amx_weight::~amx_weight() {
  if (data_) ::operator delete(data_, std::align_val_t(64));
}

std::shared_ptr<const amx_weight> pack_amx_weight(const uint16_t* w, int64_t N, int64_t K) {
  auto packed = std::make_shared<amx_weight>(N, K);
  uint8_t* data = packed->mutable_data();
  for (int64_t n = 0; n < N; ++n) {
    const uint16_t* row = w + n * K;
    for (int64_t k = 0; k < K; ++k)
      std::memcpy(data + packed_offset(*packed, n, k), row + k, 2);
  }
  return packed;
}

void amx_weight_row(const amx_weight& w, int64_t n, float* out) {
  assert(n >= 0 && n < w.rows());
  for (int64_t k = 0; k < w.cols(); ++k) {
    uint16_t bits;
    std::memcpy(&bits, w.data() + packed_offset(w, n, k), 2);
    out[k] = bf16_to_f32(bits);
  }
}

bool bf16_tile_engine_supported(bf16_tile_engine engine) {
  const cpu_features& f = detect_cpu_features();
  const bool dot = f.avx512_bf16 && f.avx512bw;
  return engine == bf16_tile_engine::amx ? dot && f.amx_bf16 : dot;
}

std::optional<bf16_tile_engine> best_bf16_tile_engine() {
  if (bf16_tile_engine_supported(bf16_tile_engine::amx)) return bf16_tile_engine::amx;
  if (detect_cpu_features().amd && bf16_tile_engine_supported(bf16_tile_engine::avx512_bf16))
    return bf16_tile_engine::avx512_bf16;
  return std::nullopt;
}

bool bf16_tiles_supported() {
  return best_bf16_tile_engine().has_value();
}

const char* describe(bf16_tile_engine engine) {
  return engine == bf16_tile_engine::amx ? "AMX tiles" : "AVX512-BF16 dot products";
}

#if defined(__x86_64__)

namespace {

// Rows [r0, r1) of x rounded to bf16 into xb (row stride kp >= K, a multiple of 16); columns
// [K, kp) get zeros.
TROUPE_BF16_DOT void convert_rows(const float* x, int64_t K, int64_t kp, int64_t r0, int64_t r1,
                                  uint16_t* xb) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* src = x + r * K;
    uint16_t* dst = xb + r * kp;
    for (int64_t k = 0; k < kp; k += 16) {
      const int64_t left = std::clamp<int64_t>(K - k, 0, 16);
      const __mmask16 valid = static_cast<__mmask16>((1u << left) - 1u);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(valid, src + k));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), reinterpret_cast<const __m256i&>(h));
    }
  }
}

// y's tile at rows [m0, m0 + 16), columns [n0, n0 + 16) from the f32 tile in buf (row stride 16),
// cut to M rows and N columns (a tile configured with fewer rows stores only those).
void store_part(const float* buf, int64_t m0, int64_t n0, int64_t M, int64_t N, float* y) {
  const int64_t rows = std::min(tile_rows, M - m0), cols = std::min(block_cols, N - n0);
  for (int64_t i = 0; i < rows && cols > 0; ++i)
    std::memcpy(y + (m0 + i) * N + n0, buf + i * block_cols, cols * sizeof(float));
}

// Whether y's tile at (m0, n0) lies wholly inside [M][N] (then tiles are stored straight to y).
bool whole(int64_t m0, int64_t n0, int64_t M, int64_t N) {
  return m0 + tile_rows <= M && n0 + block_cols <= N;
}

// The C tile `t` to y's tile at (m0, n0). tilestored names its register in the instruction, so
// the tile number is a literal of each expansion.
#define TROUPE_AMX_STORE(t, m0, n0)                          \
  do {                                                       \
    if (whole(m0, n0, M, N)) {                               \
      _tile_stored(t, y + (m0)*N + (n0), N * sizeof(float)); \
    } else if ((n0) < N) {                                   \
      alignas(64) float buf[tile_rows * block_cols];         \
      _tile_stored(t, buf, block_cols * sizeof(float));      \
      store_part(buf, m0, n0, M, N, y);                      \
    }                                                        \
  } while (0)

// TDPBF16PS for amx::sweep.
struct bf16_dot {
  TROUPE_AMX_INLINE static void c0() { _tile_dpbf16ps(0, 4, 6); }
  TROUPE_AMX_INLINE static void c1() { _tile_dpbf16ps(1, 4, 7); }
  TROUPE_AMX_INLINE static void c2() { _tile_dpbf16ps(2, 5, 6); }
  TROUPE_AMX_INLINE static void c3() { _tile_dpbf16ps(3, 5, 7); }
};

// Rows [m0, m0 + 16 * (Two ? 2 : 1)) of xb against pair p of w: C0/C1 (rows of A0 x the pair's
// two blocks) and, for Two, C2/C3 (A1's). Every C element gets the same k steps whatever M.
template <bool Two, bool Prefetch>
TROUPE_AMX void pair_rows(const amx_weight& w, int64_t p, const uint16_t* xb, int64_t m0, int64_t M,
                          float* y, amx::l2_prefetch ahead) {
  const int64_t kp = w.padded_cols(), N = w.rows(), n0 = p * 2 * block_cols;
  const uint8_t* bp = w.data() + p * w.pair_bytes();
  amx::sweep<Two, bf16_dot, Prefetch>(reinterpret_cast<const uint8_t*>(xb + m0 * kp),
                                      tile_rows * kp * 2, static_cast<long>(kp * 2), block_k * 2,
                                      bp, kp / block_k, ahead);
  TROUPE_AMX_STORE(0, m0, n0);
  TROUPE_AMX_STORE(1, m0, n0 + block_cols);
  if constexpr (Two) {
    TROUPE_AMX_STORE(2, m0 + tile_rows, n0);
    TROUPE_AMX_STORE(3, m0 + tile_rows, n0 + block_cols);
  }
}

#undef TROUPE_AMX_STORE

// Pairs [p0, p1) of w for every row of xb: a pair's weights stay in L2 while the rows pass. With
// more than one block of 32 rows, the next pair's weights come from memory into L2 meanwhile
// (amx::prefetch_over_row_blocks): the tile loads wait for memory in order, and the hardware
// prefetchers do not run far enough ahead (measured: prefill steps about 10% faster).
TROUPE_AMX void pairs(const amx_weight& w, int64_t p0, int64_t p1, const uint16_t* xb, int64_t M,
                      float* y) {
  amx::configure_tiles(M);
  for (int64_t p = p0; p < p1; ++p) {
    const uint8_t* next = p + 1 < w.num_pairs() ? w.data() + (p + 1) * w.pair_bytes() : nullptr;
    amx::l2_prefetch ahead = amx::prefetch_over_row_blocks(next, M);
    for (int64_t m0 = 0; m0 < M; m0 += 2 * tile_rows) {
      if (M - m0 <= tile_rows)
        pair_rows<false, false>(w, p, xb, m0, M, y, ahead);
      else if (ahead.lines == 0)
        pair_rows<true, false>(w, p, xb, m0, M, y, ahead);
      else
        pair_rows<true, true>(w, p, xb, m0, M, y, ahead);
      ahead.advance(w.padded_cols() / block_k);
    }
  }
  _tile_release();
}

// -- avx512_bf16 --

// Sums a register tile can hold: 24 of the 32 zmm registers (the rest load weights and x).
constexpr int max_dot_rows(int P) {
  return 24 / (2 * P);
}

// k pair k2 of x's R rows (dwords of the pairs, row stride ldx) times the blocks [H0, H1) (0, 1
// or both) of pairs [p, p + P) (at b, pair_bytes apart) into their sums. k pair k2 is row k2 % 16
// of k block k2 / 16 in each block. A one-pair tile asks L1 for each line it reads 4 k blocks on
// (2 threads: 12-row tiles over the 49152 x 576 LM head 6.7 -> 3.7 ms); tiles of several pairs
// stream memory in order and prefetch nothing (one block ahead: 10-20% slower from DRAM).
template <int R, int P, int H0, int H1>
TROUPE_BF16_DOT TROUPE_AMX_INLINE void dot_step(__m512 (&acc)[R][2 * P], const uint8_t* b,
                                                int64_t pair_bytes, const uint32_t* x, int64_t ldx,
                                                int64_t k2) {
  constexpr int64_t ahead = 4 * block_bytes;
  const uint8_t* row = b + (k2 / 16) * block_bytes + (k2 % 16) * 64;
  __m512bh wv[2 * P];
#pragma GCC unroll 4
  for (int q = 0; q < P; ++q) {
#pragma GCC unroll 2
    for (int h = H0; h < H1; ++h) {
      const uint8_t* line = row + q * pair_bytes + h * tile_bytes;
      if constexpr (P == 1) _mm_prefetch(reinterpret_cast<const char*>(line + ahead), _MM_HINT_T0);
      wv[2 * q + h] = (__m512bh)_mm512_load_si512(line);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    const auto xv = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[i * ldx + k2]));
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) {
#pragma GCC unroll 2
      for (int h = H0; h < H1; ++h)
        acc[i][2 * q + h] = _mm512_dpbf16_ps(acc[i][2 * q + h], xv, wv[2 * q + h]);
    }
  }
}

// Rows [m0, m0 + R) of xb against pairs [p, p + P) of w, to y: R x 2P sums of 16 columns, each one
// chain of VDPBF16PS over k in pairs (the same steps for every row, whatever R, P or M). With
// several pairs (a decode batch: memory bound) a k block's first blocks go before its second
// ones, so each pair is read in memory order, one stream a pair; 12 rows of one pair read both
// blocks a k step, each x value broadcast once for both.
template <int R, int P>
TROUPE_BF16_DOT void dot_tile(const amx_weight& w, int64_t p, const uint16_t* xb, int64_t m0,
                              int64_t M, float* y) {
  const int64_t kp = w.padded_cols(), N = w.rows(), ldx = kp / 2;
  const auto* x = reinterpret_cast<const uint32_t*>(xb + m0 * kp);  // (k, k + 1) pairs
  const uint8_t* b = w.data() + p * w.pair_bytes();
  __m512 acc[R][2 * P];
#pragma GCC unroll 24
  for (auto& row : acc)
#pragma GCC unroll 8
    for (auto& sum : row)
      sum = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < ldx; k0 += block_k / 2) {
    if constexpr (P > 1) {
      for (int64_t k2 = k0; k2 < k0 + block_k / 2; ++k2)
        dot_step<R, P, 0, 1>(acc, b, w.pair_bytes(), x, ldx, k2);
      for (int64_t k2 = k0; k2 < k0 + block_k / 2; ++k2)
        dot_step<R, P, 1, 2>(acc, b, w.pair_bytes(), x, ldx, k2);
    } else {
      for (int64_t k2 = k0; k2 < k0 + block_k / 2; ++k2)
        dot_step<R, P, 0, 2>(acc, b, w.pair_bytes(), x, ldx, k2);
    }
  }
  const int64_t n0 = p * 2 * block_cols;
  for (int i = 0; i < R && m0 + i < M; ++i) {
    for (int j = 0; j < 2 * P; ++j) {
      const int64_t n = n0 + j * block_cols, cols = std::clamp<int64_t>(N - n, 0, block_cols);
      if (cols > 0)
        _mm512_mask_storeu_ps(y + (m0 + i) * N + n, static_cast<__mmask16>((1u << cols) - 1u),
                              acc[i][j]);
    }
  }
}

// How many pairs a register tile of a product of M rows takes.
int64_t dot_tile_pairs(int64_t M) {
  return M <= max_dot_rows(4) ? 4 : M <= max_dot_rows(2) ? 2 : 1;
}

// dot_tile<rows, P> for a run-time rows in [1, max_dot_rows(P)].
template <int P, int R = 1>
void dot_rows(int64_t rows, const amx_weight& w, int64_t p, const uint16_t* xb, int64_t m0,
              int64_t M, float* y) {
  if constexpr (R < max_dot_rows(P)) {
    if (rows != R) return dot_rows<P, R + 1>(rows, w, p, xb, m0, M, y);
  }
  dot_tile<R, P>(w, p, xb, m0, M, y);
}

// Pairs [p0, p1) of w for every row of xb: 12-row tiles of one pair while a pair's weights stay in
// L2, the next pair's fetched into L2 meanwhile, a share with each tile (2-3% off a mixed step's
// products); a batch of at most 6 rows takes 2 or 4 pairs at once instead.
void dot_pairs(const amx_weight& w, int64_t p0, int64_t p1, const uint16_t* xb, int64_t M,
               float* y) {
  const int64_t wide = dot_tile_pairs(M);
  for (int64_t p = p0; p < p1;) {
    const int64_t left = std::min(wide, p1 - p);
    const int P = left >= 4 ? 4 : left >= 2 ? 2 : 1;
    const int64_t tiles = (M + max_dot_rows(P) - 1) / max_dot_rows(P);
    const int64_t lines = w.pair_bytes() / 64, share = (lines + tiles - 1) / tiles;
    const uint8_t* next = p + P < w.num_pairs() ? w.data() + (p + P) * w.pair_bytes() : nullptr;
    for (int64_t m0 = 0, t = 0; m0 < M; m0 += max_dot_rows(P), ++t) {
      const int64_t rows = std::min<int64_t>(M - m0, max_dot_rows(P));
      if (next != nullptr && tiles > 1) {
        for (int64_t l = t * share; l < std::min(lines, (t + 1) * share); ++l)
          _mm_prefetch(reinterpret_cast<const char*>(next + l * 64), _MM_HINT_T1);
      }
      if (P == 4)
        dot_rows<4>(rows, w, p, xb, m0, M, y);
      else if (P == 2)
        dot_rows<2>(rows, w, p, xb, m0, M, y);
      else
        dot_rows<1>(rows, w, p, xb, m0, M, y);
    }
    p += P;
  }
}

// bf16 of M rows of K values in the calling thread's scratch: [ceil(M / 16) * 16][kp], padding
// zero; convert(r0, r1, xb) writes rows [r0, r1), at least min_rows a task.
template <class Convert>
const uint16_t* converted_x(thread_pool& pool, int64_t M, int64_t kp, int64_t min_rows,
                            Convert&& convert) {
  const int64_t rows = (M + tile_rows - 1) / tile_rows * tile_rows;
  thread_local std::vector<uint16_t> scratch;
  if (static_cast<int64_t>(scratch.size()) < rows * kp) scratch.resize(rows * kp);
  uint16_t* xb = scratch.data();
  std::memset(xb + M * kp, 0, (rows - M) * kp * sizeof(uint16_t));
  run_range_tasks(pool, M, min_rows, [&](int64_t r0, int64_t r1) { convert(r0, r1, xb); });
  return xb;
}

// Every product's column tasks as one job, on `engine`.
void run_products(bf16_tile_engine engine, thread_pool& pool, std::span<const amx_weight* const> ws,
                  const uint16_t* xb, int64_t M, std::span<float* const> ys) {
  // The dot engine's tasks take whole register tiles of pairs (a decode batch's 2 or 4).
  const int64_t unit = engine == bf16_tile_engine::amx ? 1 : dot_tile_pairs(M);
  std::vector<column_part> parts;
  for (const amx_weight* w : ws)
    parts.push_back({w->num_pairs(), 1, unit});
  run_column_tasks(pool, std::span<const column_part>(parts),
                   [&](size_t i, int64_t p0, int64_t p1) {
                     if (engine == bf16_tile_engine::amx)
                       pairs(*ws[i], p0, p1, xb, M, ys[i]);
                     else
                       dot_pairs(*ws[i], p0, p1, xb, M, ys[i]);
                   });
}

}  // namespace

void amx_gemm_many_with(bf16_tile_engine engine, thread_pool& pool,
                        std::span<const amx_weight* const> ws, const float* x, int64_t M,
                        std::span<float* const> ys) {
  assert(ws.size() == ys.size());
  assert(bf16_tile_engine_supported(engine));
  if (M == 0 || ws.empty()) return;
  const int64_t K = ws[0]->cols(), kp = ws[0]->padded_cols();
  assert(std::all_of(ws.begin(), ws.end(), [&](const amx_weight* w) { return w->cols() == K; }));
  const uint16_t* xb = converted_x(pool, M, kp, 32, [&](int64_t r0, int64_t r1, uint16_t* out) {
    convert_rows(x, K, kp, r0, r1, out);
  });
  run_products(engine, pool, ws, xb, M, ys);
}

void amx_gemm_silu_with(bf16_tile_engine engine, thread_pool& pool, const amx_weight& w,
                        const float* gate, const float* up, int64_t M, float* y) {
  assert(bf16_tile_engine_supported(engine));
  if (M == 0) return;
  const int64_t K = w.cols(), kp = w.padded_cols();
  const uint16_t* xb =
      converted_x(pool, M, kp, silu_rows_per_task(K), [&](int64_t r0, int64_t r1, uint16_t* out) {
        thread_local std::vector<float> row;
        row.resize(static_cast<size_t>(K));
        for (int64_t r = r0; r < r1; ++r) {
          silu_mul(gate + r * K, up + r * K, K, row.data());
          convert_rows(row.data(), K, kp, 0, 1, out + r * kp);
        }
      });
  const amx_weight* ws[] = {&w};
  float* ys[] = {y};
  run_products(engine, pool, ws, xb, M, ys);
}

#else

void amx_gemm_many_with(bf16_tile_engine, thread_pool&, std::span<const amx_weight* const>,
                        const float*, int64_t, std::span<float* const>) {
  assert(!"amx_gemm needs x86-64 AMX or AVX512-BF16");
}

void amx_gemm_silu_with(bf16_tile_engine, thread_pool&, const amx_weight&, const float*,
                        const float*, int64_t, float*) {
  assert(!"amx_gemm needs x86-64 AMX or AVX512-BF16");
}

#endif

void amx_gemm_many(thread_pool& pool, std::span<const amx_weight* const> ws, const float* x,
                   int64_t M, std::span<float* const> ys) {
  amx_gemm_many_with(*best_bf16_tile_engine(), pool, ws, x, M, ys);
}

void amx_gemm_silu(thread_pool& pool, const amx_weight& w, const float* gate, const float* up,
                   int64_t M, float* y) {
  amx_gemm_silu_with(*best_bf16_tile_engine(), pool, w, gate, up, M, y);
}

void amx_gemm(thread_pool& pool, const amx_weight& w, const float* x, int64_t M, float* y) {
  const amx_weight* ws[] = {&w};
  float* ys[] = {y};
  amx_gemm_many(pool, ws, x, M, ys);
}

}  // namespace troupe::kernels::cpu
