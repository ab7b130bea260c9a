// rmsnorm: x [rows][dim], weight [dim] -> y [rows][dim] (contract: rmsnorm.hpp).
#include "kernels/cpu/rmsnorm.hpp"

#include <cmath>

namespace troupe::kernels::cpu {

void rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
             float* y) {
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      sum += static_cast<double>(xr[i] * xr[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(dim));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < dim; ++i)
      yr[i] = (xr[i] * scale) * weight[i];
  }
}

}  // namespace troupe::kernels::cpu
