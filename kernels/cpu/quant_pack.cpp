// pack_tile: 16 W rows of a 32-block format into the dword-per-row layout of quant_blocks.hpp.
// Decode streams every weight byte through here once per call, so each format gets a
// straight-line unpacker working on whole 32-bit groups of 4 quants.
#include <algorithm>
#include <cassert>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {
namespace {

constexpr uint32_t low_nibbles = 0x0f0f0f0fu;

// Bit i (0..3) of `bits` moved to bit 4 of byte i: the fifth bits of 4 quants.
constexpr uint32_t spread_fifth(uint32_t bits) {
  uint32_t out = 0;
  for (int i = 0; i < 4; ++i)
    out |= ((bits >> i) & 1u) << (8 * i + 4);
  return out;
}

constexpr uint32_t fifth_table[16] = {
    spread_fifth(0),  spread_fifth(1),  spread_fifth(2),  spread_fifth(3),
    spread_fifth(4),  spread_fifth(5),  spread_fifth(6),  spread_fifth(7),
    spread_fifth(8),  spread_fifth(9),  spread_fifth(10), spread_fifth(11),
    spread_fifth(12), spread_fifth(13), spread_fifth(14), spread_fifth(15)};

// dst points at row r's dword of group 0; group g is g * 16 dwords further.
inline void put(uint8_t* dst, int g, uint32_t v) {
  std::memcpy(dst + g * tile_rows * 4, &v, 4);
}

template <block_format F>
void pack_block(const uint8_t* block, uint8_t* dst) {
  constexpr stored_layout l = stored_layout_of(F);
  if constexpr (F == block_format::q8_0) {
    for (int g = 0; g < 8; ++g)
      put(dst, g, load_u32(block + l.qs + 4 * g));
  } else {
    uint32_t qh = 0;
    if constexpr (l.qh >= 0) qh = load_u32(block + l.qh);
    for (int g = 0; g < 4; ++g) {
      const uint32_t v = load_u32(block + l.qs + 4 * g);
      uint32_t lo = v & low_nibbles, hi = (v >> 4) & low_nibbles;
      if constexpr (l.qh >= 0) {
        lo |= fifth_table[(qh >> (4 * g)) & 15u];
        hi |= fifth_table[(qh >> (16 + 4 * g)) & 15u];
      }
      put(dst, g, lo);
      put(dst, g + 4, hi);
    }
  }
}

template <block_format F>
void pack_rows(const uint8_t* w, int64_t stride, int nr, packed_tile& out) {
  constexpr int64_t bytes = F == block_format::q8_0   ? 34
                            : F == block_format::q4_0 ? 18
                            : F == block_format::q4_1 ? 20
                            : F == block_format::q5_0 ? 22
                                                      : 24;
  // Local pointers: the byte stores below may alias anything, so the vectors' own pointers
  // would otherwise be reloaded after every store.
  const int64_t nb = out.num_blocks;
  uint8_t* const q = out.q.data();
  uint16_t* const d = out.d.data();
  uint16_t* const m = out.m.data();
  for (int r = 0; r < nr; ++r) {
    const uint8_t* block = w + r * stride;
    uint8_t* dst = q + r * 4;
    for (int64_t b = 0; b < nb; ++b, block += bytes, dst += qk * tile_rows) {
      pack_block<F>(block, dst);
      d[b * tile_rows + r] = load_u16(block);
      if constexpr (F == block_format::q4_1 || F == block_format::q5_1)
        m[b * tile_rows + r] = load_u16(block + min_offset);
    }
  }
}

}  // namespace

void pack_tile(block_format f, const uint8_t* w, int64_t K, int64_t N, int64_t n0,
               packed_tile& out) {
  const int64_t nb = K / qk, stride = row_bytes(f, K);
  const int nr = static_cast<int>(std::min<int64_t>(tile_rows, N - n0));
  if (out.num_blocks != nb || out.q.size() != static_cast<size_t>(nb * qk * tile_rows)) {
    out.num_blocks = nb;
    out.q.assign(nb * qk * tile_rows, 0);
    out.d.assign(nb * tile_rows, 0);
    out.m.assign(nb * tile_rows, 0);
  }
  if (nr < tile_rows) {  // rows past N must read as zero weights
    std::fill(out.q.begin(), out.q.end(), uint8_t{0});
    std::fill(out.d.begin(), out.d.end(), uint16_t{0});
    std::fill(out.m.begin(), out.m.end(), uint16_t{0});
  }
  const uint8_t* rows = w + n0 * stride;
  [[maybe_unused]] const bool packed = with_32_block_format(
      f, [&](auto F) { pack_rows<decltype(F)::value>(rows, stride, nr, out); });
  assert(packed && "pack_tile: 32-block formats only");
}

}  // namespace troupe::kernels::cpu::quant
