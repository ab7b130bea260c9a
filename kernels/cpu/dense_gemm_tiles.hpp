#pragma once
// Internal to dense_gemm: the register tiles each instruction set provides, and the driver that
// sweeps them over y (dense_gemm.cpp). Not for use outside kernels/cpu/dense_gemm*.
//
// A tile computes an mr x nr block of y, every element by dense_gemm.hpp's algorithm:
//
//   y[i * ldy + j] = dense_dot(x + i * K, W row j)    i < mr, j < nr
//
// where W row j starts j * K elements of the weight type after `w`. The tile shape never changes
// a result; it only decides which loads are shared.
#include <cstdint>

#include "kernels/cpu/dense_gemm.hpp"

namespace troupe::kernels::cpu::dense_detail {

using tile_fn = void (*)(const float* x, int64_t K, const void* w, float* y, int64_t ldy);

struct tile_set {
  int max_rows;     // tiles exist for mr = 1 .. max_rows
  int cols;         // the widest tile for mr >= 2
  int cols_single;  // the widest tile for mr == 1 (a multiple of `cols`)
  // The tile for mr x nr. requires: 1 <= mr <= max_rows, 1 <= nr <= (mr == 1 ? cols_single : cols).
  tile_fn (*get)(dense_type type, int mr, int nr);
};

// Each requires dense_isa_supported() of its instruction set before any tile runs.
const tile_set& scalar_tiles();
const tile_set& avx2_tiles();
const tile_set& avx512_tiles();

}  // namespace troupe::kernels::cpu::dense_detail
