#pragma once
// The f16 / bf16 <-> f32 conversions of kernels/cpu/half.hpp (the one implementation, which the
// KV cache's kernels share) under the runtime's names.
#include "kernels/cpu/half.hpp"

namespace troupe::runtime {

using kernels::cpu::bf16_to_f32;
using kernels::cpu::f16_to_f32;
using kernels::cpu::f32_to_bf16;
using kernels::cpu::f32_to_f16;

}  // namespace troupe::runtime
