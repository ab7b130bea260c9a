#pragma once
// GGUF block weights on the GPU: y = x W^T with W kept in its block format (q8_0, q4_0, q4_1,
// q5_0, q5_1, q4_k, q5_k, q6_k) and x quantized per row to int8 blocks on the device, in
// kernels/cpu/quant_gemm.hpp's numerics bit for bit: the same activation quantization (q8_0 /
// q8_1 / q8_K), exact int32 block sums, and every output's f32 part added block by block in
// ascending order with the same operations (fused where the contract fuses, not elsewhere). So a
// GGUF model computes the same matrix products on the CPU and the GPU.
//
//   x [M][K] f32 --quant_quantize--> quant_activations (q, d, s, sums; kernels/cpu quantized_rows)
//   quant_activations, packed W --quant_gemm--> y [M][N] f32
//   packed W rows --quant_dequantize_rows--> f32 rows (the embedding; dequantize_row's bits)
//
// The packed layout (quant_pack, host side, once at upload) exists for coalesced 4-byte loads:
// the stored blocks are 2-byte aligned and 18-210 bytes long. W's rows are cut into groups of 8
// (the last one zero-padded); a warp takes a group and one block b, lane = 4 r + p holding part
// p (0..3) of row r's block. Group g's block b is one slab of slab_words(f) u32 at word
// (g * num_blocks + b) * slab_words(f): first lane_planes(f) planes of 32 words (plane l, word
// lane), then row_planes(f) planes of 8 words (one per row):
//
//   q8_0        lanes: stored qs bytes [4p, 4p + 4), [16 + 4p, 16 + 4p + 4)      rows: d
//   q4_0, q4_1  lanes: stored qs bytes [4p, 4p + 4) (low nibbles: quants 4p + t,
//               high: 16 + 4p + t)                                            rows: d | m << 16
//   q5_0, q5_1  lanes: as q4                                   rows: d | m << 16, the stored qh
//   q4_k        lanes: 8 nibble words, then sub-block scales   rows: d | dmin << 16
//   q5_k        lanes: 8 nibble words, 2 fifth-bit words, scales     rows: d | dmin << 16
//   q6_k        lanes: 8 nibble words, 4 high-bit words, scales       rows: d
//
// (f16 bits as stored). K-quant part p covers quants 64p .. 64p + 63 of the super-block: nibble
// word i's low nibbles are quants 64p + 4i + t, its high nibbles 64p + 32 + 4i + t (t = byte),
// which for q4_k / q5_k are the stored qs bytes [32p + 4i, + 4) as they are. q5_k's fifth-bit
// word h, byte j holds nibble word 4h + j's fifth bits (bits 0-3 the low quants', 4-7 the high
// ones'); q6_k's high-bit word h holds nibble words 2h and 2h + 1 (16 bits each: bits 2t, 2t + 1
// the low quant t's top bits, bits 8 + 2t, 9 + 2t the high one's). The scale word has bytes sc[2p],
// sc[2p + 1], min[2p], min[2p + 1] (q4_k / q5_k, 6-bit, unpacked) or the int8 scales of the
// 16-quant sub-blocks 4p .. 4p + 3 (q6_k). About the stored size: q4_1 and q5_1 as stored, q4_0
// 11% more, q8_0 6%, the K-quants 1-3%.
//
// Every pointer given to an enqueuing function is device memory; each enqueues on `stream`,
// returns the launch error if any (file:line), and waits for nothing. Never build these with
// --use_fast_math.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "kernels/cpu/block_format.hpp"

namespace troupe::kernels::cuda {

using kernels::cpu::block_format;

// -- the packed layout (host functions) --

int quant_lane_planes(block_format f);  // 2, 1, 1, 1, 1, 9, 11, 13
int quant_row_planes(block_format f);   // 1, 1, 1, 2, 2, 1, 1, 1
int64_t quant_slab_words(block_format f);
// u32 words of a packed [N][K] weight. requires: K % block_elements(f) == 0.
int64_t quant_packed_words(block_format f, int64_t N, int64_t K);
// The stored rows ([N] rows of kernels::cpu::row_bytes(f, K) bytes) repacked; `out` holds
// quant_packed_words(f, N, K) words.
void quant_pack(block_format f, const uint8_t* stored, int64_t N, int64_t K, uint32_t* out);
std::vector<uint32_t> quant_pack(block_format f, const uint8_t* stored, int64_t N, int64_t K);

// -- activations --

// x quantized for weights of format f: kernels::cpu::quant::quantized_rows on the device, every
// array row-major by token. sums: per block (32-block formats) or per 16 quants (K-quants).
struct quant_activations {
  int8_t* q = nullptr;      // [M][K]
  float* d = nullptr;       // [M][num_blocks]
  float* s = nullptr;       // [M][num_blocks] q8_1's f16(d * sum q) (q4_1 / q5_1), else 0
  int32_t* sums = nullptr;  // [M][quant_num_sums(f, K)]
};

int64_t quant_num_blocks(block_format f, int64_t K);  // K / block_elements(f)
int64_t quant_num_sums(block_format f, int64_t K);    // num_blocks, or K / 16 for K-quants
// Bytes of each array of a quant_activations for M rows (q's, then d's = s's, then sums'), each
// rounded up to 256 so that one allocation can hold them in a row.
int64_t quant_activation_bytes(block_format f, int64_t M, int64_t K);
// Points a quant_activations at `base` laid out as quant_activation_bytes says.
quant_activations quant_activations_at(void* base, block_format f, int64_t M, int64_t K);

// kernels::cpu::quant::quantize_rows on the device: the same bits. One warp per 32-block (q8_0,
// q8_1) or per 256-block (q8_K). requires: K % block_elements(f) == 0.
status quant_quantize(block_format f, const float* x, int64_t M, int64_t K,
                      const quant_activations& out, cudaStream_t stream);

// -- products --

// y[m * ldy + n] = the contract's y[m][n] for m < M, n < N (kernels/cpu/quant_gemm.hpp), from
// x quantized by quant_quantize for the same f and K. Each CTA of 4 warps takes one row group and
// up to 16 rows of x: its warps load and decode the group's blocks (several in flight) and write
// the blocks' exact integer sums to shared memory; 8 threads per x row then add the blocks' f32
// terms in ascending order while the warps' loads of the next blocks are in flight.
// requires: ldy >= N; y does not alias anything else.
status quant_gemm(block_format f, const uint32_t* packed, int64_t N, int64_t K,
                  const quant_activations& x, int64_t M, float* y, int64_t ldy,
                  cudaStream_t stream);

// Rows [n0, n0 + rows) of W decoded and rounded to f16 (dequantize_row's values through
// kernels/cpu/half.hpp's f32_to_f16): out [rows][K] f16 words. gemm_engine::quant's path for steps
// of many rows. requires: 0 <= n0, n0 + rows <= N.
status quant_dequantize_f16(block_format f, const uint32_t* packed, int64_t N, int64_t K,
                            int64_t n0, int64_t rows, uint16_t* out, cudaStream_t stream);

// out[t] = row (token_ids[t] - first_token) of W decoded to f32 (kernels::cpu::dequantize_row's
// bits), zeros where that is outside [0, N): the embedding op of kernels/cuda/elementwise.hpp
// for a packed table.   out [num_tokens][K]
status quant_embedding(block_format f, const uint32_t* packed, int64_t N, int64_t K,
                       int64_t first_token, const int32_t* token_ids, int64_t num_tokens,
                       float* out, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
