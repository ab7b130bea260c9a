#pragma once
// gemm_w8a8: y = dequant(quantize_per_token(x)) * W^T for int8 weight / int8 activation
// checkpoints (compressed-tensors "W8A8-Dynamic-Per-Token", llm-compressor), with vLLM's numerics.
//
//   x: [M][K] f32 activations (token rows)          W: [N][K] int8, per-channel symmetric
//   w_scale: [N] f32 (the checkpoint's weight_scale [N][1], widened exactly)
//   row_sums: [N] int32, row_sums[n] = sum_k W[n][k] (w8a8_row_sums; vLLM's azp_adj)
//   y: [M][N] f32
//
// Numerics: vLLM's CUDA kernels, csrc/quantization/compressed_tensors/int8_quant_kernels.cu
// (dynamic_scaled_int8_quant / dynamic_scaled_int8_azp_quant) and the cutlass epilogues of
// csrc/cutlass_extensions/epilogue/scaled_mm_epilogues_c3x.hpp (ScaledEpilogue,
// ScaledEpilogueBiasAzpToken), as CutlassInt8ScaledMMLinearKernel calls them. Every float
// operation below is one IEEE f32 operation, rounded to nearest even; rn() = round half to even.
//
// Per token (row m of x), symmetric:
//   absmax = max_k |x[k]|                       (starting from 0; NaN entries are skipped)
//   scale  = absmax / 127.0f
//   q[k]   = sat_int8(rn(x[k] * (127.0f / absmax)))       multiply by the inverse, as vLLM;
//            an all-zero row gives 0 * inf = NaN, which CUDA's cvt.rni.sat turns into 0: q = 0
// Per token, asymmetric (vLLM's azp path):
//   max = max(FLT_MIN, max_k x[k]), min = min(FLT_MAX, min_k x[k])   (vLLM's start values:
//         numeric_limits<float>::min() is the smallest normal, so max is never below it)
//   scale = (max - min) / 255.0f
//   azp   = (int32) rn(-128.0f - min / scale)
//   q[k]  = sat_int8(sat_int32(rn(x[k] / scale)) + azp)    divide, as vLLM's azp kernel
//   A constant row with a positive value has max == min, scale 0: vLLM then overflows int32
//   and multiplies by scale 0; here q = 0, azp = 0, scale = 0, so y = 0 as there.
// Accumulation: acc[m][n] = sum_k q[k] * W[n][k] in int32, exact over the whole K.
// Epilogue (cutlass EVT order: scale_b first, then scale_a):
//   y[m][n] = a_scale[m] * (w_scale[n] * float(acc - azp[m] * row_sums[n]))
//   (the int32 product and difference wrap as on the GPU; exact while they fit, which K <=
//   65536 guarantees). vLLM fuses a bias as fma(a_scale, that product, bias) and rounds to the
//   model dtype; this kernel has no bias and returns f32, so the caller adds a bias afterwards
//   (one more rounding than vLLM's fma) and keeps f32 activations.
// Not followed: vLLM's CPU backend (csrc/cpu/quant.cpp) multiplies by inv = float(1.0 /
// double(scale)) in both modes (asymmetric: azp = rn(-128 - min * inv), q = rn(x * inv + azp),
// the zero point added before rounding) and lets oneDNN compute float(acc) * w_scale. Measured
// with tools/w8a8_vllm_reference.py: one q in 5 (symmetric) and 8 (asymmetric) of 5.12M
// activations differs by one step from the formulas above; logprobs of a tiny model then agree
// with vLLM 0.32 CPU within 4e-6, with one asymmetric position at 5e-3
// (tests/integration/w8a8_vllm_test).
//
// Paths, chosen at run time from detect_cpu_features(): AVX512-VNNI (VPDPBUSD multiplies u8 by
// s8, so it feeds q + 128 and subtracts 128 * row_sums[n], exact in wrapping int32), AVX2
// (int16 madd), scalar. The int32 sums are exact and the float epilogue is the same scalar code,
// so every path gives the same bits. Batch invariant: y[m][n] depends only on x row m, W row n,
// w_scale[n] and row_sums[n] (never on M, the tile, the thread count or the path).
// Threads split N as gemm() does; within a thread, register tiles of up to 4 rows x 4 columns
// share loads, and each thread streams its columns of W once per 64 rows of x. From 8 rows of x
// on, the VNNI path instead regroups each 32-row slice of W once per call into a panel whose
// lanes are output columns (W + 128 as VPDPBUSD's unsigned operand, 128 * sum(q) taken back
// off) and runs 8 x rows against it: no per-output lane reductions (M=512, K=576, N=1536:
// 205 -> 762 GOP/s on 2 threads, with the per-token quantization in vector lanes).
// AMX-INT8 (the amx path, from w8a8_amx_min_rows rows): TDPBSSD takes the signed int8 operands
// as they are; each 32-row slice of W is regrouped once per call into B tiles (a gather per tile
// row) and 32 x rows at a time keep their 32 x 32 int32 sums in tile registers over the whole K
// (M=512, K=576, N=1536: 740 -> 1530 GOP/s on 2 threads; at 16 rows about VNNI's, below that
// the per-call regrouping costs more than it saves: benchmarks/gemm_w8a8_bench).
// w8a8_tiles does that regrouping once, at load (the CPU backend on an AMX CPU), so every call,
// one row included, runs on the tiles without it.
//
// Requires: the default floating-point rounding mode (round to nearest).
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

// The largest K the kernel accepts: |sum of K products| stays below 2^31 on every path.
constexpr int64_t w8a8_max_k = 65536;

