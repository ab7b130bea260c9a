#pragma once
// The AMX tile configuration the tile kernels share (amx_gemm.cpp, gemm_w8a8_amx.cpp): palette 1,
// eight tiles of 64-byte rows laid out as
//   tiles 0-3  C: accumulators of 16 x rows each (16 x 16 f32 or int32)
//   tiles 4-5  A: two slices of 16 x rows
//   tiles 6-7  B: the weights' two 16-column blocks (16 rows)
// A and C hold fewer rows when fewer than 16 x rows are multiplied (decode): less to load and
// store, and a row's sums do not depend on it. x86-64 only; included by kernels compiled for AMX.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace troupe::kernels::cpu::amx {

// ldtilecfg's 64-byte operand.
struct alignas(64) tile_config {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads the layout above for a product of `rows` x rows on the calling thread (release it with
// _tile_release() when done).
__attribute__((target("amx-tile"))) inline void configure_tiles(int64_t rows) {
  tile_config config;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = static_cast<uint8_t>(t < 6 ? std::clamp<int64_t>(rows, 1, 16) : 16);
  }
  // GCC's _tile_loadconfig tells the compiler it reads 8 bytes of `config`, so the stores above
  // can be dropped as dead (seen once this was inlined into a small constructor: LDTILECFG then
  // read garbage rows and faulted). This empty statement reads all 64.
  __asm__ volatile("" : : "m"(config));
  _tile_loadconfig(&config);
}

// Weights to fetch into L2 during a sweep, ahead of their own sweep: `lines` 64-byte lines a k step
// from `next` on (none when lines == 0). A prefetch never faults, so `next` may run past the end.
struct l2_prefetch {
  const uint8_t* next = nullptr;
  int64_t lines = 0;
  // Past what one sweep of `steps` k steps asks for (the next row block's share).
  void advance(int64_t steps) { next += lines * 64 * steps; }
};

// What each sweep of a product of `rows` x rows fetches of the B block computed next (at `next`,
// or nullptr for none): the block is the sweeps' 2 KiB a k step, spread over the row blocks of 32
// so that it has arrived when they are done. One row block streams its block once, as fast as
// memory allows, and fetches nothing (prefetching there only competes with it: measured slower).
inline l2_prefetch prefetch_over_row_blocks(const uint8_t* next, int64_t rows) {
  constexpr int64_t lines_a_step = 2048 / 64;
  const int64_t row_blocks = (rows + 31) / 32;
  if (next == nullptr || row_blocks <= 1) return {};
  return {next, (lines_a_step + row_blocks - 1) / row_blocks};
}

// The sweep both tile kernels run over K: C0-C3 zeroed, then per k step A0 (and, for Two, A1)
// loaded from a (and a + a_next) with row stride a_stride, B0 and B1 from b and b + 1 KiB, and
// Dot's products C0 += A0 B0, C1 += A0 B1 (C2 += A1 B0, C3 += A1 B1); a advances a_step bytes and
// b 2 KiB a step; with Prefetch, each step also asks L2 for the next `ahead.lines` lines of
// `ahead` (a separate instantiation: the loop without it is measurably faster when memory bound).
// GCC's tile intrinsics are inline-assembly macros, so this needs no target of its own (the
// caller's has the instructions). Dot: static c0() .. c3() issuing its product.
template <bool Two, class Dot, bool Prefetch = false>
__attribute__((always_inline)) inline void sweep(const uint8_t* a, int64_t a_next, long a_stride,
                                                 int64_t a_step, const uint8_t* b, int64_t steps,
                                                 l2_prefetch ahead = {}) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (Two) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t s = 0; s < steps; ++s, a += a_step, b += 2048) {
    if constexpr (Prefetch) {
      for (int64_t i = 0; i < ahead.lines; ++i, ahead.next += 64)
        _mm_prefetch(reinterpret_cast<const char*>(ahead.next), _MM_HINT_T1);
    }
    _tile_loadd(4, a, a_stride);
    _tile_loadd(6, b, 64);
    _tile_loadd(7, b + 1024, 64);
    Dot::c0();
    Dot::c1();
    if constexpr (Two) {
      _tile_loadd(5, a + a_next, a_stride);
      Dot::c2();
      Dot::c3();
    }
  }
}

}  // namespace troupe::kernels::cpu::amx
