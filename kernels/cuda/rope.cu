// rope (contract: rope.hpp): x [num_tokens][num_heads][head_dim] rotated in place.
//
// One thread per pair; the flat pair index p splits as
//   p = (token * num_heads + head) * num_pairs + i          num_pairs = head_dim / 2
// and pair i of a head sits at
//   interleaved: a = 2i, b = a + 1          neox: a = i, b = a + num_pairs
// The products and sums are the CPU's, one rounding each in the same order (the _rn intrinsics
// keep nvcc from contracting them to FMAs, as -ffp-contract=off does for kernels/cpu/rope.cpp).
#include <algorithm>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/rope.hpp"

namespace troupe::kernels::cuda {

namespace {

constexpr int block_threads = detail::flat_threads;

__global__ void rope_kernel(const float* cos, const float* sin, int32_t a_step, int32_t b_offset,
                            const int32_t* positions, int64_t num_pairs_total, int32_t num_heads,
                            int32_t num_pairs, float* x) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t p = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; p < num_pairs_total;
       p += stride) {
    const int64_t i = p % num_pairs;
    const int64_t token_head = p / num_pairs;
    const int64_t token = token_head / num_heads;
    const int64_t table_at = int64_t{positions[token]} * num_pairs + i;
    const float c = cos[table_at], s = sin[table_at];
    float* a = x + token_head * (2 * int64_t{num_pairs}) + i * a_step;
    float* b = a + b_offset;
    const float x0 = *a, x1 = *b;
    *a = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    *b = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
  }
}

}  // namespace

status rope(const float* cos, const float* sin, rope_layout layout, const int32_t* positions,
            int64_t num_tokens, int32_t num_heads, int32_t head_dim, float* x,
            cudaStream_t stream) {
  const int32_t num_pairs = head_dim / 2;
  const int64_t num_pairs_total = num_tokens * num_heads * num_pairs;
  if (num_pairs_total <= 0) return ok_status();
  const bool interleaved = layout == rope_layout::interleaved;
  const unsigned blocks = detail::flat_blocks(num_pairs_total);
  rope_kernel<<<blocks, block_threads, 0, stream>>>(cos, sin, interleaved ? 2 : 1,
                                                    interleaved ? 1 : num_pairs, positions,
                                                    num_pairs_total, num_heads, num_pairs, x);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
