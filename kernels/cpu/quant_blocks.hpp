#pragma once
// Internals of quant_gemm (kernels/cpu/quant_gemm.hpp): block decoding, activation quantization,
// the scalar reference dot products and the packed weight tiles the SIMD kernels read.
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/quant_gemm.hpp"

namespace troupe::kernels::cpu::quant {

constexpr int64_t qk = 32;     // values per 32-block (q8_0 .. q5_1, and activation blocks)
constexpr int64_t qk_k = 256;  // values per K-quant super-block

inline bool is_k_quant(block_format f) {
  return f == block_format::q4_k || f == block_format::q5_k || f == block_format::q6_k;
}

// Calls fn(std::integral_constant<block_format, F>{}) for the 32-block format F == f, so that a
// kernel templated on the format is chosen once per call; returns false, calling nothing, for a
// K-quant.
template <class Fn>
bool with_32_block_format(block_format f, Fn&& fn) {
  switch (f) {
    case block_format::q8_0:
      fn(std::integral_constant<block_format, block_format::q8_0>{});
      return true;
    case block_format::q4_0:
      fn(std::integral_constant<block_format, block_format::q4_0>{});
      return true;
    case block_format::q4_1:
      fn(std::integral_constant<block_format, block_format::q4_1>{});
      return true;
    case block_format::q5_0:
      fn(std::integral_constant<block_format, block_format::q5_0>{});
      return true;
    case block_format::q5_1:
      fn(std::integral_constant<block_format, block_format::q5_1>{});
      return true;
    default:
      return false;
  }
}

// Formats with a per-block additive m (q4_1, q5_1): their activations are q8_1.
inline bool has_min(block_format f) {
  return f == block_format::q4_1 || f == block_format::q5_1;
}

// -- byte access (the data has no alignment promise) --

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// f16 bits -> f32, exact for every input.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return std::bit_cast<float>(sign);
  uint32_t e = 113;  // subnormal: normalize the mantissa
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return std::bit_cast<float>(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
}

// f32 -> f16 bits, round to nearest even (as F16C and ggml's reference do).
uint16_t f32_to_f16(float f);

inline float load_f16(const uint8_t* p) {
  return f16_to_f32(load_u16(p));
}

// The 32 raw quants of a 32-block as unsigned bytes: q8_0 -> the int8 bytes as stored; 4-bit
// formats 0..15; 5-bit formats 0..31 (before subtracting any zero point).
void block_quants(block_format f, const uint8_t* block, uint8_t out[qk]);

// The zero point subtracted from block_quants' values: 8 (q4_0), 16 (q5_0), else 0.
int32_t zero_point(block_format f);

// Byte offsets inside a stored (ggml) 32-block of its quants and of its fifth bits (-1: none):
//   q8_0  d | qs[32]        q4_0  d | qs[16]        q4_1  d m | qs[16]
//   q5_0  d | qh[4] | qs[16]                        q5_1  d m | qh[4] | qs[16]
struct stored_layout {
  int qs;
  int qh;
};

constexpr stored_layout stored_layout_of(block_format f) {
  switch (f) {
    case block_format::q4_0:
      return {2, -1};
    case block_format::q4_1:
      return {4, -1};
    case block_format::q5_0:
      return {6, 2};
    case block_format::q5_1:
      return {8, 4};
    default:
      return {2, -1};  // q8_0
  }
}

// Offset of the f16 scale d (and m) inside a 32-block.
constexpr int64_t scale_offset = 0;
constexpr int64_t min_offset = 2;  // q4_1 / q5_1

// K-quant sub-block j (0..7) scale and min from the 12 packed bytes.
void scale_min_k4(int j, const uint8_t* scales, int32_t& scale, int32_t& min);

// -- activations --

// M rows of x quantized for one weight format: 32-blocks (q8_0 / q8_1) or 256-blocks (q8_K).
struct quantized_rows {
  int64_t K = 0;
  int64_t num_blocks = 0;     // K / 32 or K / 256
  std::vector<int8_t> q;      // [M][K]
  std::vector<float> d;       // [M][num_blocks] f32 value of the scale (f16-rounded for q8_0/1)
  std::vector<float> s;       // [M][num_blocks] q8_1's f16(d * sum q) as f32, else 0
  std::vector<int32_t> sums;  // [M][K / 16] sum of q over each 16 values (q8_K's bsums)
                              // for 32-block formats: [M][num_blocks] sum over the block
  int64_t num_sums = 0;       // per row

