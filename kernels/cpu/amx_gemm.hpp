#pragma once
// amx_gemm: y = bf16(x) * W^T for bf16 weights computed with bf16 activations (`--dtype bfloat16`
// on the CPU: vLLM's numerics, docs/usage.md), on one of two engines over one weight layout:
//   amx          Intel AMX tiles (TDPBF16PS), where the CPU and Linux grant them;
//   avx512_bf16  AVX512-BF16 register tiles (VDPBF16PS) on CPUs without AMX whose VDPBF16PS runs
//                at full rate: AMD Zen 4 and later, where it makes twice the products of an f32
//                FMA in the same time (Intel's runs at half the FMA's rate: dense_gemm.hpp).
//
//   x: [M][K]  f32 rows of the batch; each value is rounded to bf16 (nearest even, as
//              VCVTNEPS2BF16 does: denormals to zero) before it is multiplied
//   W: [N][K]  bf16 weights, repacked once by pack_amx_weight()
//   y: [M][N]  y[m][n] = sum over k of bf16(x[m][k]) * w[n][k], accumulated in f32
//
// Numerics. Every product of two bf16 values is exact in f32. The tile unit adds them into the f32
// accumulator in its own order and precision (Intel specifies neither bit for bit: measured, only
// about a quarter of the outputs equal panel_gemm's sequential chain on the same bf16 inputs, with
// differences of about 1e-5 relative). The avx512_bf16 engine computes each output as one chain of
// VDPBF16PS over k in pairs (acc += x[k] w[k] + x[k + 1] w[k + 1], the instruction's roundings).
// So these are not panel_gemm's bits, nor each other's, and they exist only on a CPU with the
// engine; elsewhere the backend computes bf16 activations with panel_gemm on x rounded to bf16
// (the same inputs, another summation order). What each engine promises:
//   - batch invariance: y[m][n] depends only on x[m, :] and W[n, :] (every row is computed alike,
//     the k steps are the same for every M), never on M, the other rows, the tile a row falls in
//     or the thread split; tests check it bit for bit;
//   - the same bits on every run and every machine of one microarchitecture.
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
// amx: tiles (8 registers of 16 rows x 64 bytes): C0-C3 hold 32 x rows x 32 columns in f32, A0-A1
// two 16-row slices of bf16(x), B0-B1 the pair's two blocks; per k block 4 TDPBF16PS (2 when only
// one 16-row slice is left). Threads split the column pairs; for each pair all x rows pass while
// its weights stay in L2.
// avx512_bf16: a block row (16 columns of one k pair) is one zmm operand of VDPBF16PS, and a row's
// k pair of x one broadcast dword. A register tile holds R rows x P pairs (24 zmm sums: 12 rows of
// one pair for prompts; 6 rows x 2 pairs or 3 x 4 for decode batches, so enough independent sums
// are in flight); threads split the pairs as for amx.
#include <cstdint>
#include <memory>
#include <optional>
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

enum class bf16_tile_engine : uint8_t { amx, avx512_bf16 };

// Whether this CPU and OS can run `engine`: amx needs AMX-BF16 tiles granted to the process
// (cpu_features.hpp), and both need AVX512-BF16 (and AVX512-BW) for the conversion of x.
bool bf16_tile_engine_supported(bf16_tile_engine engine);

// The engine amx_gemm runs on here: amx where supported, else avx512_bf16 where VDPBF16PS runs at
// full rate (AMD); none elsewhere (there the backend keeps panel_gemm for bf16 activations).
std::optional<bf16_tile_engine> best_bf16_tile_engine();

// Whether amx_gemm can run here: best_bf16_tile_engine() has a value.
bool bf16_tiles_supported();

// "AMX tiles" or "AVX512-BF16 dot products" (for logs).
const char* describe(bf16_tile_engine engine);

// W [N][K] (bf16 bits) repacked. requires: N, K >= 0; w holds N * K values. W may be freed
// afterwards. Packing needs no AMX.
std::shared_ptr<const amx_weight> pack_amx_weight(const uint16_t* w, int64_t N, int64_t K);

// Row n of W widened to f32 (out [K]), exactly (an embedding lookup of a tied table).
// requires: 0 <= n < w.rows().
void amx_weight_row(const amx_weight& w, int64_t n, float* out);

// y[M][N] = bf16(x)[M][K] * W^T as above, on best_bf16_tile_engine(). requires:
// bf16_tiles_supported(); M >= 0; x [M][w.cols()], y [M][w.rows()]; y does not alias x. Called
// from one thread at a time per pool.
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

// -- for tests and benchmarks: one engine by name -------------------------------------------------

// amx_gemm_many and amx_gemm_silu on `engine`. requires: bf16_tile_engine_supported(engine).
void amx_gemm_many_with(bf16_tile_engine engine, thread_pool& pool,
                        std::span<const amx_weight* const> ws, const float* x, int64_t M,
                        std::span<float* const> ys);
void amx_gemm_silu_with(bf16_tile_engine engine, thread_pool& pool, const amx_weight& w,
                        const float* gate, const float* up, int64_t M, float* y);

}  // namespace troupe::kernels::cpu
