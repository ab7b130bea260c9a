// GGUF block products on the GPU (contract and packed layout: quant_gemm.hpp). Every float
// operation is the explicit IEEE intrinsic that kernels/cpu/quant_gemm.hpp's order names (fused
// where it fuses, __fmul_rn / __fadd_rn / __fsub_rn elsewhere), and every integer sum is exact, so
// no FMA contraction or summation order can change a bit.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/half.cuh"
#include "kernels/cuda/quant_gemm.hpp"

namespace troupe::kernels::cuda {
namespace {

constexpr unsigned full_mask = 0xffffffffu;
constexpr int group_rows = 8, parts = 4, warp_lanes = 32;
constexpr int gemm_warps = 4;      // per CTA, all on one row group
constexpr int max_tile_rows = 16;  // x rows per CTA

template <block_format F>
struct format_traits {
  static constexpr bool k_quant =
      F == block_format::q4_k || F == block_format::q5_k || F == block_format::q6_k;
  static constexpr int lane_planes = F == block_format::q8_0   ? 2
                                     : F == block_format::q4_k ? 9
                                     : F == block_format::q5_k ? 11
                                     : F == block_format::q6_k ? 13
                                                               : 1;
  static constexpr int row_planes = F == block_format::q5_0 || F == block_format::q5_1 ? 2 : 1;
  static constexpr int slab_words = lane_planes * warp_lanes + row_planes * group_rows;
  static constexpr bool has_min = F == block_format::q4_1 || F == block_format::q5_1;
  // Blocks a warp keeps in flight per chunk; a chunk is gemm_warps times that many.
  static constexpr int per_warp = k_quant ? 2 : 8;
  static constexpr int chunk = gemm_warps * per_warp;
  static constexpr int values = k_quant ? 256 : 32;
};

__device__ __forceinline__ int64_t smaller(int64_t a, int64_t b) {
  return a < b ? a : b;
}

__device__ __forceinline__ float f16_bits(uint32_t bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits & 0xffffu)));
}

// Bits 0-3 of x to bit 4 of bytes 0-3 (fifth bits); pairs 0-3 of x to bits 4-5 of bytes 0-3.
__device__ __forceinline__ uint32_t spread_bits(uint32_t x) {
  return (x & 1u) << 4 | (x & 2u) << 11 | (x & 4u) << 18 | (x & 8u) << 25;
}
__device__ __forceinline__ uint32_t spread_pairs(uint32_t x) {
  return (x & 3u) << 4 | (x & 0xcu) << 10 | (x & 0x30u) << 16 | (x & 0xc0u) << 22;
}

__device__ __forceinline__ int32_t warp_parts_sum(int32_t v) {
  v += __shfl_xor_sync(full_mask, v, 1);
  return v + __shfl_xor_sync(full_mask, v, 2);
}

// One block of one row as a lane holds it: the lane planes' words, the row planes' words.
template <block_format F>
struct lane_block {
  uint32_t lane[format_traits<F>::lane_planes];
  uint32_t row[format_traits<F>::row_planes];

  __device__ void load(const uint32_t* slab, int lane_id, int r) {
#pragma unroll
    for (int l = 0; l < format_traits<F>::lane_planes; ++l)
      lane[l] = slab[l * warp_lanes + lane_id];
#pragma unroll
    for (int j = 0; j < format_traits<F>::row_planes; ++j)
      row[j] = slab[format_traits<F>::lane_planes * warp_lanes + j * group_rows + r];
  }
};

// The exact integer parts of one block of one (x row, W row) pair, summed over the 4 lanes of
// the row: isum (and msum for q4_k / q5_k), as kernels/cpu/quant_scalar.cpp defines them.
struct block_sums {
  int32_t isum = 0, msum = 0;
};

