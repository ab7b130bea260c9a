#pragma once
// Element types the CUDA kernels read and write besides f32 activations (host-visible enums; no
// CUDA type appears here).
#include <cstdint>

namespace troupe::kernels::cuda {

// A dense weight's element type: f32, or 16-bit words (bf16 / IEEE f16) widened as they are read.
enum class dense_type : uint8_t { f32, bf16, f16 };

inline int64_t dense_type_bytes(dense_type t) {
  return t == dense_type::f32 ? 4 : 2;
}

// A paged KV cache's element type: f32; one OCP FP8 byte times a per-layer scale
// (kernels/cpu/fp8.hpp: encoding saturates to the largest finite value, ties to even); or a 16-bit
// word, bf16 or IEEE f16, without a scale (kernels/cpu/half.hpp: round to nearest even, widened
// exactly).
enum class kv_type : uint8_t { f32, fp8_e4m3, fp8_e5m2, bf16, f16 };

inline int64_t kv_type_bytes(kv_type t) {
  switch (t) {
    case kv_type::f32:
      return 4;
    case kv_type::bf16:
    case kv_type::f16:
      return 2;
    default:
      return 1;
  }
}

}  // namespace troupe::kernels::cuda
