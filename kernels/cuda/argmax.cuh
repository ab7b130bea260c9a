#pragma once
// The order of an argmax's candidates (internal; included by .cu files only): argmax_rows
// (elementwise.cu) and sample_rows (sampling.cu) reduce with it, so both give
// kernels::cpu::argmax's index whatever the order of the parallel reduction.
#include <cstdint>

namespace troupe::kernels::cuda::detail {

struct argmax_candidate {
  float value;
  int32_t index;
};

// The winner of two candidates: a non-NaN value beats a NaN, a larger value a smaller one, the
// lower index at an equal value; of two NaNs the higher index wins (the scan's result for an
// all-NaN row). A total order.
__device__ __forceinline__ argmax_candidate better(argmax_candidate a, argmax_candidate b) {
  const bool a_nan = isnan(a.value), b_nan = isnan(b.value);
  if (a_nan != b_nan) return a_nan ? b : a;
  if (a_nan) return a.index > b.index ? a : b;
  if (a.value != b.value) return a.value > b.value ? a : b;
  return a.index < b.index ? a : b;
}

}  // namespace troupe::kernels::cuda::detail
