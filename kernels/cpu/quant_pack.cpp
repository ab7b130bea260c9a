// pack_tile: 16 W rows of a 32-block format into the dword-per-row layout of quant_blocks.hpp.
#include <algorithm>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {

void pack_tile(block_format f, const uint8_t* w, int64_t K, int64_t N, int64_t n0,
               packed_tile& out) {
  const int64_t nb = K / qk, stride = row_bytes(f, K), bytes = block_bytes(f);
  out.num_blocks = nb;
  out.q.resize(nb * qk * tile_rows);
  out.d.resize(nb * tile_rows);
  out.m.resize(nb * tile_rows);
  const int nr = static_cast<int>(std::min<int64_t>(tile_rows, N - n0));
  for (int r = 0; r < tile_rows; ++r) {
    const uint8_t* row = w + (n0 + r) * stride;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t q[qk] = {};
      float d = 0.0f, m = 0.0f;
      if (r < nr) {
        const uint8_t* block = row + b * bytes;
        block_quants(f, block, q);
        d = load_f16(block);
        if (has_min(f)) m = load_f16(block + min_offset);
      }
      uint8_t* dst = out.q.data() + b * qk * tile_rows + r * 4;
      for (int g = 0; g < 8; ++g)
        std::memcpy(dst + g * tile_rows * 4, q + 4 * g, 4);
      out.d[b * tile_rows + r] = d;
      out.m[b * tile_rows + r] = m;
    }
  }
}

}  // namespace troupe::kernels::cpu::quant
