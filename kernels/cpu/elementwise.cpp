// add_inplace: y [n] += x [n] (contract: elementwise.hpp).
#include "kernels/cpu/elementwise.hpp"

namespace troupe::kernels::cpu {

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += x[i];
}

}  // namespace troupe::kernels::cpu