// The quants of this lane's word i as bytes (their high bits in place): `lo` holds quants t of
// the first half the word serves, `hi` of the second (32-block formats: i = 0, quants 4p + t and
// 16 + 4p + t, q8_0's signed; K-quants: quants 64p + 4i + t and 64p + 32 + 4i + t, unsigned,
// before q6_k's -32).
template <block_format F>
__device__ __forceinline__ void quant_words(const lane_block<F>& w, int p, int i, uint32_t& lo,
                                            uint32_t& hi) {
  if constexpr (F == block_format::q8_0) {
    lo = w.lane[0];
    hi = w.lane[1];
    return;
  }
  lo = w.lane[i] & 0x0f0f0f0fu;
  hi = (w.lane[i] >> 4) & 0x0f0f0f0fu;
  if constexpr (F == block_format::q5_0 || F == block_format::q5_1) {
    const uint32_t qh = w.row[1];
    lo |= spread_bits((qh >> (4 * p)) & 15u);
    hi |= spread_bits((qh >> (16 + 4 * p)) & 15u);
  } else if constexpr (F == block_format::q5_k) {
    const uint32_t bits = (w.lane[8 + i / 4] >> (8 * (i % 4))) & 0xffu;
    lo |= spread_bits(bits & 15u);
    hi |= spread_bits(bits >> 4);
  } else if constexpr (F == block_format::q6_k) {
    const uint32_t bits = (w.lane[8 + i / 2] >> (16 * (i % 2))) & 0xffffu;
    lo |= spread_pairs(bits & 0xffu);
    hi |= spread_pairs(bits >> 8);
  }
}

// 32-block formats: this lane's 8 quants of each half-block against x's words p and 4 + p.
template <block_format F>
__device__ block_sums dot_32(const lane_block<F>& w, int p, const int32_t* x_block,
                             int32_t x_block_sum) {
  uint32_t lo, hi;
  quant_words(w, p, 0, lo, hi);
  constexpr int32_t zero_point = F == block_format::q4_0 ? 8 : F == block_format::q5_0 ? 16 : 0;
  int32_t part = __dp4a(static_cast<int>(lo), x_block[p], 0);
  part = __dp4a(static_cast<int>(hi), x_block[4 + p], part);
  block_sums s;
  s.isum = warp_parts_sum(part) - zero_point * x_block_sum;
  return s;
}

// K-quants: this lane's 64 quants (part p) against x's words 16p .. 16p + 15 and the 16-quant
// sums 4p .. 4p + 3 of the super-block.
template <block_format F>
__device__ block_sums dot_k(const lane_block<F>& w, int p, const int32_t* x_block,
                            const int32_t* block_bsums) {
  const int4* xv = reinterpret_cast<const int4*>(x_block + 16 * p);
  int32_t x[16];
#pragma unroll
  for (int v = 0; v < 4; ++v) {
    const int4 q = xv[v];
    x[4 * v] = q.x;
    x[4 * v + 1] = q.y;
    x[4 * v + 2] = q.z;
    x[4 * v + 3] = q.w;
  }
  const int4 bs = *reinterpret_cast<const int4*>(block_bsums + 4 * p);
  // sub[0..3]: low nibbles of words 0-3, 4-7, high nibbles of words 0-3, 4-7 (16 quants each).
  int32_t sub[4] = {0, 0, 0, 0};
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    uint32_t lo, hi;
    quant_words(w, p, i, lo, hi);
    sub[i / 4] = __dp4a(static_cast<int>(lo), x[i], sub[i / 4]);
    sub[2 + i / 4] = __dp4a(static_cast<int>(hi), x[8 + i], sub[2 + i / 4]);
  }
  const uint32_t sc = w.lane[format_traits<F>::lane_planes - 1];
  block_sums s;
  if constexpr (F == block_format::q6_k) {
    const int32_t sums[4] = {bs.x, bs.y, bs.z, bs.w};
    int32_t isum = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int32_t scale = static_cast<int8_t>((sc >> (8 * k)) & 0xffu);
      isum += scale * (sub[k] - 32 * sums[k]);
    }
    s.isum = warp_parts_sum(isum);
  } else {
    const auto byte = [&](int k) { return static_cast<int32_t>((sc >> (8 * k)) & 0xffu); };
    const int32_t sub_lo = sub[0] + sub[1], sub_hi = sub[2] + sub[3];
    s.isum = warp_parts_sum(byte(0) * sub_lo + byte(1) * sub_hi);
    s.msum = warp_parts_sum(byte(2) * (bs.x + bs.y) + byte(3) * (bs.z + bs.w));
  }
  return s;
}

// Shared memory of one CTA: the chunk's integer sums per (x row, block, W row) and the blocks'
// f32 scales per (block, W row).
template <block_format F, int TM>
struct gemm_shared {
  int32_t isum[TM][format_traits<F>::chunk][group_rows];
  int32_t msum[format_traits<F>::k_quant ? TM : 1][format_traits<F>::chunk][group_rows];
  float d[format_traits<F>::chunk][group_rows];
  float m[format_traits<F>::chunk][group_rows];  // q4_1 / q5_1: m; q4_k / q5_k: dmin
};

