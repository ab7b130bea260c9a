#pragma once
// The CPU kernels' names of the backend's weight formats (cpu_backend's upload and ops).
#include <optional>

#include "kernels/cpu/panel_gemm.hpp"
#include "kernels/cpu/quant_gemm.hpp"
#include "runtime/backend/backend_types.hpp"

namespace troupe::backend {

// kernels/cpu's block format of a GGUF block format; nullopt for the other formats.
inline std::optional<kernels::cpu::block_format> cpu_block_format(weight_format f) {
  using kernels::cpu::block_format;
  switch (f) {
    case weight_format::q8_0:
      return block_format::q8_0;
    case weight_format::q4_0:
      return block_format::q4_0;
    case weight_format::q4_1:
      return block_format::q4_1;
    case weight_format::q5_0:
      return block_format::q5_0;
    case weight_format::q5_1:
      return block_format::q5_1;
    case weight_format::q4_k:
      return block_format::q4_k;
    case weight_format::q5_k:
      return block_format::q5_k;
    case weight_format::q6_k:
      return block_format::q6_k;
    default:
      return std::nullopt;
  }
}

// kernels/cpu's dense type of f32 / bf16 / f16; nullopt for the other formats.
inline std::optional<kernels::cpu::dense_type> cpu_dense_type(weight_format f) {
  using kernels::cpu::dense_type;
  switch (f) {
    case weight_format::f32:
      return dense_type::f32;
    case weight_format::bf16:
      return dense_type::bf16;
    case weight_format::f16:
      return dense_type::f16;
    default:
      return std::nullopt;
  }
}

}  // namespace troupe::backend
