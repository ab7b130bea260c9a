#pragma once
// Launch shapes of kernels/cuda's grid-stride kernels (internal; included by .cu files only):
// blocks of flat_threads threads, at most max_grid_blocks of them (enough to fill an H100/H200
// many times over; each thread loops over the rest).
#include <algorithm>
#include <cstdint>

namespace troupe::kernels::cuda::detail {

constexpr int flat_threads = 256;
constexpr int64_t max_grid_blocks = int64_t{1} << 16;

// Blocks for n elements, one thread each.
inline unsigned flat_blocks(int64_t n) {
  return static_cast<unsigned>(std::min((n + flat_threads - 1) / flat_threads, max_grid_blocks));
}

// Blocks for `rows` rows, one block each.
inline unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::min(rows, max_grid_blocks));
}

}  // namespace troupe::kernels::cuda::detail
