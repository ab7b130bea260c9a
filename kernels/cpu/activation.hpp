#pragma once
// SwiGLU activation of the feed-forward block: out = silu(gate) * up, silu(g) = g / (1 + e^-g),
// computed as (g / (1 + exp_value(-g))) * up (kernels/cpu/exp.hpp) for every element, on every code
// path (so any split of the array gives the same bits).
//
//   gate, up, out: [n]   (elementwise; out may alias gate or up)
#include <cstdint>

namespace troupe::kernels::cpu {

void silu_mul(const float* gate, const float* up, int64_t n, float* out);

}  // namespace troupe::kernels::cpu
