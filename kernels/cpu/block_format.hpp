#pragma once
// GGUF weight block formats (ggml's byte layouts: kernels/cpu/quant_gemm.hpp). A header of its
// own, in C++17, so that kernels/cuda can name them.
#include <cstdint>

namespace troupe::kernels::cpu {

enum class block_format : uint8_t { q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k };

}  // namespace troupe::kernels::cpu
