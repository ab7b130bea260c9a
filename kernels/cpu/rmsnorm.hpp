#pragma once
// rmsnorm: per row, y = (x * 1/sqrt(mean(x^2) + eps)) * weight, as ggml_rms_norm followed by a
// multiplication with the weight (two roundings, in that order).
//
//   x:      [num_rows][dim]
//   weight: [dim]
//   y:      [num_rows][dim]   (may be x itself)
//
// The sum of squares runs over the row in ascending order (squares in f32, summed in double as
// ggml does), so a row's result depends only on that row.
#include <cstdint>

namespace troupe::kernels::cpu {

void rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
             float* y);

}  // namespace troupe::kernels::cpu
