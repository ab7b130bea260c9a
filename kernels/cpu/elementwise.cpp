// add_inplace: y [n] += x [n]; add_bias: y [rows][cols] += bias [cols] (contract: elementwise.hpp).
#include "kernels/cpu/elementwise.hpp"

namespace troupe::kernels::cpu {

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    add_inplace(y + r * cols, bias, cols);
}

}  // namespace troupe::kernels::cpu
