#pragma once
// Block decoders for the 5-bit legacy quants and the K-quants (internal to dequant.cpp).
// Layouts (little endian, packed); gguf-py's quants.py and ggml-quants.c define them:
//
//   Q5_0 (22 B / 32):  | d: f16 | qh: u32 | qs: u8[16] |          x = (q - 16) * d
//   Q5_1 (24 B / 32):  | d: f16 | m: f16 | qh: u32 | qs: u8[16] |  x = q * d + m
//       q[j] = low nibble of qs[j] | bit j of qh << 4, q[j + 16] = high nibble | bit j+16 << 4
//
//   K-quants: super-blocks of 256 weights in sub-blocks with their own 6-bit (Q4_K/Q5_K) or
//   8-bit (Q6_K) scales.
//   Q4_K (144 B): | d: f16 | dmin: f16 | scales: u8[12] | qs: u8[128] |
//   Q5_K (176 B): | d: f16 | dmin: f16 | scales: u8[12] | qh: u8[32] | qs: u8[128] |
//       8 sub-blocks of 32, each with a 6-bit scale sc and min m packed in `scales`;
//       x = d * sc * q - dmin * m
//   Q6_K (210 B): | ql: u8[128] | qh: u8[64] | scales: i8[16] | d: f16 |
//       16 sub-blocks of 16; x = d * scale * (q - 32), q 6 bits (4 in ql, 2 in qh)
#include <cstddef>
#include <cstdint>

namespace troupe::runtime::detail {

inline constexpr size_t qk_k = 256;  // weights per K-quant super-block

// Each decodes `num_blocks` whole blocks from `in` into `out`.
void dequant_q5_0(const uint8_t* in, float* out, size_t num_blocks);
void dequant_q5_1(const uint8_t* in, float* out, size_t num_blocks);
void dequant_q4_k(const uint8_t* in, float* out, size_t num_blocks);
void dequant_q5_k(const uint8_t* in, float* out, size_t num_blocks);
void dequant_q6_k(const uint8_t* in, float* out, size_t num_blocks);

}  // namespace troupe::runtime::detail