  const int8_t* row_q(int64_t m) const { return q.data() + m * K; }
  const float* row_d(int64_t m) const { return d.data() + m * num_blocks; }
  const float* row_s(int64_t m) const { return s.data() + m * num_blocks; }
  const int32_t* row_sums(int64_t m) const { return sums.data() + m * num_sums; }
};

// Sizes `out` for M rows of K values for weights of format f.
void resize(quantized_rows& out, block_format f, int64_t M, int64_t K);
// The activation quantizer's versions: the scalar reference and its vector twins for the
// 32-blocks (the same bits; the K-quants' q8_K is scalar on every one).
enum class quantizer : uint8_t { scalar, avx2, avx512 };
// The best this CPU runs (AVX-512 F/BW/VL, else AVX2 with F16C, else scalar).
quantizer best_quantizer();
// Quantizes rows [m_begin, m_end) of x into `out` (sized by resize) with best_quantizer().
void quantize_rows(block_format f, const float* x, int64_t m_begin, int64_t m_end,
                   quantized_rows& out);
// For tests: one version (requires the CPU to run it).
void quantize_rows_on(quantizer version, block_format f, const float* x, int64_t m_begin,
                      int64_t m_end, quantized_rows& out);

// -- the scalar reference: y[m][n] for n in [n_begin, n_end), every m (contract: quant_gemm.hpp) --

void scalar_columns(block_format f, const quantized_rows& xq, int64_t M, const uint8_t* w,
                    int64_t N, int64_t n_begin, int64_t n_end, float* y);

// -- packed tiles for the SIMD kernels (32-block formats) --
//
// tile_rows W rows (zero-padded past N) repacked so that one 32-bit lane holds one row:
//
//   q[b][g][r][t] (u8) = quant 4g + t of block b of row r      g: 0..7, r: 0..15, t: 0..3
//   d[b][r] = dw;  m[b][r] = mw (q4_1 / q5_1; else 0), both still f16 bits (the kernels
//   convert them with VCVTPH2PS, exact like every f16 -> f32 conversion)
//
// so a 512-bit register holds dword group g of block b for all 16 rows and an int8 dot product
// with one broadcast dword of x advances 16 outputs at once.
constexpr int tile_rows = 16;

struct packed_tile {
  int64_t num_blocks = 0;
  std::vector<uint8_t> q;   // [num_blocks][8][16][4]
  std::vector<uint16_t> d;  // [num_blocks][16] f16
  std::vector<uint16_t> m;  // [num_blocks][16] f16
};

// Packs W rows [n0, n0 + tile_rows) (rows >= N are zero) of a 32-block format.
void pack_tile(block_format f, const uint8_t* w, int64_t K, int64_t N, int64_t n0,
               packed_tile& out);

// y[m][n0 + r] for r < nr and m in [0, M) from a packed tile, on one SIMD path.
void vnni_tile(block_format f, const packed_tile& t, const quantized_rows& xq, int64_t M, float* y,
               int64_t ldy, int nr);
void avx2_tile(block_format f, const packed_tile& t, const quantized_rows& xq, int64_t M, float* y,
               int64_t ldy, int nr);

// -- weights packed once (quant_packed_weight, 32-block formats) --
//
// W is cut into tiles of 16 rows (the last one zero-padded); tile t holds rows 16t .. 16t + 15
// and its blocks b = 0 .. K / 32 - 1 follow each other, each in 16 * block_bytes(f) bytes, so
// the packed weight is exactly as big as the stored one (plus the padding rows):
//
//   q8_0: | qs[8][16][4] i8 (512) |                | d[16] f16 (32) |
//   q4_0: | qs[4][16][4] u8 (256) |                | d[16]          |
//   q4_1: | qs[4][16][4]          |                | d[16] | m[16]  |
//   q5_0: | qs[4][16][4]          | qh[16] u32 (64) | d[16]          |
//   q5_1: | qs[4][16][4]          | qh[16] u32      | d[16] | m[16]  |
//
// qs[g][r] = the 4 stored bytes qs[4g .. 4g + 3] of row r's block (q8_0: its int8 quants 4g ..
// 4g + 3): a 64-byte line is group g of all 16 rows, one 32-bit lane per row, and for the 4-bit
// formats its low nibbles are quants 4g + t, its high nibbles quants 16 + 4g + t (t = byte).
// qh[r] (5-bit formats) holds quant j's fifth bit (bit j of the stored qh) at bit g of byte t,
// j = 4g + t, so the fifth bits of dword group g (0..7) are (qh >> g << 4) & 0x10101010.
// The K-quants are kept as stored (N rows of row_bytes(f, K)).
constexpr int64_t packed_block_bytes(block_format f) {
  return f == block_format::q8_0   ? 544
         : f == block_format::q4_0 ? 288
         : f == block_format::q4_1 ? 320
         : f == block_format::q5_0 ? 352
                                   : 384;
}
constexpr int64_t packed_qh_offset = 256;
constexpr int64_t packed_d_offset(block_format f) {
  return f == block_format::q8_0                              ? 512
         : f == block_format::q4_0 || f == block_format::q4_1 ? 256
                                                              : 320;
}
constexpr int64_t packed_m_offset(block_format f) {
  return packed_d_offset(f) + 32;
}

// nr (<= 16) stored rows at `w` (row_bytes(f, K) apart) into one tile at `out` (zeroed before).
void pack_stored_tile(block_format f, const uint8_t* w, int64_t K, int nr, uint8_t* out);
// Row r of a tile back to its stored bytes (row_bytes(f, K) of them).
void unpack_stored_row(block_format f, const uint8_t* tile, int64_t K, int r, uint8_t* row);

// K-quant tiles: tile_rows W rows (zero-padded past N) repacked per 256-value super-block, one
// 32-bit lane per row as above (a "line" is 64 bytes: 4 bytes of each of the 16 rows):
//   q4_k: | qs lines [32] | sc [8][16] u8 | mn [4][16] u32 | d [16] f16 | dmin [16] f16 |
//   q5_k: | qs lines [32] | qh lines [8] | sc | mn | d | dmin |
//   q6_k: | ql lines [32] | qh lines [16] | sc [16][16] i8 | d [16] f16 |
// q4_k/q5_k qs line 8p + u holds stored qs[32p + 4u .. + 3] (low nibbles: sub-block 2p, values
// 4u..; high: sub-block 2p + 1), qh line u stored qh[4u .. + 3] (bit j: sub-block j's fifth bit),
// sc[j][r] and mn pair p = (min 2p | min 2p + 1 << 16) the 6-bit scales and mins scale_min_k4
// unpacks. q6_k ql line 16h + 8k + g holds stored ql[64h + 32k + 4g ..], qh line 8h + g stored
// qh[32h + 4g ..] (the layouts of dequant_kquants.cpp), sc[s][r] the int8 scales. The same bytes
// as stored, give or take the unpacked scales (q4_k 2496 per super-block and tile against 2304).
int64_t k_tile_block_bytes(block_format f);
void pack_k_tile(block_format f, const uint8_t* w, int64_t K, int nr, uint8_t* out);
void unpack_k_row(block_format f, const uint8_t* tile, int64_t K, int r, uint8_t* row);
// y[m0 + i][0 .. nr) for i < mr (<= 8) against one K tile, from xq's q8_K rows (AVX-512 VNNI).
void vnni_k_tile(block_format f, const uint8_t* tile, int64_t num_blocks, const quantized_rows& xq,
                 int64_t m0, int mr, float* y, int64_t ldy, int nr);
// The same on AVX2 (any mr: runs of up to 4 rows).
void avx2_k_tile(block_format f, const uint8_t* tile, int64_t num_blocks, const quantized_rows& xq,
                 int64_t m0, int mr, float* y, int64_t ldy, int nr);

// Quantized x rows regrouped for the packed VNNI kernel: groups of 8 rows (the last M % 8), each
// group's blocks in order, per block (mr = rows in the group):
//   | q[mr][32] i8 | corr[mr] i32 | dx[mr] f32 | sx[mr] f32 |    corr = -offset * sum(q)
// so a group sweeps one contiguous stream. Group at row m0 starts at m0 * num_blocks * 44.
constexpr int64_t panel_row_bytes = 44;  // per row and block
constexpr int64_t panel_group_rows = 8;
struct x_panels {
  int64_t num_blocks = 0;
  std::vector<uint8_t> bytes;
  const uint8_t* group(int64_t m0) const {
    return bytes.data() + m0 * num_blocks * panel_row_bytes;
  }
};
// Sizes `out` for M rows; then fill_panels for row ranges starting at multiples of 8.
void resize(x_panels& out, int64_t M, int64_t num_blocks);
void fill_panels(block_format f, const quantized_rows& xq, int64_t m_begin, int64_t m_end,
                 int64_t M, x_panels& out);

// y[m][n0 + 16j + r] for the mr (<= 8) x rows of `panel`, tiles j < num_tiles (1 or 2) at `tile`,
// `tile_stride` apart, every row r < 16 but r < nr_last in the last tile.
void vnni_packed(block_format f, const uint8_t* tile, int64_t tile_stride, int num_tiles,
                 const uint8_t* panel, int mr, int64_t num_blocks, float* y, int64_t ldy,
                 int nr_last);
// The same for one tile (nr <= 16 of its rows) on AVX2, mr <= 8 rows of one panel group.
void avx2_packed(block_format f, const uint8_t* tile, const uint8_t* panel, int mr,
                 int64_t num_blocks, float* y, int64_t ldy, int nr);

}  // namespace troupe::kernels::cpu::quant