// The per-weight data W8A8 needs besides the int8 rows: per-row sums of W for the activation
// offset tricks. requires: w [N][K] int8.
std::vector<int32_t> w8a8_row_sums(const int8_t* w, int64_t N, int64_t K);

// y[M][N] = dequant(quantize_per_token(x)) * W^T with vLLM's numerics above.
// w [N][K] int8, w_scale [N] f32, row_sums = w8a8_row_sums(w, N, K); asymmetric: dynamic
// per-token zero points (vLLM's azp), else symmetric.
// requires: M, N >= 0, 0 <= K <= w8a8_max_k; y does not alias the inputs.
// thread: the caller's thread_pool contract (run() from one thread at a time).
void gemm_w8a8(thread_pool& pool, const float* x, int64_t M, int64_t K, const int8_t* w,
               const float* w_scale, const int32_t* row_sums, int64_t N, bool asymmetric, float* y);

// W [N][K] int8 regrouped once into AMX-INT8 B tiles: 32-row slices, each as gemm_w8a8's amx
// path regroups it per call (gemm_w8a8_tiles.hpp). Replaces the stored rows (the same bytes, K
// padded to 64 and N to 32). Immutable; may be shared by threads.
class w8a8_tiles {
 public:
  w8a8_tiles(int64_t N, int64_t K);
  int64_t rows() const { return N_; }  // N
  int64_t cols() const { return K_; }  // K
  int64_t slice_bytes() const;         // one 32-row slice
  int64_t size_bytes() const { return (N_ + 31) / 32 * slice_bytes(); }
  const int8_t* slice(int64_t s) const { return data_.data() + s * slice_bytes(); }
  int8_t* mutable_slice(int64_t s) { return data_.data() + s * slice_bytes(); }

 private:
  int64_t N_, K_;
  std::vector<int8_t> data_;
};

// Whether w8a8_tiles can be multiplied here: AMX-INT8 tiles granted to the process and the
// AVX-512 the regrouping uses.
bool w8a8_tiles_supported();

// requires: w8a8_tiles_supported(); w [N][K] int8; 0 <= K <= w8a8_max_k.
w8a8_tiles pack_w8a8_tiles(const int8_t* w, int64_t N, int64_t K);

// W's row n as stored (out [K]; an embedding lookup). requires: 0 <= n < w.rows().
void w8a8_tiles_row(const w8a8_tiles& w, int64_t n, int8_t* out);

// gemm_w8a8 with W packed: the same bits. requires: w8a8_tiles_supported(); x [M][w.cols()],
// y [M][w.rows()]; w_scale and row_sums of the stored W, as gemm_w8a8's.
void gemm_w8a8_tiles(thread_pool& pool, const float* x, int64_t M, const w8a8_tiles& w,
                     const float* w_scale, const int32_t* row_sums, bool asymmetric, float* y);

// One product of gemm_w8a8_tiles_many: W packed, its scales and row sums, and y.
struct w8a8_tiles_product {
  const w8a8_tiles* w;
  const float* w_scale;
  const int32_t* row_sums;
  float* y;
};

// gemm_w8a8_tiles for several weights of the same K taking the same x: x is quantized once and
// all the products' column tasks run as one thread-pool job; each y gets exactly
// gemm_w8a8_tiles's bits. requires: as gemm_w8a8_tiles for each; every w->cols() equal.
void gemm_w8a8_tiles_many(thread_pool& pool, const float* x, int64_t M,
                          std::span<const w8a8_tiles_product> products, bool asymmetric);

// gemm_w8a8_tiles of x = silu_mul(gate, up) (activation.hpp), the same bits, without storing x
// in f32: each row's SiLU is computed and quantized in one pass (the feed-forward block's down
// projection). requires: as gemm_w8a8_tiles; gate and up [M][w.cols()]; y aliases neither.
void gemm_w8a8_tiles_silu(thread_pool& pool, const float* gate, const float* up, int64_t M,
                          const w8a8_tiles& w, const float* w_scale, const int32_t* row_sums,
                          bool asymmetric, float* y);

// One token's quantization parameters.
struct w8a8_token_scale {
  float scale = 0.0f;  // a_scale
  int32_t azp = 0;     // 0 when symmetric
};

// Per-token quantization alone (tests and the reference): x [K] -> q [K], as above.
w8a8_token_scale w8a8_quantize_token(const float* x, int64_t K, bool asymmetric, int8_t* q);

// The epilogue above for one element (every path calls this).
inline float w8a8_dequantize(int32_t acc, w8a8_token_scale a, int32_t row_sum, float w_scale) {
  // Wrapping int32 arithmetic, as the GPU's, without signed overflow in C++.
  const uint32_t corrected =
      static_cast<uint32_t>(acc) - static_cast<uint32_t>(a.azp) * static_cast<uint32_t>(row_sum);
  return a.scale * (w_scale * static_cast<float>(static_cast<int32_t>(corrected)));
}

// -- paths (tests and benchmarks) ------------------------------------------------------------

// amx: VNNI's tiles for fewer than w8a8_amx_min_rows rows, AMX-INT8 tiles from there.
enum class w8a8_path { scalar, avx2, avx512_vnni, amx };
constexpr int64_t w8a8_amx_min_rows = 32;
const char* w8a8_path_name(w8a8_path path);

// The paths this CPU can run, scalar first; gemm_w8a8 uses the last.
const std::vector<w8a8_path>& w8a8_supported_paths();

// gemm_w8a8 on a given path. requires: `path` is in w8a8_supported_paths().
void gemm_w8a8_on(w8a8_path path, thread_pool& pool, const float* x, int64_t M, int64_t K,
                  const int8_t* w, const float* w_scale, const int32_t* row_sums, int64_t N,
                  bool asymmetric, float* y);

}  // namespace troupe::kernels::cpu