// One block's f32 term added to `acc` in the contract's order.
template <block_format F>
__device__ float add_block(float acc, float dw, float mw, float dx, float sx, int32_t isum,
                           int32_t msum) {
  if constexpr (F == block_format::q4_k || F == block_format::q5_k) {
    const float t = __fsub_rn(__fmul_rn(__fmul_rn(dw, dx), __int2float_rn(isum)),
                              __fmul_rn(__fmul_rn(mw, dx), __int2float_rn(msum)));
    return __fadd_rn(acc, t);
  } else if constexpr (F == block_format::q6_k) {
    return __fadd_rn(acc, __fmul_rn(__fmul_rn(dw, dx), __int2float_rn(isum)));
  } else {
    acc = fmaf(__fmul_rn(dw, dx), __int2float_rn(isum), acc);
    if constexpr (format_traits<F>::has_min) acc = fmaf(mw, sx, acc);
    return acc;
  }
}

// grid (x row tiles of TM, row groups): the CTAs of one row group run next to each other, so the
// group's weights are read from HBM once and from L2 for the other tiles. gemm_warps warps.
template <block_format F, int TM>
__global__ void __launch_bounds__(gemm_warps* warp_lanes)
    quant_gemm_kernel(const uint32_t* packed, int64_t N, int64_t K, int64_t nb, quant_activations x,
                      int64_t M, float* y, int64_t ldy) {
  using traits = format_traits<F>;
  using shared_state = gemm_shared<F, TM>;
  __shared__ shared_state sh;
  const int warp = static_cast<int>(threadIdx.x) / warp_lanes;
  const int lane = static_cast<int>(threadIdx.x) % warp_lanes;
  const int r = lane / parts, p = lane % parts;
  const int64_t g = blockIdx.y;
  const int64_t m0 = int64_t{blockIdx.x} * TM;
  const int rows = static_cast<int>(smaller(TM, M - m0));
  const int64_t num_sums = traits::k_quant ? K / 16 : nb;
  const uint32_t* group = packed + g * nb * traits::slab_words;
  // Chain threads: t = 8 m + r' adds the terms of x row m0 + m and W row 8 g + r'.
  const int t = static_cast<int>(threadIdx.x);
  const int chain_m = t / group_rows, chain_r = t % group_rows;
  float acc = 0.0f;

  // This warp's blocks of the chunk at b0 into registers (loads in flight while the CTA adds the
  // previous chunk's terms).
  lane_block<F> blocks[traits::per_warp];
  const auto load_chunk = [&](int64_t b0) {
#pragma unroll
    for (int j = 0; j < traits::per_warp; ++j) {
      const int64_t b = b0 + warp * traits::per_warp + j;
      if (b < nb) blocks[j].load(group + b * traits::slab_words, lane, r);
    }
  };
  load_chunk(0);
  for (int64_t b0 = 0; b0 < nb; b0 += traits::chunk) {
#pragma unroll
    for (int j = 0; j < traits::per_warp; ++j) {
      const int bl = warp * traits::per_warp + j;
      const int64_t b = b0 + bl;
      if (b >= nb) break;  // uniform across the warp
      if (p == 0) {
        sh.d[bl][r] = f16_bits(blocks[j].row[0]);
        sh.m[bl][r] = f16_bits(blocks[j].row[0] >> 16);
      }
      for (int i = 0; i < rows; ++i) {
        const int64_t m = m0 + i;
        const auto* x_block = reinterpret_cast<const int32_t*>(x.q + m * K + b * traits::values);
        block_sums s;
        if constexpr (traits::k_quant) {
          s = dot_k<F>(blocks[j], p, x_block, x.sums + m * num_sums + b * 16);
        } else {
          s = dot_32<F>(blocks[j], p, x_block, x.sums[m * num_sums + b]);
        }
        if (p == 0) {
          sh.isum[i][bl][r] = s.isum;
          if constexpr (traits::k_quant) sh.msum[i][bl][r] = s.msum;
        }
      }
    }
    if (b0 + traits::chunk < nb) load_chunk(b0 + traits::chunk);
    __syncthreads();
    if (chain_m < rows) {
      const int64_t m = m0 + chain_m;
      const int64_t end = smaller(traits::chunk, nb - b0);
      for (int bl = 0; bl < end; ++bl) {
        const int64_t b = b0 + bl;
        int32_t msum = 0;
        if constexpr (traits::k_quant) msum = sh.msum[chain_m][bl][chain_r];
        float sx = 0.0f;
        if constexpr (traits::has_min) sx = x.s[m * nb + b];
        acc = add_block<F>(acc, sh.d[bl][chain_r], sh.m[bl][chain_r], x.d[m * nb + b], sx,
                           sh.isum[chain_m][bl][chain_r], msum);
      }
    }
    __syncthreads();
  }
  const int64_t n = g * group_rows + chain_r;
  if (chain_m < rows && n < N) y[(m0 + chain_m) * ldy + n] = acc;
}

