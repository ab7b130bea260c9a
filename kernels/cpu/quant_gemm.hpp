#pragma once
// quant_gemm: y = x * W^T with W kept in a GGUF block format and x quantized to int8 blocks on
// the fly, as llama.cpp's ggml-cpu computes it (the weights are never expanded to f32).
//
//   x: [M][K]  f32 rows (tokens), row-major
//   W: [N] rows of row_bytes(f, K) bytes each, every row K / block_elements(f) blocks as stored in
//      the GGUF file (little endian, packed):
//
//   q8_0 (34 B / 32): | d f16 | qs i8[32] |                          w = d * qs
//   q4_0 (18 B / 32): | d f16 | qs u8[16] |                          w = d * (q - 8)
//   q4_1 (20 B / 32): | d f16 | m f16 | qs u8[16] |                  w = d * q + m
//   q5_0 (22 B / 32): | d f16 | qh u32 | qs u8[16] |                 w = d * (q - 16)
//   q5_1 (24 B / 32): | d f16 | m f16 | qh u32 | qs u8[16] |         w = d * q + m
//       4-bit q[j] = low nibble of qs[j], q[j + 16] = high nibble (j < 16);
//       5-bit formats add bit j of qh as bit 4 of q[j].
//   q4_k (144 B / 256): | d f16 | dmin f16 | scales u8[12] | qs u8[128] |
//   q5_k (176 B / 256): | d f16 | dmin f16 | scales u8[12] | qh u8[32] | qs u8[128] |
//   q6_k (210 B / 256): | ql u8[128] | qh u8[64] | scales i8[16] | d f16 |
//       (8 sub-blocks of 32 with 6-bit scale and min, or 16 of 16 with an int8 scale; see
//       runtime/formats/dequant_kquants.cpp for the bit positions)
//
//   y: [M][N]  y[m][n] = the block-wise int8 dot product of row m of x and row n of W.
//
// Activations: each x row is quantized as llama.cpp does for the weight type:
//   q8_0 (for q8_0, q4_0, q5_0) and q8_1 (for q4_1, q5_1), per 32 values:
//       amax = max |x|, d = amax / 127, id = d ? 1 / d : 0, q = roundf(x * id) (half away from 0);
//       the stored scale is f16(d); q8_1 also stores s = f16(d * sum(q)).
//   q8_K (for q4_k, q5_k, q6_k), per 256 values: max = the value of largest |x| (first one),
//       iscale = -127 / max, q = min(127, round-half-even(iscale * x)), d = 1 / iscale (f32);
//       all zero -> d = 0, q = 0.
//
// Accumulation order (the batch-invariance contract; every code path follows it bit for bit):
// the integer part of each block is exact (int32), and the f32 part is, for y[m][n] with blocks
// b = 0, 1, ... in ascending order, starting from sum = 0.0f (fma = one fused multiply-add):
//
//   q8_0, q4_0, q5_0:  sum = fma(dw_b * dx_b, float(isum_b), sum)
//   q4_1, q5_1:        sum = fma(dw_b * dx_b, float(isum_b), sum); sum = fma(mw_b, sx_b, sum)
//   q4_k, q5_k:        sum = sum + ((dw_b * dx_b) * float(isum_b) - (dminw_b * dx_b) *
//                      float(msum_b))                                  (no fused operations)
//   q6_k:              sum = sum + (dw_b * dx_b) * float(isum_b)
//
// (The 32-block formats fuse: two rounding steps fewer and, in the VNNI kernel, a third fewer
// float instructions per block than the unfused order they used before.)
//
//   isum_b = sum over the block of q_w * q_x (q_w signed: q - 8, q - 16, q6 - 32 where the format
//            says so), K-quants weighting each sub-block's sum by its scale;
//   msum_b = sum over the 8 sub-blocks of min_j * (sum of that sub-block's q_x).
//
// So y[m][n] depends only on row m of x and row n of W, never on M, N, tiles, threads or the code
// path (scalar, AVX2, AVX-512 VNNI: chosen at run time, bitwise equal; tests check it).
// q8_0, q4_0, q4_1, q5_0 and q5_1 have all three; the K-quants have the scalar one and, packed
// (below), the AVX2 and VNNI ones.
//
// Scratch: the calling thread keeps the quantized activations (about M * K * 1.1 bytes) and every
// pool thread one packed tile of 16 W rows (about 20 * K bytes) in thread-local buffers that
// grow to the largest call and are reused.
#include <cstdint>
#include <memory>
#include <span>

#include "kernels/cpu/block_format.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

int64_t block_elements(block_format f);  // 32, or 256 for the K-quants
int64_t block_bytes(block_format f);     // 34, 18, 20, 22, 24, 144, 176, 210
// requires: cols % block_elements(f) == 0.
int64_t row_bytes(block_format f, int64_t cols);

// Decodes one row of `cols` weights, bitwise as ggml / gguf-py dequantize (and
// runtime::dequantize). requires: cols % block_elements(f) == 0; `row` holds row_bytes(f, cols).
void dequantize_row(block_format f, const uint8_t* row, int64_t cols, float* out);

// y[M][N] = x[M][K] * W^T in the order above, threads splitting N.
// requires: M, N >= 0; K % block_elements(f) == 0; y does not alias x or w.
// thread: one call per pool at a time (thread_pool::run); scratch is thread-local, so concurrent
//         calls on different pools are safe.
void quant_gemm(thread_pool& pool, block_format f, const float* x, int64_t M, int64_t K,
                const uint8_t* w, int64_t N, float* y);

