#pragma once
// Internal to panel_gemm: the register tiles each instruction set provides, and what the driver
// (panel_gemm.cpp) hands them. Not for use outside kernels/cpu/panel_gemm*.
//
// A tile computes mr x (np * 32) outputs of y over one block of k, [k0, k0 + kc):
//
//   acc[i][c] = accumulate ? y[i * ldy + c] : 0                     i < mr, c < np * 32
//   for k in [k0, k0 + kc):  acc[i][c] = fma(x[k][i], W[k][c], acc[i][c])   (ascending k)
//   y[i * ldy + c] = acc[i][c]
//
// Storing the accumulator in y and loading it for the next block continues the same chain of
// FMAs (f32 stores are exact), so splitting k into blocks never changes a bit. The tile shape only
// decides which loads are shared.
#include <cstdint>

#include "kernels/cpu/panel_gemm.hpp"

namespace troupe::kernels::cpu::panel_detail {

struct tile_args {
  const float* x;        // packed x rows at k0: x[k * mr + i] is row i's element k0 + k
  const uint8_t* w;      // panel 0's row k0 (panel_weight layout); panel j is j * panel_stride on
  int64_t panel_stride;  // bytes between consecutive panels
  int64_t kc;            // number of k steps
  float* y;              // y[i * ldy + c]: all np * 32 columns are read (if accumulate) and written
  int64_t ldy;
  int mr;  // rows (the SIMD tiles know theirs at compile time)
  bool accumulate;
  // 0, or how far ahead of the rows it reads (bytes, in each of its panels) the tile prefetches
  // W into L2 as it goes: the next k block for a row group, a stream distance for a lone one.
  int64_t prefetch_ahead;
};

using tile_fn = void (*)(const tile_args& args);

struct tile_set {
  int max_rows;  // tiles exist for mr = 1 .. max_rows
  // How many panels a tile takes at once when x has only mr rows (np >= 1; a tile for np = 1
  // exists for every mr too).
  int (*single_group_panels)(int mr);
  // requires: 1 <= mr <= max_rows, np == 1 or np == single_group_panels(mr).
  tile_fn (*get)(dense_type type, int mr, int np);
};

// Each requires panel_isa_supported() of its instruction set before any tile runs.
const tile_set& scalar_tiles();
const tile_set& avx2_tiles();
const tile_set& avx512_tiles();

}  // namespace troupe::kernels::cpu::panel_detail
