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

// Greedy choice over x [n], n >= 1: the index of the largest non-NaN value, the lowest such index
// on ties; n - 1 when every value is NaN. (Written as the scan "best = i when x[i] > x[best] or
// x[best] is NaN", which kernels/cuda's argmax_rows reduces in parallel with the same result.)
int64_t argmax(const float* x, int64_t n);

}  // namespace troupe::kernels::cpu
