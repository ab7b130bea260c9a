#pragma once
// dense_gemm: y = x * W^T with weights stored in f32, bf16 or f16, at the CPU's full vector width.
//
//   x: [M][K]  f32 rows of the batch (tokens), row-major
//   W: [N][K]  weights in `type` (bf16/f16 as uint16_t bit patterns), row n -> output feature n
//   y: [M][N]  y[m][n] = dense_dot(x[m, :], widen(W[n, :]))
//
// widen() is exact: bf16 bits b -> f32 bits b << 16; f16 -> the f32 of the same value (IEEE
// binary16, subnormals included). Products and sums are f32.
//
// The one algorithm for every output element (its bits depend only on x[m, :] and W[n, :]; never
// on M, N, the register tile, the thread partition or the instruction set that computes it):
//
//   lane l (0..15) accumulates x[k] * w[k] for k = l, l + 16, l + 32, ... in ascending k, each
//   step one fused multiply-add (one rounding); the last partial group of 16 is zero-padded
//   (x = w = 0, so those lanes add fma(0, 0, acc));
//   s_i = l_i + l_(i+8)  (i < 8),  t_i = s_i + s_(i+4)  (i < 4),  u_i = t_i + t_(i+2)  (i < 2)
//   result = u_0 + u_1
//
//   lanes    0  1  2  3  4  5  6  7 | 8  9 10 11 12 13 14 15
//            '--+--+--+--+--+--+--+-+-'  pairs (l, l+8) -> s0..s7
//   s        0  1  2  3 | 4  5  6  7       pairs (i, i+4) -> t0..t3
//   t        0  1 | 2  3                   pairs (i, i+2) -> u0, u1 -> u0 + u1
//
// (dot.hpp's 8-lane algorithm is a different one; dense_gemm results differ from gemm's in the
// last bits.) Three implementations, chosen at run time from detect_cpu_features(), give the same
// bits (tests check every one this CPU has): AVX-512 (one zmm register = the 16 lanes), AVX2+FMA
// (two ymm registers = lanes 0-7 and 8-15) and scalar (std::fma).
//
// Why widening and not bf16 dot-product instructions (numbers from benchmarks/
// isa_throughput_bench on the Emerald Rapids VM this was written on, 2 cores, ~3.0 GHz, no AMX;
// independent instructions retired per core clock):
//   vfmadd231ps ymm 2.02   zmm 1.87     (16 f32 MACs each: ~30 MACs/cycle with zmm)
//   vdpbf16ps   zmm 0.46                (32 bf16 MACs each: ~15 MACs/cycle, half of f32 zmm FMA)
//   vcvtph2ps   zmm 0.94   vpermw zmm 1.04   vpmovzxwd zmm 1.02   vpslld zmm 1.03
//   vmovups load zmm 2.07
// So on this CPU VDPBF16PS has half the throughput of widening bf16 to f32 and FMA-ing, even
// before x is rounded to bf16 (which would also change results and need bf16 activations); a
// widened weight vector costs one shuffle (VPERMW, bf16) or one conversion (VCVTPH2PS, f16) and
// is reused by every x row of the register tile. A VDPBF16PS variant is not implemented:
// benchmarks/dense_gemm_bench's bm_dpbf16_ceiling (6 x 4 VDPBF16PS tiles, activations already in
// bf16, one thread, M = 510) reaches 77-83 GFLOP/s on K = 576/1536 shapes where this kernel's
// bf16 path reaches 114-119, so even before paying to round x it would be ~30% slower.
//
// Measured (same machine, one thread, best of 3, GFLOP/s; the old gemm is gemm.hpp's 8-lane f32):
//   M = 512, K = 576 (N = 576/192/1536):  old f32 78  dense f32 134-136  bf16 114-116  f16 112-114
//   M = 512, K = 1536, N = 576:           old f32 81  dense f32 103      bf16 119      f16 118
//   M = 1 (decode), weight GB/s:  LM head (K = 576, N = 49152) f32 25 GB/s = 12.4 GFLOP/s,
//                                 bf16/f16 24 GB/s = 24 GFLOP/s (2x f32: the same bytes/s);
//                                 K = 576, N = 1536: f32 14 GFLOP/s, bf16 51 (now fits in L2)
// f32 at K = 1536 gains least: a 6-row x tile (36 KiB) and 4 W rows no longer fit L1 together.
// (Splitting K into passes with the 16 lanes saved between them gives the same bits but measured
// slower.) Full tables: benchmarks/dense_gemm_bench.
//
// Threads split N (each task a contiguous range of W rows); within a task, blocks of x rows and
// of W rows that fit in L2 together are swept by register tiles of up to 6 x rows by 4 W rows
// (AVX-512; 1 x row by 8 W rows for a lone row), so results never depend on any of it.
#include <cstdint>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

enum class dense_type : uint8_t { f32, bf16, f16 };  // weight storage; bf16/f16 as uint16_t bits

// y[M][N] = x[M][K] (f32) * W^T, W [N][K] in `type`, widened exactly to f32 as it is read; every
// y[m][n] is the algorithm above. requires: M, N, K >= 0; x, W, y sized as above; y does not
// alias x or W. Called from one thread at a time per pool (thread_pool::run's rule).
void dense_gemm(thread_pool& pool, dense_type type, const float* x, int64_t M, int64_t K,
                const void* w, int64_t N, float* y);

// The same algorithm for one output, in portable scalar code (the reference tests compare with).
float dense_dot_scalar(dense_type type, const float* x, const void* w, int64_t K);

// The exact f32 value of a bf16 or f16 bit pattern (the widening dense_gemm applies).
float bf16_to_float(uint16_t bits);
float f16_to_float(uint16_t bits);

// -- for tests and benchmarks: one implementation by name ----------------------------------------

enum class dense_isa : uint8_t { scalar, avx2, avx512 };

// Whether this CPU (and OS) can run `isa`: avx2 needs AVX2, FMA and F16C; avx512 needs AVX-512
// F, BW and VL. scalar always can.
bool dense_isa_supported(dense_isa isa);

// The implementation dense_gemm uses here: the widest supported one.
dense_isa dense_best_isa();

// dense_gemm with the given implementation. requires: dense_isa_supported(isa).
void dense_gemm_with(dense_isa isa, thread_pool& pool, dense_type type, const float* x, int64_t M,
                     int64_t K, const void* w, int64_t N, float* y);

}  // namespace troupe::kernels::cpu
