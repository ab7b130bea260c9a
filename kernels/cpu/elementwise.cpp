// add_inplace: y [n] += x [n]; add_bias: y [rows][cols] += bias [cols]; argmax (contract:
// elementwise.hpp).
#include "kernels/cpu/elementwise.hpp"

#include <cmath>

namespace troupe::kernels::cpu {

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    add_inplace(y + r * cols, bias, cols);
}

int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best] || std::isnan(x[best])) best = i;
  return best;
}

}  // namespace troupe::kernels::cpu