template <block_format F, int TM>
status launch_gemm(const uint32_t* packed, int64_t N, int64_t K, const quant_activations& x,
                   int64_t M, float* y, int64_t ldy, cudaStream_t stream) {
  static_assert(TM * group_rows <= gemm_warps * warp_lanes, "one chain thread per output");
  const int64_t groups = (N + group_rows - 1) / group_rows;
  if (groups > 65535) return error{"quant_gemm: more than 65535 groups of 8 rows"};
  const dim3 grid(static_cast<unsigned>((M + TM - 1) / TM), static_cast<unsigned>(groups));
  quant_gemm_kernel<F, TM><<<grid, gemm_warps * warp_lanes, 0, stream>>>(
      packed, N, K, K / format_traits<F>::values, x, M, y, ldy);
  return CUDA_CHECK(cudaGetLastError());
}

template <block_format F>
status gemm_for(const uint32_t* packed, int64_t N, int64_t K, const quant_activations& x, int64_t M,
                float* y, int64_t ldy, cudaStream_t stream) {
  if (M <= 1) return launch_gemm<F, 1>(packed, N, K, x, M, y, ldy, stream);
  if (M <= 2) return launch_gemm<F, 2>(packed, N, K, x, M, y, ldy, stream);
  if (M <= 4) return launch_gemm<F, 4>(packed, N, K, x, M, y, ldy, stream);
  if (M <= 8) return launch_gemm<F, 8>(packed, N, K, x, M, y, ldy, stream);
  return launch_gemm<F, max_tile_rows>(packed, N, K, x, M, y, ldy, stream);
}

// Calls fn(std::integral_constant<block_format, F>{}) for F == f.
template <class Fn>
status with_format(block_format f, Fn&& fn) {
  switch (f) {
    case block_format::q8_0:
      return fn(std::integral_constant<block_format, block_format::q8_0>{});
    case block_format::q4_0:
      return fn(std::integral_constant<block_format, block_format::q4_0>{});
    case block_format::q4_1:
      return fn(std::integral_constant<block_format, block_format::q4_1>{});
    case block_format::q5_0:
      return fn(std::integral_constant<block_format, block_format::q5_0>{});
    case block_format::q5_1:
      return fn(std::integral_constant<block_format, block_format::q5_1>{});
    case block_format::q4_k:
      return fn(std::integral_constant<block_format, block_format::q4_k>{});
    case block_format::q5_k:
      return fn(std::integral_constant<block_format, block_format::q5_k>{});
    case block_format::q6_k:
      return fn(std::integral_constant<block_format, block_format::q6_k>{});
  }
  return error{"quant_gemm: unknown block format"};
}

// -- decoding packed rows (the embedding) --

