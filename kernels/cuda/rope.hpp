#pragma once
// Rotary position embedding on the GPU, in place: the same op as kernels/cpu/rope.hpp, from the
// same cos/sin tables (the host builds kernels::cpu::rope_table and uploads its rows), so the
// rotation (a cos - b sin, a sin + b cos) is computed with the same f32 roundings (no FMA
// contraction) and gives the CPU's bits.
//
//   cos, sin:  [num_positions][head_dim / 2]   device tables
//   positions: [num_tokens]                    device; requires: each < num_positions
//   x:         [num_tokens][num_heads][head_dim]
//   interleaved pairs (2i, 2i+1) (GGUF), neox pairs (i, i + head_dim / 2) (Hugging Face)
#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/result.hpp"

namespace troupe::kernels::cuda {

enum class rope_layout : uint8_t { interleaved, neox };

// requires: head_dim even.
status rope(const float* cos, const float* sin, rope_layout layout, const int32_t* positions,
            int64_t num_tokens, int32_t num_heads, int32_t head_dim, float* x, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
