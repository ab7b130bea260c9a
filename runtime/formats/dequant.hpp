#pragma once
// Dequantization of ggml tensor data to f32, for the types troupe loads: F32, F16, BF16, Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K (the last five: dequant_kquants.hpp). Block layouts
// (little endian, packed, 32 weights per block):
//
//   Q8_0 (34 B): | d: f16 | qs: i8[32] |                      x[i] = qs[i] * d
//   Q4_0 (18 B): | d: f16 | qs: u8[16] |                      x[i] = (q[i] - 8) * d
//   Q4_1 (20 B): | d: f16 | m: f16 | qs: u8[16] |             x[i] = q[i] * d + m
//
//   4-bit q[i]:  byte qs[j] = | high nibble: q[j + 16] | low nibble: q[j] |   (j in 0..15)
//                so the low nibbles hold weights 0..15 and the high nibbles weights 16..31.
#include <cstdint>
#include <span>
#include <string_view>

#include "base/result.hpp"

namespace troupe::runtime {

// True for the types dequantize() handles.
bool can_dequantize(uint32_t type);

// Decodes `out.size()` weights stored as ggml type `type` in `data` into `out`.
// requires: nothing of the inputs; a wrong size or unsupported type is an error naming `name`
//           ("unsupported tensor type Q6_K (14) for 'blk.0.ffn_down.weight'").
// guarantees: on success every element of `out` is written; reads stay inside `data`.
// thread: pure; safe to call concurrently on disjoint outputs.
status dequantize(uint32_t type, std::span<const uint8_t> data, std::span<float> out,
                  std::string_view name);

}  // namespace troupe::runtime
