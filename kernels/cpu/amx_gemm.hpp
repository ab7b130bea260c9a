#pragma once
// amx_gemm: y = bf16(x) * W^T on Intel AMX tiles, for bf16 weights computed with bf16
// activations (`--dtype bfloat16` on the CPU: vLLM's numerics, docs/usage.md).
//
//   x: [M][K]  f32 rows of the batch; each value is rounded to bf16 (nearest even, as
//              VCVTNEPS2BF16 does: denormals to zero) before it is multiplied
//   W: [N][K]  bf16 weights, repacked once by pack_amx_weight()
//   y: [M][N]  y[m][n] = sum over k of bf16(x[m][k]) * w[n][k], accumulated in f32 by TDPBF16PS
//
// Numerics. Every product of two bf16 values is exact in f32; the tile unit adds them into the f32
// accumulator in its own order and precision (Intel specifies neither bit for bit: measured, only
// about a quarter of the outputs equal panel_gemm's sequential chain on the same bf16 inputs, with
// differences of about 1e-5 relative). So these are not panel_gemm's bits and they exist only on
// a CPU with AMX; elsewhere the backend computes bf16 activations with panel_gemm on x rounded to
// bf16 (the same inputs, another summation order). What this kernel does promise:
//   - batch invariance: y[m][n] depends only on x[m, :] and W[n, :] (every tile row is computed
//     alike, the k steps are the same for every M), never on M, the other rows, the tile a row
//     falls in or the thread split; tests check it bit for bit;
//   - the same bits on every run and every AMX machine of one microarchitecture.
//
// Packed layout (pack_amx_weight): N padded to a multiple of 32 and K to a multiple of 32 with
// zeros. Columns go in pairs of 16-column blocks (32 W rows); a pair's k blocks of 32 follow each
// other, the two blocks of one k block side by side, each in TDPBF16PS's B layout (1 KiB):
//
//   pair j, k block b:  [block 2j: 16 rows (k pairs) x 16 columns x 2] [block 2j + 1: the same]
//   block row r, column c:  (w[16 * block + c][32 * b + 2r], w[16 * block + c][32 * b + 2r + 1])
//
// so a thread streams its pairs' weights once, in memory order. x is converted per call into a
// bf16 [ceil(M / 16) * 16][K padded] scratch (the calling thread's, kept and reused).
//
// Tiles (8 registers of 16 rows x 64 bytes): C0-C3 hold 32 x rows x 32 columns in f32, A0-A1 two
// 16-row slices of bf16(x), B0-B1 the pair's two blocks; per k block 4 TDPBF16PS (2 when only one
// 16-row slice is left). Threads split the column pairs; for each pair all x rows pass while its
// weights stay in L2.
#include <cstdint>
#include <memory>
#include <span>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

// W [N][K] bf16 in the AMX layout above. Immutable once built; owns its memory; may be shared.
class amx_weight {
 public:
  static constexpr int64_t block_cols = 16;  // columns (W rows) of one B tile
  static constexpr int64_t block_k = 32;     // k of one B tile (16 pairs)

  amx_weight(int64_t N, int64_t K);
  ~amx_weight();
  amx_weight(const amx_weight&) = delete;
  amx_weight& operator=(const amx_weight&) = delete;

  int64_t rows() const { return N_; }  // N
  int64_t cols() const { return K_; }  // K
  int64_t padded_cols() const { return (K_ + block_k - 1) / block_k * block_k; }
  int64_t num_pairs() const { return (N_ + 2 * block_cols - 1) / (2 * block_cols); }
  int64_t pair_bytes() const { return padded_cols() * 2 * block_cols * 2; }
  int64_t size_bytes() const { return num_pairs() * pair_bytes(); }
  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() { return data_; }  // for pack_amx_weight() only

 private:
  int64_t N_, K_;
  uint8_t* data_ = nullptr;
};

// Whether this CPU and OS can run amx_gemm: AMX-BF16 tiles granted to the process
// (cpu_features.hpp) and AVX512-BF16 for the conversion of x.
bool amx_gemm_supported();

// W [N][K] (bf16 bits) repacked. requires: N, K >= 0; w holds N * K values. W may be freed
// afterwards. Packing needs no AMX.
std::shared_ptr<const amx_weight> pack_amx_weight(const uint16_t* w, int64_t N, int64_t K);

// Row n of W widened to f32 (out [K]), exactly (an embedding lookup of a tied table).
// requires: 0 <= n < w.rows().
void amx_weight_row(const amx_weight& w, int64_t n, float* out);

// y[M][N] = bf16(x)[M][K] * W^T as above. requires: amx_gemm_supported(); M >= 0; x [M][w.cols()],
// y [M][w.rows()]; y does not alias x. Called from one thread at a time per pool.
void amx_gemm(thread_pool& pool, const amx_weight& w, const float* x, int64_t M, float* y);

// ys[i] = bf16(x) * ws[i]^T for several weights of the same K: x is converted once and all the
// products' column tasks run as one thread-pool job; each ys[i] gets exactly amx_gemm's bits.
// requires: ws.size() == ys.size(), every ws[i]->cols() equal; as amx_gemm for each.
void amx_gemm_many(thread_pool& pool, std::span<const amx_weight* const> ws, const float* x,
                   int64_t M, std::span<float* const> ys);

// amx_gemm of x = silu_mul(gate, up) (activation.hpp), the same bits, without storing x in f32:
// each row's SiLU is computed and rounded to bf16 in one pass (the feed-forward block's down
// projection). requires: as amx_gemm; gate and up [M][w.cols()]; y aliases neither.
void amx_gemm_silu(thread_pool& pool, const amx_weight& w, const float* gate, const float* up,
                   int64_t M, float* y);

}  // namespace troupe::kernels::cpu
