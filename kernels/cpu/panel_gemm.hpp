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
// once instead so enough FMA chains are in flight. AVX2: 6 rows x 16 columns per half panel;
// 1 row x 2 panels or 2 rows x 1 panel for a lone small group.
//
// Memory: pack_panels() holds ceil(N / 32) * 32 * K values of the weight's type (W's own size
// plus < 32 padded rows), 64-byte aligned. Each call packs x into a per-thread scratch buffer of
// M * K floats (kept and reused by the calling thread; none for M = 1). For SmolLM2-135M every
// N (192, 576, 1536, 49152) is a multiple of 32, so the packed copy is exactly W's size; it
// replaces W only if the caller drops the original.
//
// Measured (benchmarks/panel_gemm_bench, best of 3; Emerald Rapids VM, 2 vCPUs, AVX-512, ~3 GHz,
// f32 zmm FMA peak ~180 GFLOP/s per core). The VM was shared with other builds (load average
// 5-7 on 2 cores) while this was measured, so 1-thread figures are GFLOP/s of the thread's own
// CPU time (they agree with dense_gemm.hpp's quiet-machine dense figures) and the 2-thread ones,
// in wall time, are low and noisy. GFLOP/s, panel / dense and their ratio:
//
//   threads M    K     N     |  f32: dense  panel   x   |  bf16: dense  panel   x
//   1       1    576   1536  |       14.7   14.9  1.01  |        47.5   64.5  1.36
//   1       1    1536  576   |       14.7   14.8  1.01  |        54.4   58.7  1.08
//   1       1    576   49152 |       11.8   12.8  1.09  |        24.4   26.1  1.07
//   1       16   576   1536  |       85.8  120.3  1.40  |       112.5  140.7  1.25
//   1       16   1536  576   |       91.8  116.2  1.27  |       117.6  132.2  1.12
//   1       16   576   49152 |       48.0   72.3  1.51  |        57.1  125.0  2.19
//   1       128  576   1536  |      101.2  147.6  1.46  |       114.3  138.5  1.21
//   1       128  1536  576   |      105.0  144.9  1.38  |       119.6  141.5  1.18
//   1       128  576   49152 |       88.5  115.4  1.30  |       100.3  114.6  1.14
//   1       512  576   1536  |      123.1  147.5  1.20  |       114.9  138.6  1.21
//   1       512  1536  576   |       80.9  143.5  1.77  |       118.4  140.8  1.19
//   2       1    576   1536  |        9.2    9.2  1.00  |        22.7   67.5  2.98
//   2       1    1536  576   |        9.3   11.7  1.26  |        12.8   26.0  2.03
//   2       1    576   49152 |        7.1    8.2  1.15  |        19.4   22.2  1.15
//   2       16   576   1536  |       68.8   76.1  1.11  |        80.2   86.1  1.07
//   2       16   1536  576   |       65.2   73.2  1.12  |        84.3   84.3  1.00
//   2       16   576   49152 |       48.1   80.7  1.68  |        65.0  108.2  1.66
//   2       128  576   1536  |      110.0  129.3  1.18  |       103.4  120.5  1.17
//   2       128  1536  576   |       96.5  121.9  1.26  |       109.1  123.5  1.13
//   2       128  576   49152 |      104.0  127.9  1.23  |       100.3  129.9  1.30
//   2       512  576   1536  |      110.7  121.7  1.10  |       108.7  110.2  1.01
//   2       512  1536  576   |       84.4  100.1  1.19  |       108.6  108.4  1.00
//
// Dense f32 varied most from run to run (80-135 at M = 512); over several runs panel f32 sat at
// 138-152 and panel bf16 at 136-145 for M >= 128 on L2-sized W, i.e. 1.1-1.5x dense f32 and
// 1.15-1.25x dense bf16. M = 1 streams the same bytes as dense_gemm (f32 equal; bf16 up to 1.3x).
// AVX2 path (same machine, forced, 1 thread, CPU time; dense_gemm's AVX2 path alongside):
//   M = 1, K = 576, N = 1536:   f32 dense 15.3 panel 15.3    bf16 dense 34.7 panel 44.6
//   M = 16:                     f32 dense 54.0 panel 70.2    bf16 dense 54.5 panel 72.0
//   M = 128:                    f32 dense 46.5 panel 81.4    bf16 dense 48.5 panel 75.8
//   M = 512, K = 1536, N = 576: f32 dense 62.0 panel 77.6    bf16 dense 58.9 panel 74.4
// The 12 x 32 tile alone (data in L1/L2) runs at 173-176 GFLOP/s f32 and 158 bf16 (the two
// widening ops per k share the FMA ports); what the full GEMM loses on top (~15%) is the y tile
// round trips, packing x (2-5%: M * K transposed floats per call) and the pool's fork/join. A 1.4x
// gain over dense f32 at M = 512, K = 576 (dense at 124-135) would need more than this core's
// FMA peak.
#include <cstdint>
#include <memory>
#include <span>

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
  uint8_t* mutable_data() { return data_; }  // for pack_panels() only (it hands out a const)

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

// ys[i] = x * ws[i]^T for several weights of the same K in one call: x is packed once and all the
// products' column tasks run as one thread-pool job; each ys[i] gets exactly panel_gemm's bits.
// requires: ws.size() == ys.size(), every ws[i]->cols() equal; as panel_gemm for each.
void panel_gemm_many(thread_pool& pool, std::span<const panel_weight* const> ws, const float* x,
                     int64_t M, std::span<float* const> ys);

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
void panel_gemm_many_with(dense_isa isa, thread_pool& pool, std::span<const panel_weight* const> ws,
                          const float* x, int64_t M, std::span<float* const> ys);

}  // namespace troupe::kernels::cpu
