#pragma once
// panel_gemm: y = x * W^T as an outer-product GEMM over W repacked into column panels.
//
//   x: [M][K]  f32 rows of the batch (tokens), row-major
//   W: [N][K]  weights in `type` (f32, or bf16/f16 as uint16_t bits, widened exactly as in
//              dense_gemm.hpp), repacked once by pack_panels()
//   y: [M][N]  y[m][n] = panel_dot(x[m, :], widen(W[n, :]))
//
// The one algorithm for every output element (batch invariant by construction):
//
//   acc = 0;  for k = 0, 1, ..., K - 1:  acc = fma(x[m][k], widen(w[n][k]), acc)   (one rounding)
//
// one strictly sequential chain per output: no lanes, no reduction tree, K is never split into
// partial sums added later. The kernel may stop a chain after a block of k, store acc in y and
// pick it up again (exact), so its bits never depend on M, N, the register tile, the k blocks,
// the thread split or the instruction set (AVX-512F, AVX2+FMA+F16C, scalar std::fma; chosen at
// run time, tests check each this CPU has). These are not dense_gemm's bits (16 lanes + tree).
//
// Packed layout: panels of 32 columns (W rows), each k-major; the last panel zero-padded.
//
//   panel p = W rows [32p, 32p + 32):   row k: | c0 c1 ... c31 |  (32 values, 128 B f32 / 64 B)
//   f32, f16: column c at position c.
//   bf16:     the 16 dwords of a row hold (low, high) = (c, c + 16), so one 64-byte load widens
//             to columns 0-15 by `dword << 16` and to columns 16-31 by `dword & 0xffff0000`
//             (two cheap ALU ops instead of a port-5 shuffle per vector).
//
// The microkernel (AVX-512) keeps up to 12 x rows x 32 columns = 24 zmm accumulators; per k it
// loads one panel row (2 vectors after widening) and broadcasts the 12 x values (packed k-major
// per row group, once per call), 24 FMAs. A lone group of few rows (decode) takes 2-4 panels at
// once instead so enough FMA chains are in flight. AVX2: 6 rows x 16 columns per half panel.
//
// Memory: pack_panels() holds ceil(N / 32) * 32 * K values of the weight's type (W's own size
// plus < 32 padded rows), 64-byte aligned. Each call packs x into a per-thread scratch buffer of
// M * K floats (kept and reused by the calling thread).
//
// Measured: see the table at the end of this comment (benchmarks/panel_gemm_bench).
#include <cstdint>
#include <memory>

#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

// W [N][K] in its panel layout. Immutable once built; owns its memory; may be shared by threads.
class panel_weight {
 public:
  static constexpr int64_t panel_cols = 32;

  panel_weight(dense_type type, int64_t N, int64_t K);
  ~panel_weight();
  panel_weight(const panel_weight&) = delete;
  panel_weight& operator=(const panel_weight&) = delete;

  dense_type type() const { return type_; }
  int64_t rows() const { return N_; }  // N
  int64_t cols() const { return K_; }  // K
  int64_t num_panels() const { return (N_ + panel_cols - 1) / panel_cols; }
  int64_t element_bytes() const { return type_ == dense_type::f32 ? 4 : 2; }
  int64_t panel_bytes() const { return K_ * panel_cols * element_bytes(); }
  int64_t size_bytes() const { return num_panels() * panel_bytes(); }
  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() { return data_; }  // for pack_panels() only

 private:
  dense_type type_;
  int64_t N_, K_;
  uint8_t* data_ = nullptr;
};

// W [N][K] (f32 / bf16 / f16 bits as `type`) repacked. requires: N, K >= 0; w holds N * K values.
// W may be freed afterwards.
std::shared_ptr<const panel_weight> pack_panels(dense_type type, const void* w, int64_t N,
                                                int64_t K);

// y[M][N] = x[M][K] * W^T by the algorithm above. requires: M >= 0; x [M][w.cols()], y
// [M][w.rows()]; y does not alias x or W. Called from one thread at a time per pool.
void panel_gemm(thread_pool& pool, const panel_weight& w, const float* x, int64_t M, float* y);

// The same algorithm for one output, in portable scalar code (the reference tests compare with);
// w_row is W row n in its original (unpacked) layout.
float panel_dot_scalar(dense_type type, const float* x, const void* w_row, int64_t K);

// Row n of W widened to f32 (out [K]), exactly. requires: 0 <= n < w.rows().
void panel_row(const panel_weight& w, int64_t n, float* out);

// -- for tests and benchmarks: one implementation by name ----------------------------------------

// Whether this CPU can run panel_gemm's `isa` tiles: avx512 needs AVX-512F; avx2 needs AVX2, FMA
// and F16C; scalar always can.
bool panel_isa_supported(dense_isa isa);

// panel_gemm with the given implementation. requires: panel_isa_supported(isa).
void panel_gemm_with(dense_isa isa, thread_pool& pool, const panel_weight& w, const float* x,
                     int64_t M, float* y);

}  // namespace troupe::kernels::cpu
