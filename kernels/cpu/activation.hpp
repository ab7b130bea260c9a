#pragma once
// SwiGLU activation of the feed-forward block: out = silu(gate) * up, silu(g) = g / (1 + e^-g),
// computed as (g / (1 + exp_value(-g))) * up (kernels/cpu/exp.hpp) for every element, on every code
// path (so any split of the array gives the same bits).
//
//   gate, up, out: [n]   (elementwise; out may alias gate or up)
#include <algorithm>
#include <cstdint>

namespace troupe::kernels::cpu {

void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// The fewest rows of k values a thread-pool task takes when a product computes silu_mul's rows as
// it prepares its input (amx_gemm_silu, gemm_w8a8_tiles_silu): SiLU costs far more than the
// rounding or quantization, so a few thousand values a task already pay for waking a thread.
inline int64_t silu_rows_per_task(int64_t k) {
  return std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1));
}

}  // namespace troupe::kernels::cpu
