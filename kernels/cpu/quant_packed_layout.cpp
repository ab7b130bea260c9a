// The packed weight tiles and x panels of quant_gemm_packed (layouts: quant_blocks.hpp). Packing
// runs once per weight at load time, so it is plain byte shuffling, not tuned.
#include <algorithm>
#include <cassert>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {
namespace {

// Stored qh bit j -> packed bit 8 * (j % 4) + j / 4, and back.
uint32_t spread_qh(uint32_t qh) {
  uint32_t out = 0;
  for (int j = 0; j < 32; ++j)
    out |= ((qh >> j) & 1u) << (8 * (j % 4) + j / 4);
  return out;
}

uint32_t gather_qh(uint32_t packed) {
  uint32_t out = 0;
  for (int j = 0; j < 32; ++j)
    out |= ((packed >> (8 * (j % 4) + j / 4)) & 1u) << j;
  return out;
}

}  // namespace

void pack_stored_tile(block_format f, const uint8_t* w, int64_t K, int nr, uint8_t* out) {
  assert(!is_k_quant(f) && nr <= tile_rows);
  const stored_layout l = stored_layout_of(f);
  const int64_t nb = K / qk, bytes = block_bytes(f), pbb = packed_block_bytes(f);
  const int groups = f == block_format::q8_0 ? 8 : 4;
  for (int r = 0; r < nr; ++r) {
    const uint8_t* block = w + r * nb * bytes;
    for (int64_t b = 0; b < nb; ++b, block += bytes) {
      uint8_t* dst = out + b * pbb;
      for (int g = 0; g < groups; ++g)
        std::memcpy(dst + 64 * g + 4 * r, block + l.qs + 4 * g, 4);
      if (l.qh >= 0) {
        const uint32_t qh = spread_qh(load_u32(block + l.qh));
        std::memcpy(dst + packed_qh_offset + 4 * r, &qh, 4);
      }
      std::memcpy(dst + packed_d_offset(f) + 2 * r, block + scale_offset, 2);
      if (has_min(f)) std::memcpy(dst + packed_m_offset(f) + 2 * r, block + min_offset, 2);
    }
  }
}

void unpack_stored_row(block_format f, const uint8_t* tile, int64_t K, int r, uint8_t* row) {
  const stored_layout l = stored_layout_of(f);
  const int64_t nb = K / qk, bytes = block_bytes(f), pbb = packed_block_bytes(f);
  const int groups = f == block_format::q8_0 ? 8 : 4;
  uint8_t* block = row;
  for (int64_t b = 0; b < nb; ++b, block += bytes) {
    const uint8_t* src = tile + b * pbb;
    for (int g = 0; g < groups; ++g)
      std::memcpy(block + l.qs + 4 * g, src + 64 * g + 4 * r, 4);
    if (l.qh >= 0) {
      const uint32_t qh = gather_qh(load_u32(src + packed_qh_offset + 4 * r));
      std::memcpy(block + l.qh, &qh, 4);
    }
    std::memcpy(block + scale_offset, src + packed_d_offset(f) + 2 * r, 2);
    if (has_min(f)) std::memcpy(block + min_offset, src + packed_m_offset(f) + 2 * r, 2);
  }
}

void resize(x_panels& out, int64_t M, int64_t num_blocks) {
  out.num_blocks = num_blocks;
  out.bytes.resize(M * num_blocks * panel_row_bytes);
}

void fill_panels(block_format f, const quantized_rows& xq, int64_t m_begin, int64_t m_end,
                 int64_t M, x_panels& out) {
  assert(m_begin % panel_group_rows == 0);
  // VPDPBUSD needs unsigned weights: q8_0's are flipped to q + 128 in the kernel, the 4/5-bit
  // ones are stored unsigned; corr removes offset * sum(x) again.
  const int32_t offset = f == block_format::q8_0 ? 128 : zero_point(f);
  const int64_t nb = xq.num_blocks;
  for (int64_t m0 = m_begin; m0 < m_end; m0 += panel_group_rows) {
    const int mr = static_cast<int>(std::min<int64_t>(panel_group_rows, M - m0));
    uint8_t* p = out.bytes.data() + m0 * nb * panel_row_bytes;
    for (int64_t b = 0; b < nb; ++b, p += mr * panel_row_bytes) {
      for (int i = 0; i < mr; ++i) {
        const int64_t m = m0 + i;
        std::memcpy(p + 32 * i, xq.row_q(m) + b * qk, 32);
        const int32_t corr = -offset * xq.row_sums(m)[b];
        std::memcpy(p + 32 * mr + 4 * i, &corr, 4);
        std::memcpy(p + 36 * mr + 4 * i, xq.row_d(m) + b, 4);
        std::memcpy(p + 40 * mr + 4 * i, xq.row_s(m) + b, 4);
      }
    }
  }
}

}  // namespace troupe::kernels::cpu::quant
