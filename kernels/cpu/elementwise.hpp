#pragma once
// Elementwise residual addition: y[i] += x[i].
//
//   y, x: [n]
#include <cstdint>

namespace troupe::kernels::cpu {

void add_inplace(float* y, const float* x, int64_t n);

// Bias added to every row: y[r][c] += bias[c].
//   y: [rows][cols], bias: [cols]
void add_bias(float* y, const float* bias, int64_t rows, int64_t cols);

}  // namespace troupe::kernels::cpu
