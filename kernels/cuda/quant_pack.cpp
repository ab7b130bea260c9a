// The packed layout of GGUF block weights for the GPU (kernels/cuda/quant_gemm.hpp), built on the
// host from the stored blocks, and the sizes of the device-side activation arrays.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels/cpu/quant_blocks.hpp"
#include "kernels/cuda/quant_gemm.hpp"

namespace troupe::kernels::cuda {
namespace {

namespace q = kernels::cpu::quant;

constexpr int group_rows = 8, parts = 4, lanes = group_rows * parts;

uint32_t word_at(const uint8_t* p) {
  return q::load_u32(p);
}

// Writes one slab's words: lane plane l, lane (4 r + p) and row plane j, row r.
class slab_writer {
 public:
  slab_writer(uint32_t* slab, int lane_planes) : slab_(slab), lane_planes_(lane_planes) {}
  void lane(int plane, int r, int p, uint32_t v) const { slab_[plane * lanes + parts * r + p] = v; }
  void row(int plane, int r, uint32_t v) const {
    slab_[lane_planes_ * lanes + plane * group_rows + r] = v;
  }

 private:
  uint32_t* slab_;
  int lane_planes_;
};

void pack_32_block(block_format f, const uint8_t* block, const slab_writer& out, int r) {
  const auto layout = q::stored_layout_of(f);
  const uint32_t d = q::load_u16(block + q::scale_offset);
  const uint32_t m = q::has_min(f) ? q::load_u16(block + q::min_offset) : 0u;
  for (int p = 0; p < parts; ++p) {
    out.lane(0, r, p, word_at(block + layout.qs + 4 * p));
    if (f == block_format::q8_0) out.lane(1, r, p, word_at(block + layout.qs + 16 + 4 * p));
  }
  out.row(0, r, d | m << 16);
  if (layout.qh >= 0) out.row(1, r, word_at(block + layout.qh));
}

// q4_k / q5_k: the nibble words are the stored qs words; q5_k's fifth bits and the unpacked
// 6-bit scales and mins are regrouped per part.
void pack_q45_k(bool five, const uint8_t* block, const slab_writer& out, int r) {
  const uint8_t* scales = block + 4;
  const uint8_t* qh = block + 16;
  const uint8_t* qs = block + (five ? 48 : 16);
  for (int p = 0; p < parts; ++p) {
    for (int i = 0; i < 8; ++i)
      out.lane(i, r, p, word_at(qs + 32 * p + 4 * i));
    if (five) {
      uint32_t bits[2] = {0, 0};
      for (int i = 0; i < 8; ++i) {
        uint32_t byte = 0;
        for (int t = 0; t < 4; ++t) {
          byte |= uint32_t{(qh[4 * i + t] >> (2 * p)) & 1u} << t;
          byte |= uint32_t{(qh[4 * i + t] >> (2 * p + 1)) & 1u} << (4 + t);
        }
        bits[i / 4] |= byte << (8 * (i % 4));
      }
      out.lane(8, r, p, bits[0]);
      out.lane(9, r, p, bits[1]);
    }
    int32_t sc0, mn0, sc1, mn1;
    q::scale_min_k4(2 * p, scales, sc0, mn0);
    q::scale_min_k4(2 * p + 1, scales, sc1, mn1);
    const auto u = [](int32_t v) { return static_cast<uint32_t>(v); };
    out.lane(five ? 10 : 8, r, p, u(sc0) | u(sc1) << 8 | u(mn0) << 16 | u(mn1) << 24);
  }
  out.row(0, r, q::load_u16(block) | uint32_t{q::load_u16(block + 2)} << 16);
}

// q6_k: each quant split into its low 4 bits and top 2 bits (unsigned, 0..63 before the -32),
// regrouped as the header says. Part p's quants 64p .. 64p + 63 lie in the stored half p / 2
// (ql[64], qh[32]); its low quants (64p + l) are the ql[l] nibbles and its high ones (64p + 32 + l)
// the ql[32 + l] nibbles, low nibbles for even p and high for odd; their top bits are bits
// 4(p % 2), + 1 and 4(p % 2) + 2, + 3 of qh[l].
void pack_q6_k(const uint8_t* block, const slab_writer& out, int r) {
  for (int p = 0; p < parts; ++p) {
    const uint8_t* ql = block + 64 * (p / 2);
    const uint8_t* qh = block + 128 + 32 * (p / 2);
    const int shift = 4 * (p % 2);
    uint32_t high[4] = {0, 0, 0, 0};
    for (int i = 0; i < 8; ++i) {
      const uint32_t lo = (word_at(ql + 4 * i) >> shift) & 0x0f0f0f0fu;
      const uint32_t hi = (word_at(ql + 32 + 4 * i) >> shift) & 0x0f0f0f0fu;
      out.lane(i, r, p, lo | hi << 4);
      uint32_t bits = 0;
      for (int t = 0; t < 4; ++t) {
        const uint32_t top = uint32_t{qh[4 * i + t]} >> shift;
        bits |= (top & 3u) << (2 * t) | ((top >> 2) & 3u) << (8 + 2 * t);
      }
      high[i / 2] |= bits << (16 * (i % 2));
    }
    for (int h = 0; h < 4; ++h)
      out.lane(8 + h, r, p, high[h]);
    uint32_t scales = 0;
    for (int s = 0; s < 4; ++s)
      scales |= uint32_t{block[192 + 4 * p + s]} << (8 * s);
    out.lane(12, r, p, scales);
  }
  out.row(0, r, q::load_u16(block + 208));
}

}  // namespace

int quant_lane_planes(block_format f) {
  switch (f) {
    case block_format::q8_0:
      return 2;
    case block_format::q4_k:
      return 9;
    case block_format::q5_k:
      return 11;
    case block_format::q6_k:
      return 13;
    default:
      return 1;
  }
}

int quant_row_planes(block_format f) {
  return f == block_format::q5_0 || f == block_format::q5_1 ? 2 : 1;
}

int64_t quant_slab_words(block_format f) {
  return int64_t{quant_lane_planes(f)} * lanes + int64_t{quant_row_planes(f)} * group_rows;
}

int64_t quant_num_blocks(block_format f, int64_t K) {
  return K / kernels::cpu::block_elements(f);
}

int64_t quant_num_sums(block_format f, int64_t K) {
  return q::is_k_quant(f) ? K / 16 : quant_num_blocks(f, K);
}

int64_t quant_packed_words(block_format f, int64_t N, int64_t K) {
  const int64_t groups = (N + group_rows - 1) / group_rows;
  return groups * quant_num_blocks(f, K) * quant_slab_words(f);
}

void quant_pack(block_format f, const uint8_t* stored, int64_t N, int64_t K, uint32_t* out) {
  assert(K % kernels::cpu::block_elements(f) == 0);
  const int64_t nb = quant_num_blocks(f, K), row_bytes = kernels::cpu::row_bytes(f, K);
  const int64_t slab = quant_slab_words(f), block_bytes = kernels::cpu::block_bytes(f);
  const int64_t groups = (N + group_rows - 1) / group_rows;
  // Rows [8 g0, 8 g1) into their slabs (whole groups: no two threads share a slab).
  const auto pack_groups = [&](int64_t g0, int64_t g1) {
    std::memset(out + g0 * nb * slab, 0, static_cast<size_t>((g1 - g0) * nb * slab) * 4);
    for (int64_t n = g0 * group_rows; n < std::min(N, g1 * group_rows); ++n) {
      const int64_t g = n / group_rows;
      const int r = static_cast<int>(n % group_rows);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* block = stored + n * row_bytes + b * block_bytes;
        const slab_writer out_slab(out + (g * nb + b) * slab, quant_lane_planes(f));
        if (f == block_format::q6_k) {
          pack_q6_k(block, out_slab, r);
        } else if (q::is_k_quant(f)) {
          pack_q45_k(f == block_format::q5_k, block, out_slab, r);
        } else {
          pack_32_block(f, block, out_slab, r);
        }
      }
    }
  };
  // About 1 GB/s a thread: a large matrix (an 8B model's are 10-500 MB) takes every core.
  constexpr int64_t bytes_per_thread = int64_t{16} << 20;
  const int64_t threads = std::clamp<int64_t>(N * row_bytes / bytes_per_thread, 1,
                                              std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 1) {
    pack_groups(0, groups);
    return;
  }
  std::vector<std::thread> workers;
  for (int64_t t = 0; t < threads; ++t)
    workers.emplace_back(pack_groups, groups * t / threads, groups * (t + 1) / threads);
  for (auto& w : workers)
    w.join();
}

std::vector<uint32_t> quant_pack(block_format f, const uint8_t* stored, int64_t N, int64_t K) {
  std::vector<uint32_t> out(static_cast<size_t>(quant_packed_words(f, N, K)));
  quant_pack(f, stored, N, K, out.data());
  return out;
}

namespace {
int64_t round_256(int64_t n) {
  return (n + 255) / 256 * 256;
}
}  // namespace

int64_t quant_activation_bytes(block_format f, int64_t M, int64_t K) {
  return round_256(M * K) + 2 * round_256(M * quant_num_blocks(f, K) * 4) +
         round_256(M * quant_num_sums(f, K) * 4);
}

quant_activations quant_activations_at(void* base, block_format f, int64_t M, int64_t K) {
  auto* p = static_cast<char*>(base);
  quant_activations a;
  a.q = reinterpret_cast<int8_t*>(p);
  p += round_256(M * K);
  a.d = reinterpret_cast<float*>(p);
  p += round_256(M * quant_num_blocks(f, K) * 4);
  a.s = reinterpret_cast<float*>(p);
  p += round_256(M * quant_num_blocks(f, K) * 4);
  a.sums = reinterpret_cast<int32_t*>(p);
  return a;
}

}  // namespace troupe::kernels::cuda