// -- weights packed once (load time) --
//
// quant_gemm repacks 16 W rows into a SIMD-friendly tile on every call (decode spends most of
// its time there). A quant_packed_weight holds W already in that tiled layout (quant_blocks.hpp),
// in the same number of bytes as the GGUF tensor (plus padding to 16 rows), so it replaces the
// original bytes. The K-quants are packed into their own 16-row tiles (quant_blocks.hpp; the
// 6-bit scales unpacked: q4_k/q5_k 8% more bytes) for their VNNI and AVX2 kernels
// (quant_kquant_vnni.cpp).
//
// Measured (benchmarks/quant_gemm_bench, 2 threads, AVX-512 VNNI path, best of 5, one run; the
// 2-core VM was shared with other builds at load ~5, so absolute numbers are low and noisy; in a
// quiet moment q4_1 M=512 K=576 N=1536 packed reached 490 GOP/s):
//                                     quant_gemm   packed     f32 dense_gemm
//   M=1    q4_1 K=576  N=1536  GB/s    3.2          26.5       12.7 (f32 bytes)
//          q4_1 K=1536 N=576   GB/s    2.6          20.4       16.2
//          q4_1 K=576  N=576   GB/s    2.9          16.0       45.4
//          q8_0 K=576  N=49152 GB/s    3.0          15.7        9.2  (LM head, from DRAM)
//   M=16   q4_1 K=576  N=1536  GOP/s   68           179        50
//          q4_1 K=1536 N=576   GOP/s   58           98         43
//          q8_0 K=576  N=1536  GOP/s   76           180        50
//   M=512  q4_1 K=576  N=1536  GOP/s   90           147        66
//          q4_1 K=1536 N=576   GOP/s   104          117        72
//          q4_1 K=576  N=192   GOP/s   62           86         58
//          q8_0 K=576  N=1536  GOP/s   130          258        66
// (Most of quant_gemm's decode time was repacking W; at M = 512 the scalar activation quantizer
// took longer than the product, hence its AVX-512 twin.)
//
// Immutable after pack_quant_weight returns: any number of threads may read it.
class quant_packed_weight {
 public:
  block_format format() const { return format_; }
  int64_t rows() const { return rows_; }               // N
  int64_t cols() const { return cols_; }               // K
  const uint8_t* data() const { return data_.get(); }  // layout: quant_blocks.hpp
  int64_t size_bytes() const { return size_bytes_; }

 private:
  friend std::shared_ptr<const quant_packed_weight> pack_quant_weight(block_format f,
                                                                      const uint8_t* w, int64_t N,
                                                                      int64_t K);
  struct aligned_delete {
    void operator()(uint8_t* p) const;
  };
  quant_packed_weight(block_format f, int64_t N, int64_t K, int64_t size_bytes);

  block_format format_;
  int64_t rows_, cols_, size_bytes_;
  std::unique_ptr<uint8_t[], aligned_delete> data_;  // 64-byte aligned, zero-initialized
};

// W [N] rows of row_bytes(f, K) repacked; `w` may be freed afterwards.
// requires: N >= 0; K % block_elements(f) == 0.
std::shared_ptr<const quant_packed_weight> pack_quant_weight(block_format f, const uint8_t* w,
                                                             int64_t N, int64_t K);

// == quant_gemm(pool, w.format(), x, M, w.cols(), original W, w.rows(), y), bit for bit (same
// order, so every guarantee above holds). requires: M >= 0; x [M][K], y [M][N], y not aliasing x.
// thread: as quant_gemm.
void quant_gemm_packed(thread_pool& pool, const quant_packed_weight& w, const float* x, int64_t M,
                       float* y);

// ys[i] = quant_gemm_packed(ws[i], x) for several weights of one format and K in one call: x is
// quantized once and all the products' column tasks run as one thread-pool job (the same bits).
// requires: ws.size() == ys.size(); every ws[i] of the same format() and cols().
void quant_gemm_packed_many(thread_pool& pool, std::span<const quant_packed_weight* const> ws,
                            const float* x, int64_t M, std::span<float* const> ys);

// Row `row` (0 <= row < N) decoded to f32 into out[K]: == dequantize_row of the original row.
void quant_packed_row(const quant_packed_weight& w, int64_t row, float* out);

// Bytes the packed weight holds (about N * row_bytes(f, K)).
int64_t quant_packed_bytes(const quant_packed_weight& w);

// -- for tests and benchmarks: one code path forced --

enum class quant_path : uint8_t { scalar, avx2, avx512_vnni };

// True when this CPU (detect_cpu_features) can run `path`.
bool quant_path_supported(quant_path path);

// The fastest supported path; quant_gemm uses it.
quant_path best_quant_path();

// quant_gemm on `path`. requires: quant_path_supported(path), and quant_gemm's requirements.
void quant_gemm_on(quant_path path, thread_pool& pool, block_format f, const float* x, int64_t M,
                   int64_t K, const uint8_t* w, int64_t N, float* y);

// quant_gemm_packed on `path` (the packed layout is the same for every path).
void quant_gemm_packed_on(quant_path path, thread_pool& pool, const quant_packed_weight& w,
                          const float* x, int64_t M, float* y);
void quant_gemm_packed_many_on(quant_path path, thread_pool& pool,
                               std::span<const quant_packed_weight* const> ws, const float* x,
                               int64_t M, std::span<float* const> ys);

}  // namespace troupe::kernels::cpu
