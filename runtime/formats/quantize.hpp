#pragma once
// f32 -> ggml storage encoders following ggml's reference (non-SIMD) quantizers, so a tensor
// written here decodes exactly as ggml would have written it. Layouts: see dequant.hpp.
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

// True for the types encode_tensor() handles: F32, F16, BF16, Q8_0, Q4_0, Q4_1.
bool can_encode(uint32_t type);

// Encodes `values` (row-major, ne0 fastest) as ggml type `type`.
// requires: finite values. An unsupported type or a count that is not a whole number of blocks (32
// for
//           the quantized types) is an error.
// guarantees: the result has ggml_nbytes(type, values.size()) bytes.
result<std::vector<uint8_t>> encode_tensor(uint32_t type, std::span<const float> values);

// One block of 32 weights each; `out` must hold the block's bytes (34 / 18 / 20).
//   Q8_0: d = max|x| / 127,            q = round(x / d)
//   Q4_0: d = x_maxabs / -8 (signed),   q = min(15, trunc(x / d + 8.5))
//   Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5))
void quantize_block_q8_0(const float* x, uint8_t* out);
void quantize_block_q4_0(const float* x, uint8_t* out);
void quantize_block_q4_1(const float* x, uint8_t* out);

}  // namespace troupe::runtime
