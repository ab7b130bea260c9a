#pragma once
// rmsnorm: per row, y = (x * 1/sqrt(mean(x^2) + eps)) * weight, as ggml_rms_norm followed by a
// multiplication with the weight (two roundings, in that order).
//
//   x:      [num_rows][dim]
//   weight: [dim]
//   y:      [num_rows][dim]   (may be x itself)
//
// The sum of squares (squares in f32, summed in double as ggml does) runs in eight lanes: lane l
// adds x[k]^2 for k = l, l + 8, ... in ascending order, then
//   sum = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
// (dot()'s shape, in double), so a row's result depends only on that row. ggml's one running sum
// costs an add's latency per element; the lanes give the same value up to the rounding of the
// double sum, which f32's mean almost never sees.
#include <cstdint>

namespace troupe::kernels::cpu {

// The sum above, and its portable scalar twin (bitwise equal; tests check it).
double sum_of_squares(const float* x, int64_t dim);
double sum_of_squares_scalar(const float* x, int64_t dim);

void rmsnorm(const float* x, const float* weight, int64_t num_rows, int64_t dim, float eps,
             float* y);

}  // namespace troupe::kernels::cpu