// Weight value i of block b of row n, kernels::cpu::dequantize_row's bits.
template <block_format F>
__device__ float packed_value(const uint32_t* packed, int64_t nb, int64_t n, int64_t b, int i) {
  using traits = format_traits<F>;
  const int r = static_cast<int>(n % group_rows);
  const uint32_t* slab = packed + ((n / group_rows) * nb + b) * traits::slab_words;
  const auto lane_word = [&](int plane, int p) { return slab[plane * warp_lanes + parts * r + p]; };
  const auto row_word = [&](int plane) {
    return slab[traits::lane_planes * warp_lanes + plane * group_rows + r];
  };
  const auto byte = [](uint32_t w, int k) { return (w >> (8 * k)) & 0xffu; };
  const float d = f16_bits(row_word(0)), m = f16_bits(row_word(0) >> 16);
  if constexpr (!traits::k_quant) {
    const int half = i / 16, p = (i % 16) / 4, t = i % 4;
    if constexpr (F == block_format::q8_0) {
      const auto q = static_cast<int8_t>(byte(lane_word(half, p), t));
      return __fmul_rn(__int2float_rn(q), d);
    } else {
      int32_t q = static_cast<int32_t>((byte(lane_word(0, p), t) >> (4 * half)) & 15u);
      if constexpr (traits::row_planes == 2)
        q |= static_cast<int32_t>((row_word(1) >> i) & 1u) << 4;
      if constexpr (traits::has_min) return __fadd_rn(__fmul_rn(__int2float_rn(q), d), m);
      return __fmul_rn(__int2float_rn(q - (F == block_format::q4_0 ? 8 : 16)), d);
    }
  } else {
    const int p = i / 64, o = i % 64, half = o / 32, word = (o % 32) / 4, t = o % 4;
    int32_t q = static_cast<int32_t>((byte(lane_word(word, p), t) >> (4 * half)) & 15u);
    const uint32_t sc = lane_word(traits::lane_planes - 1, p);
    if constexpr (F == block_format::q6_k) {
      const uint32_t high = lane_word(8 + word / 2, p) >> (16 * (word % 2) + 8 * half + 2 * t);
      q |= static_cast<int32_t>(high & 3u) << 4;
      const auto scale = static_cast<int8_t>(byte(sc, o / 16));
      return __fmul_rn(__fmul_rn(d, __int2float_rn(scale)), __int2float_rn(q - 32));
    } else {
      if constexpr (F == block_format::q5_k) {
        const uint32_t bits = byte(lane_word(8 + word / 4, p), word % 4);
        q |= static_cast<int32_t>((bits >> (4 * half + t)) & 1u) << 4;
      }
      const float d1 = __fmul_rn(d, __int2float_rn(static_cast<int32_t>(byte(sc, half))));
      const float m1 = __fmul_rn(m, __int2float_rn(static_cast<int32_t>(byte(sc, 2 + half))));
      return __fsub_rn(__fmul_rn(d1, __int2float_rn(q)), m1);
    }
  }
}

// One block per token (row_blocks), threads striding over the row.
template <block_format F>
__global__ void embedding_kernel(const uint32_t* packed, int64_t N, int64_t K, int64_t first_token,
                                 const int32_t* token_ids, int64_t num_tokens, float* out) {
  constexpr int values = format_traits<F>::values;
  const int64_t nb = K / values;
  for (int64_t t = blockIdx.x; t < num_tokens; t += gridDim.x) {
    const int64_t n = int64_t{token_ids[t]} - first_token;
    float* row = out + t * K;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
      row[k] = n < 0 || n >= N
                   ? 0.0f
                   : packed_value<F>(packed, nb, n, k / values, static_cast<int>(k % values));
  }
}

// Calls put(i, v) for each of this lane's quants of the block: i its index in the block, v its
// value (kernels::cpu::dequantize_row's bits, as packed_value).
template <block_format F, class Put>
__device__ void lane_values(const lane_block<F>& w, int p, Put&& put) {
  using traits = format_traits<F>;
  const float d = f16_bits(w.row[0]), m = f16_bits(w.row[0] >> 16);
  const auto byte = [](uint32_t v, int k) { return static_cast<int32_t>((v >> (8 * k)) & 0xffu); };
  if constexpr (!traits::k_quant) {
    uint32_t lo, hi;
    quant_words(w, p, 0, lo, hi);
    const auto value = [&](int32_t q) {
      if constexpr (F == block_format::q8_0) {
        return __fmul_rn(__int2float_rn(static_cast<int8_t>(q)), d);
      } else if constexpr (traits::has_min) {
        return __fadd_rn(__fmul_rn(__int2float_rn(q), d), m);
      } else {
        return __fmul_rn(__int2float_rn(q - (F == block_format::q4_0 ? 8 : 16)), d);
      }
    };
#pragma unroll
    for (int t = 0; t < 4; ++t) {
      put(4 * p + t, value(byte(lo, t)));
      put(16 + 4 * p + t, value(byte(hi, t)));
    }
  } else {
    const uint32_t sc = w.lane[traits::lane_planes - 1];
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      uint32_t lo, hi;
      quant_words(w, p, i, lo, hi);
#pragma unroll
      for (int t = 0; t < 4; ++t) {
        const int index = 64 * p + 4 * i + t;
        if constexpr (F == block_format::q6_k) {
          // Sub-blocks of 16: the low quants' is i / 4, the high ones' 2 + i / 4.
          const auto scale = [&](int s) {
            return __fmul_rn(d, __int2float_rn(static_cast<int8_t>(byte(sc, s))));
          };
          put(index, __fmul_rn(scale(i / 4), __int2float_rn(byte(lo, t) - 32)));
          put(index + 32, __fmul_rn(scale(2 + i / 4), __int2float_rn(byte(hi, t) - 32)));
        } else {
          // Sub-block 2p (low quants: scale byte 0, min byte 2) and 2p + 1 (bytes 1 and 3).
          const auto value = [&](int half, int32_t q) {
            const float d1 = __fmul_rn(d, __int2float_rn(byte(sc, half)));
            const float m1 = __fmul_rn(m, __int2float_rn(byte(sc, 2 + half)));
            return __fsub_rn(__fmul_rn(d1, __int2float_rn(q)), m1);
          };
          put(index, value(0, byte(lo, t)));
          put(index + 32, value(1, byte(hi, t)));
        }
      }
    }
  }
}

