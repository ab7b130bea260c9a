// apply_logit_edits (contract: sampling.hpp): the copy of the edited rows (a block per row and
// slice of its columns, so that a few rows still fill the device; coalesced; -inf for an
// allowed-only row), then one thread per
// edit, each writing its own (row, id) with cpu::apply_edit's roundings (at most one edit per
// pair: no conflicts, no order to keep). sampling.cu's sample_rows reads the result.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/sampling.hpp"

namespace troupe::kernels::cuda {

namespace {

using detail::flat_blocks;

// cpu::apply_edit, each step rounded as the CPU's.
__device__ __forceinline__ float edited_logit(float logit, const cpu::logit_edit& e) {
  if (e.flags & cpu::edit_mask) logit = -INFINITY;
  if (e.flags & cpu::edit_bias) logit = __fadd_rn(logit, e.bias);
  if (e.flags & cpu::edit_repetition) {
    logit = logit > 0.0f ? __fdiv_rn(logit, e.repetition_penalty)
                         : __fmul_rn(logit, e.repetition_penalty);
  }
  if (e.flags & cpu::edit_subtract) logit = __fsub_rn(logit, e.subtract);
  return logit;
}

// Block (x, y) copies, of rows y, y + gridDim.y, ... that are edited, the columns from
// x * blockDim.x on by strides of gridDim.x * blockDim.x (consecutive threads, consecutive ids).
__global__ void copy_edited_rows_kernel(const float* logits, int64_t rows, int32_t cols,
                                        const cpu::sampling_row* rows_params, float* processed) {
  const int32_t stride = static_cast<int32_t>(gridDim.x * blockDim.x);
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    if (rows_params[r].edited == 0) continue;
    const float* src = logits + r * cols;
    float* dst = processed + r * cols;
    // An allowed-only row keeps nothing but its edited tokens, which the edits write.
    const bool allowed_only = rows_params[r].allowed_only != 0;
    for (int32_t c = static_cast<int32_t>(blockIdx.x * blockDim.x + threadIdx.x); c < cols;
         c += stride)
      dst[c] = allowed_only ? -INFINITY : src[c];
  }
}

__global__ void apply_edits_kernel(const float* logits, int64_t rows, int32_t cols,
                                   const cpu::sampling_row* rows_params,
                                   const cpu::logit_edit* edits, int64_t num_edits,
                                   float* processed) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < num_edits; i += stride) {
    const cpu::logit_edit e = edits[i];
    // An edit outside the rows, or of a row not flagged edited (whose processed row is not ours
    // to write), is dropped rather than written out of bounds.
    if (e.row < 0 || e.row >= rows || e.id < 0 || e.id >= cols) continue;
    if (rows_params[e.row].edited == 0) continue;
    const int64_t at = int64_t{e.row} * cols + e.id;
    processed[at] = edited_logit(logits[at], e);
  }
}

}  // namespace

status apply_logit_edits(const float* logits, int64_t rows, int64_t cols,
                         const cpu::sampling_row* rows_params, const cpu::logit_edit* edits,
                         int64_t num_edits, float* processed, cudaStream_t stream) {
  if (cols <= 0 || cols >= (int64_t{1} << 23))
    return error{"apply_logit_edits: the number of columns must be in [1, 2^23)"};
  if (rows <= 0 || num_edits <= 0) return ok_status();
  // Up to 64 slices of a row: with 64 rows, 4096 blocks of 256 threads fill an H100 several times
  // over, and a single edited row is still copied by 64 SMs.
  const auto slices = static_cast<unsigned>(
      std::min<int64_t>((cols + detail::flat_threads - 1) / detail::flat_threads, 64));
  const auto row_groups = static_cast<unsigned>(std::min<int64_t>(rows, 65535));  // grid y limit
  copy_edited_rows_kernel<<<dim3(slices, row_groups), detail::flat_threads, 0, stream>>>(
      logits, rows, static_cast<int32_t>(cols), rows_params, processed);
  if (auto st = CUDA_CHECK(cudaGetLastError()); !st.ok()) return st;
  apply_edits_kernel<<<flat_blocks(num_edits), detail::flat_threads, 0, stream>>>(
      logits, rows, static_cast<int32_t>(cols), rows_params, edits, num_edits, processed);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
