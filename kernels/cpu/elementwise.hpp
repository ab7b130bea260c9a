#pragma once
// Elementwise residual addition: y[i] += x[i].
//
//   y, x: [n]
#include <cstdint>

namespace troupe::kernels::cpu {

void add_inplace(float* y, const float* x, int64_t n);

}  // namespace troupe::kernels::cpu