// One warp per (row group, block) slab of the rows [n0, n0 + rows): each lane decodes its words
// (not one value at a time, as the embedding's packed_value does).
constexpr int dequantize_warps = 8;

template <block_format F>
__global__ void dequantize_f16_kernel(const uint32_t* packed, int64_t K, int64_t n0, int64_t rows,
                                      uint16_t* out) {
  using traits = format_traits<F>;
  const int64_t nb = K / traits::values;
  const int64_t first_group = n0 / group_rows;
  const int64_t slabs = ((n0 + rows - 1) / group_rows - first_group + 1) * nb;
  const int lane = static_cast<int>(threadIdx.x) % warp_lanes;
  const int r = lane / parts, p = lane % parts;
  for (int64_t s = int64_t{blockIdx.x} * dequantize_warps + threadIdx.x / warp_lanes; s < slabs;
       s += int64_t{gridDim.x} * dequantize_warps) {
    const int64_t g = first_group + s / nb, b = s % nb;
    lane_block<F> w;
    w.load(packed + (g * nb + b) * traits::slab_words, lane, r);
    const int64_t n = g * group_rows + r;
    if (n < n0 || n >= n0 + rows) continue;
    uint16_t* row = out + (n - n0) * K + b * traits::values;
    lane_values<F>(w, p, [&](int i, float v) { row[i] = detail::to_f16_bits(v); });
  }
}

}  // namespace

status quant_dequantize_f16(block_format f, const uint32_t* packed, int64_t N, int64_t K,
                            int64_t n0, int64_t rows, uint16_t* out, cudaStream_t stream) {
  if (n0 < 0 || rows < 0 || n0 + rows > N || K <= 0) return error{"quant_dequantize_f16: bad rows"};
  if (rows == 0) return ok_status();
  return with_format(f, [&](auto format) {
    constexpr block_format F = decltype(format)::value;
    const int64_t groups = (n0 + rows - 1) / group_rows - n0 / group_rows + 1;
    const int64_t slabs = groups * (K / format_traits<F>::values);
    const auto blocks = static_cast<unsigned>(std::min<int64_t>(
        (slabs + dequantize_warps - 1) / dequantize_warps, detail::max_grid_blocks));
    dequantize_f16_kernel<F>
        <<<blocks, dequantize_warps * warp_lanes, 0, stream>>>(packed, K, n0, rows, out);
    return CUDA_CHECK(cudaGetLastError());
  });
}

status quant_gemm(block_format f, const uint32_t* packed, int64_t N, int64_t K,
                  const quant_activations& x, int64_t M, float* y, int64_t ldy,
                  cudaStream_t stream) {
  if (M < 0 || N < 0 || K <= 0 || ldy < N) return error{"quant_gemm: bad shape"};
  if (M == 0 || N == 0) return ok_status();
  return with_format(f, [&](auto format) {
    constexpr block_format F = decltype(format)::value;
    if (K % format_traits<F>::values != 0)
      return status(error{"quant_gemm: K must be a multiple of the block size"});
    return gemm_for<F>(packed, N, K, x, M, y, ldy, stream);
  });
}

status quant_embedding(block_format f, const uint32_t* packed, int64_t N, int64_t K,
                       int64_t first_token, const int32_t* token_ids, int64_t num_tokens,
                       float* out, cudaStream_t stream) {
  if (num_tokens <= 0 || K <= 0) return ok_status();
  return with_format(f, [&](auto format) {
    constexpr block_format F = decltype(format)::value;
    embedding_kernel<F><<<detail::row_blocks(num_tokens), detail::flat_threads, 0, stream>>>(
        packed, N, K, first_token, token_ids, num_tokens, out);
    return CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace troupe::kernels::cuda
