// Paged attention and the KV store on the GPU (contract: attention.hpp; the reference is
// kernels/cpu/attention.cpp).
//   q, out        [num_tokens][num_heads][head_dim]                  f32
//   k, v (store)  [num_tokens][num_kv_heads][head_dim]               f32
//   K/V cache     [num_blocks][block_size][num_kv_heads][head_dim]   f32, fp8 codes, or bf16/f16
//
// paged_attention runs one thread block per (query tile, KV head, head chunk, key split):
//
//   grid.x  query tile, the last first (a prompt's later rows attend the most keys)
//   grid.y  g * head_chunks + c: KV head g, query heads g * group + c * heads_per_block + hh
//   grid.z  key split z: positions [z * split_keys, (z + 1) * split_keys), the last to the end
//
// The block's query vectors q = r * nh + hh (tile row r, head hh of the chunk) sit in shared
// memory. Keys and values stream through in tiles of key_tile positions (cp.async into two
// stages; an fp8 tile lands as codes and is dequantized into an f32 tile, a 16-bit tile lands as
// words and is widened into one), each read from shared memory by every query vector of the
// block:
//
//   score phase  warp w, lane j: s = dot(q, K[k0 + j]) * scale for q = w, w + 8, ..., masked to
//                [lo_q, p_q]; the warp reduces the tile's max and sum over its 32 lanes and keeps
//                the running max m_q and sum l_q in registers; P[q][j] and alpha_q to shared
//   value phase  thread (qg, d4): acc[q][4 d4, 4 d4 + 4) = acc * alpha_q + sum_j P[q][j] V[j]
//                for q = qg, qg + groups, ...
//
// With one split a block writes out = acc * (1 / l); with several each writes (acc, m, l) to a
// workspace and combine_kernel merges them (flash-decoding), so a few long decodes fill the GPU.
#include <cuda_fp8.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/cuda/attention.hpp"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_launch.cuh"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/half.cuh"

namespace troupe::kernels::cuda {

namespace {

using detail::attention_params;
using detail::cache_elem;
using detail::check_layout;
using detail::fp8_kind;
using detail::is_fp8;
using detail::key_tile;
using detail::launch_plan;
using detail::max_queries;

constexpr int block_threads = 256;
constexpr int num_warps = block_threads / 32;
constexpr int p_stride = key_tile + 4;  // a P row; +4 puts two rows' float4 reads in other banks
constexpr int combine_threads = 256;

__device__ __forceinline__ int32_t first_key(int32_t position, int32_t sliding_window) {
  return sliding_window > 0 ? max(0, position - sliding_window + 1) : 0;
}

// The exact value of an fp8 code (every e4m3 and e5m2 value is a half).
template <kv_type T>
__device__ __forceinline__ float fp8_value(uint32_t code) {
  return __half2float(
      __half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), fp8_kind<T>())));
}

// Starts an asynchronous copy of `bytes` (16 or 8) from global to shared memory; !valid writes
// zeros and reads nothing.
template <int bytes>
__device__ __forceinline__ void copy_async(void* smem, const void* gmem, bool valid) {
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const auto src = __cvta_generic_to_global(gmem);
  const int src_bytes = valid ? bytes : 0;
  if constexpr (bytes == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(src_bytes)
                 : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(dst), "l"(src),
                 "r"(src_bytes)
                 : "memory");
  }
}

__device__ __forceinline__ void copy_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits for every committed group but the newest.
__device__ __forceinline__ void copy_async_wait_all_but_one() {
  asm volatile("cp.async.wait_group 1;\n" ::: "memory");
}

__device__ __forceinline__ float warp_max(float x) {
  for (int offset = 16; offset > 0; offset /= 2)
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

__device__ __forceinline__ float warp_sum(float x) {
  for (int offset = 16; offset > 0; offset /= 2)
    x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

__device__ __forceinline__ float4 fma4(float a, float4 b, float4 c) {
  return make_float4(fmaf(a, b.x, c.x), fmaf(a, b.y, c.y), fmaf(a, b.z, c.z), fmaf(a, b.w, c.w));
}

// Starts copying the keys and values at positions [k0, k0 + key_tile) of KV head offset
// `head_offset` into rows of `stride` elements; positions from `end` on are zero-filled and never
// read (their table entries need not exist). Copies of 16 bytes (4 f32 or 8 16-bit elements) or
// 8 (8 fp8 codes): head_dim % 8 == 0 keeps every copy inside one key's row.
template <kv_type T>
__device__ void load_kv_tile(const attention_params& p, const int32_t* table, int64_t head_offset,
                             int32_t k0, int32_t end, cache_elem<T>* k_dst, cache_elem<T>* v_dst,
                             int32_t stride) {
  constexpr int bytes = is_fp8(T) ? 8 : 16;
  constexpr int per_copy = bytes / static_cast<int>(sizeof(cache_elem<T>));
  const int32_t per_key = p.head_dim / per_copy;
  const auto* k = static_cast<const cache_elem<T>*>(p.k_cache);
  const auto* v = static_cast<const cache_elem<T>*>(p.v_cache);
  for (int32_t c = threadIdx.x; c < key_tile * per_key; c += block_threads) {
    const int32_t j = c / per_key;
    const int32_t e = (c - j * per_key) * per_copy;
    const int32_t pos = k0 + j;
    const bool valid = pos < end;
    int64_t at = 0;
    if (valid) {
      at = int64_t{table[pos / p.block_size]} * p.block_stride +
           int64_t{pos % p.block_size} * p.slot_stride + head_offset + e;
    }
    copy_async<bytes>(k_dst + j * stride + e, k + at, valid);
    copy_async<bytes>(v_dst + j * stride + e, v + at, valid);
  }
}

// dst[j][e] = the f32 value of staged[j][e] over a key_tile x head_dim tile (dst rows of `stride`
// floats), eight elements per step: fp8 codes as fp8_value(code) * scale (the CPU's
// dequantization, bit for bit), bf16 / f16 words widened exactly (scale unused).
template <kv_type T>
__device__ void widen_tile(const cache_elem<T>* staged, int32_t head_dim, float scale, float* dst,
                           int32_t stride) {
  const int32_t per_key = head_dim / 8;
  for (int32_t c = threadIdx.x; c < key_tile * per_key; c += block_threads) {
    const int32_t j = c / per_key;
    const int32_t e = (c - j * per_key) * 8;
    float x[8];
    if constexpr (is_fp8(T)) {
      const uint2 w = *reinterpret_cast<const uint2*>(staged + j * head_dim + e);
#pragma unroll
      for (int b = 0; b < 4; ++b) {
        x[b] = fp8_value<T>((w.x >> (8 * b)) & 0xffu) * scale;
        x[4 + b] = fp8_value<T>((w.y >> (8 * b)) & 0xffu) * scale;
      }
    } else {
      const uint4 w = *reinterpret_cast<const uint4*>(staged + j * head_dim + e);
      const uint32_t pairs[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int b = 0; b < 4; ++b) {
        const auto lo = static_cast<uint16_t>(pairs[b] & 0xffffu);
        const auto hi = static_cast<uint16_t>(pairs[b] >> 16);
        if constexpr (T == kv_type::bf16) {
          x[2 * b] = detail::bf16_bits_to_float(lo);
          x[2 * b + 1] = detail::bf16_bits_to_float(hi);
        } else {
          x[2 * b] = detail::f16_bits_to_float(lo);
          x[2 * b + 1] = detail::f16_bits_to_float(hi);
        }
      }
    }
    auto* out = reinterpret_cast<float4*>(dst + j * stride + e);
    out[0] = make_float4(x[0], x[1], x[2], x[3]);
    out[1] = make_float4(x[4], x[5], x[6], x[7]);
  }
}

// The score phase for one key tile at k0 (see the top of the file). Warp-uniform branches only:
// every lane of a warp takes the same query vectors.
template <int QW>
__device__ __forceinline__ void score_tile(const attention_params& p, const float* qs,
                                           const float* kt, int32_t k0, int32_t end, int warp,
                                           int lane, int32_t warp_q, const int32_t (&qpos)[QW],
                                           float (&m)[QW], float (&l)[QW], float* ps,
                                           float* alpha) {
  const int32_t d = p.head_dim;
  float s[QW];
#pragma unroll
  for (int i = 0; i < QW; ++i)
    s[i] = 0.0f;
  const float* key = kt + lane * (d + 4);
  for (int32_t e = 0; e < d; e += 4) {
    const float4 k4 = *reinterpret_cast<const float4*>(key + e);
#pragma unroll
    for (int i = 0; i < QW; ++i) {
      if (i < warp_q) {
        const float4 q4 = *reinterpret_cast<const float4*>(qs + (warp + num_warps * i) * d + e);
        // Four products apart from the running sum: a decode's one query per warp would else be
        // a chain of head_dim dependent FMAs.
        s[i] += fmaf(q4.w, k4.w, fmaf(q4.z, k4.z, fmaf(q4.y, k4.y, q4.x * k4.x)));
      }
    }
  }
  const int32_t pos = k0 + lane;
#pragma unroll
  for (int i = 0; i < QW; ++i) {
    if (i < warp_q) {
      const int32_t q = warp + num_warps * i;
      const bool valid = pos < end && pos <= qpos[i] && pos >= first_key(qpos[i], p.sliding_window);
      const float score = valid ? s[i] * p.scale : -INFINITY;
      const float m_new = fmaxf(m[i], warp_max(score));
      // A row with no key yet keeps m = -inf; 0 stands in so that exp never sees -inf - -inf.
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      const float weight = valid ? expf(score - m_use) : 0.0f;
      const float a = expf(m[i] - m_use);
      l[i] = l[i] * a + warp_sum(weight);
      m[i] = m_new;
      ps[q * p_stride + lane] = weight;
      if (lane == 0) alpha[q] = a;
    }
  }
}

// The value phase for one key tile (see the top of the file).
template <int QPT, int groups>
__device__ __forceinline__ void accumulate_tile(const float* ps, const float* alpha,
                                                const float* vt, int32_t stride, int32_t d4,
                                                int32_t qg, int32_t num_q, float4 (&acc)[QPT]) {
#pragma unroll
  for (int i = 0; i < QPT; ++i) {
    const int32_t q = qg + groups * i;
    if (q < num_q) {
      const float a = alpha[q];
      acc[i] = make_float4(acc[i].x * a, acc[i].y * a, acc[i].z * a, acc[i].w * a);
    }
  }
  const float* v = vt + 4 * d4;
#pragma unroll
  for (int j = 0; j < key_tile; j += 4) {
    const float4 v0 = *reinterpret_cast<const float4*>(v + (j + 0) * stride);
    const float4 v1 = *reinterpret_cast<const float4*>(v + (j + 1) * stride);
    const float4 v2 = *reinterpret_cast<const float4*>(v + (j + 2) * stride);
    const float4 v3 = *reinterpret_cast<const float4*>(v + (j + 3) * stride);
#pragma unroll
    for (int i = 0; i < QPT; ++i) {
      const int32_t q = qg + groups * i;
      if (q < num_q) {
        const float4 w = *reinterpret_cast<const float4*>(ps + q * p_stride + j);
        acc[i] = fma4(w.x, v0, acc[i]);
        acc[i] = fma4(w.y, v1, acc[i]);
        acc[i] = fma4(w.z, v2, acc[i]);
        acc[i] = fma4(w.w, v3, acc[i]);
      }
    }
  }
}

// Shared memory, in floats unless noted (q_cap = rows_cap * heads_per_block, ks = head_dim + 4):
//   qs [q_cap][head_dim] | ps [q_cap][p_stride] | alpha [q_cap4] | sums [q_cap4] | tiles
//   tiles, f32: K stage 0, K stage 1, V stage 0, V stage 1, each [key_tile][ks]
//   tiles, fp8 / bf16 / f16: K, V [key_tile][ks] (widened), then the staged elements (1 or 2
//               bytes each) of (K, V) for stage 0, 1, each [key_tile][head_dim]
// Every part is a multiple of 16 bytes (head_dim % 8 == 0).
size_t attention_shared_bytes(kv_type type, int32_t head_dim, int32_t q_cap) {
  const int64_t q_cap4 = (q_cap + 3) / 4 * 4;
  const int64_t ks = head_dim + 4;
  int64_t floats = int64_t{q_cap} * head_dim + int64_t{q_cap} * p_stride + 2 * q_cap4;
  int64_t code_bytes = 0;
  if (type == kv_type::f32) {
    floats += 4 * key_tile * ks;
  } else {
    floats += 2 * key_tile * ks;
    code_bytes = 4 * int64_t{key_tile} * head_dim * kv_type_bytes(type);
  }
  return static_cast<size_t>(floats * 4 + code_bytes);
}

template <int DP, kv_type T>
__global__ void __launch_bounds__(block_threads, 2) attention_kernel(const attention_params p) {
  constexpr int QM = max_queries(DP);
  constexpr int QW = QM / num_warps;  // query vectors per warp, score phase
  constexpr int d_threads = DP / 4;   // threads across head_dim, value phase
  constexpr int groups = block_threads / d_threads;
  constexpr int QPT = QM / groups;  // query vectors per thread, value phase
  extern __shared__ float4 shared[];

  const int32_t tile = p.num_tiles - 1 - static_cast<int32_t>(blockIdx.x);
  const int32_t g = static_cast<int32_t>(blockIdx.y) / p.head_chunks;
  const int32_t chunk = static_cast<int32_t>(blockIdx.y) - g * p.head_chunks;
  const int32_t split = static_cast<int32_t>(blockIdx.z);
  const int32_t first = p.query_tiles[2 * tile];
  const int32_t num_rows = min(p.query_tiles[2 * tile + 1], p.rows_cap);
  const int32_t h0 = g * p.group + chunk * p.heads_per_block;  // the chunk's first query head
  const int32_t nh = min(p.heads_per_block, p.group - chunk * p.heads_per_block);
  const int32_t num_q = num_rows * nh;
  if (num_q <= 0) return;  // the whole block
  const int32_t d = p.head_dim;
  const int32_t ks = d + 4;

  // The keys this block reads: the tile's [min lo, max p] within the split's positions.
  int32_t lo_min = INT_MAX, p_max = -1;
  for (int32_t r = 0; r < num_rows; ++r) {
    const int32_t pos = p.positions[first + r];
    p_max = max(p_max, pos);
    lo_min = min(lo_min, first_key(pos, p.sliding_window));
  }
  const int32_t begin = max(lo_min, split * p.split_keys);
  const int32_t end =
      split == p.num_splits - 1 ? p_max + 1 : min(p_max + 1, (split + 1) * p.split_keys);
  const int32_t num_key_tiles = begin < end ? (end - begin + key_tile - 1) / key_tile : 0;

  const int32_t q_cap = p.rows_cap * p.heads_per_block;
  const int32_t q_cap4 = (q_cap + 3) / 4 * 4;
  float* qs = reinterpret_cast<float*>(shared);
  float* ps = qs + q_cap * d;
  float* alpha = ps + q_cap * p_stride;
  float* sums = alpha + q_cap4;
  float* tiles = sums + q_cap4;
  auto* staged = reinterpret_cast<cache_elem<T>*>(tiles + 2 * key_tile * ks);  // not f32

  const int32_t d4_count = d / 4;
  for (int32_t c = threadIdx.x; c < num_q * d4_count; c += block_threads) {
    const int32_t q = c / d4_count, e = (c - q * d4_count) * 4;
    const int32_t r = q / nh;
    const int64_t row = int64_t{first + r} * p.num_heads + h0 + (q - r * nh);
    *reinterpret_cast<float4*>(qs + q * d + e) =
        *reinterpret_cast<const float4*>(p.q + row * d + e);
  }

  const int32_t* table = p.block_tables + p.table_offsets[p.token_seqs[first]];
  const int64_t head_offset = int64_t{g} * d;
  auto start_load = [&](int32_t it) {
    const int32_t s = it & 1;
    const int32_t k0 = begin + it * key_tile;
    if constexpr (T == kv_type::f32) {
      load_kv_tile<T>(p, table, head_offset, k0, end, tiles + s * key_tile * ks,
                      tiles + (2 + s) * key_tile * ks, ks);
    } else {
      load_kv_tile<T>(p, table, head_offset, k0, end, staged + 2 * s * key_tile * d,
                      staged + (2 * s + 1) * key_tile * d, d);
    }
  };

  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int32_t warp_q = num_q > warp ? min(QW, (num_q - warp + num_warps - 1) / num_warps) : 0;
  float m[QW], l[QW];
  int32_t qpos[QW];
#pragma unroll
  for (int i = 0; i < QW; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
    qpos[i] = i < warp_q ? p.positions[first + (warp + num_warps * i) / nh] : 0;
  }
  const int32_t d4 = static_cast<int32_t>(threadIdx.x) % d_threads;
  const int32_t qg = static_cast<int32_t>(threadIdx.x) / d_threads;
  const bool has_d = 4 * d4 < d;
  float4 acc[QPT];
#pragma unroll
  for (int i = 0; i < QPT; ++i)
    acc[i] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);

  // Tile it + 1 loads while tile it is used; the group committed last may be empty.
  if (num_key_tiles > 0) start_load(0);
  copy_async_commit();
  for (int32_t it = 0; it < num_key_tiles; ++it) {
    if (it + 1 < num_key_tiles) start_load(it + 1);
    copy_async_commit();
    copy_async_wait_all_but_one();
    __syncthreads();  // tile it (and, the first time, qs) visible to all
    const float* kt = tiles;
    const float* vt = tiles + key_tile * ks;
    if constexpr (T == kv_type::f32) {
      kt = tiles + (it & 1) * key_tile * ks;
      vt = tiles + (2 + (it & 1)) * key_tile * ks;
    } else {
      const cache_elem<T>* stage = staged + 2 * (it & 1) * key_tile * d;
      widen_tile<T>(stage, d, p.k_scale, tiles, ks);
      widen_tile<T>(stage + key_tile * d, d, p.v_scale, tiles + key_tile * ks, ks);
      __syncthreads();
    }
    score_tile<QW>(p, qs, kt, begin + it * key_tile, end, warp, lane, warp_q, qpos, m, l, ps,
                   alpha);
    __syncthreads();
    if (has_d) accumulate_tile<QPT, groups>(ps, alpha, vt, ks, d4, qg, num_q, acc);
    __syncthreads();  // before the next iteration refills this stage and P
  }

  const int64_t rows_total = p.num_tokens * p.num_heads;
  auto row_of = [&](int32_t q) {
    const int32_t r = q / nh;
    return int64_t{first + r} * p.num_heads + h0 + (q - r * nh);
  };
#pragma unroll
  for (int i = 0; i < QW; ++i) {
    if (i < warp_q && lane == 0) {
      const int32_t q = warp + num_warps * i;
      sums[q] = l[i];
      if (p.num_splits > 1) {
        float* ml = p.part_ml + (split * rows_total + row_of(q)) * 2;
        ml[0] = m[i];
        ml[1] = l[i];
      }
    }
  }
  __syncthreads();
  if (!has_d) return;
#pragma unroll
  for (int i = 0; i < QPT; ++i) {
    const int32_t q = qg + groups * i;
    if (q < num_q) {
      const int64_t row = row_of(q);
      if (p.num_splits == 1) {
        const float inv = 1.0f / sums[q];
        *reinterpret_cast<float4*>(p.out + row * d + 4 * d4) =
            make_float4(acc[i].x * inv, acc[i].y * inv, acc[i].z * inv, acc[i].w * inv);
      } else {
        *reinterpret_cast<float4*>(p.part_acc + (split * rows_total + row) * d + 4 * d4) = acc[i];
      }
    }
  }
}

// out[row] = sum_z acc_z * e^(m_z - M) / sum_z l_z * e^(m_z - M), M = max_z m_z, one thread per
// four outputs. A split without keys for a row has m = -inf, l = 0, acc = 0 and weighs nothing.
__global__ void combine_kernel(const float* part_acc, const float* part_ml, int64_t rows,
                               int32_t head_dim, int32_t num_splits, float* out) {
  const int32_t d4_count = head_dim / 4;
  const int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (e >= rows * d4_count) return;
  const int64_t row = e / d4_count;
  const int32_t c = static_cast<int32_t>(e - row * d4_count) * 4;
  float max_m = -INFINITY;
  for (int32_t z = 0; z < num_splits; ++z)
    max_m = fmaxf(max_m, part_ml[(z * rows + row) * 2]);
  float sum = 0.0f;
  float4 o = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  for (int32_t z = 0; z < num_splits; ++z) {
    const float m = part_ml[(z * rows + row) * 2];
    const float w = m == -INFINITY ? 0.0f : expf(m - max_m);
    sum += part_ml[(z * rows + row) * 2 + 1] * w;
    o = fma4(w, *reinterpret_cast<const float4*>(part_acc + (z * rows + row) * head_dim + c), o);
  }
  const float inv = 1.0f / sum;
  *reinterpret_cast<float4*>(out + row * head_dim + c) =
      make_float4(o.x * inv, o.y * inv, o.z * inv, o.w * inv);
}

using attention_fn = void (*)(attention_params);

template <int DP>
attention_fn pick_kernel(kv_type type) {
  switch (type) {
    case kv_type::f32:
      return attention_kernel<DP, kv_type::f32>;
    case kv_type::fp8_e4m3:
      return attention_kernel<DP, kv_type::fp8_e4m3>;
    case kv_type::fp8_e5m2:
      return attention_kernel<DP, kv_type::fp8_e5m2>;
    case kv_type::bf16:
      return attention_kernel<DP, kv_type::bf16>;
    case kv_type::f16:
      return attention_kernel<DP, kv_type::f16>;
  }
  return nullptr;
}

// The attention kernel, then (with splits) the combine.
status launch_attention(int32_t padded_dim, kv_type type, const attention_params& p, dim3 grid,
                        size_t shared_bytes, cudaStream_t stream) {
  const attention_fn kernel = padded_dim == 64    ? pick_kernel<64>(type)
                              : padded_dim == 128 ? pick_kernel<128>(type)
                                                  : pick_kernel<256>(type);
  if (shared_bytes > 48 * 1024) {
    if (auto st = CUDA_CHECK(cudaFuncSetAttribute(
            kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
        !st)
      return st;
  }
  kernel<<<grid, block_threads, shared_bytes, stream>>>(p);
  if (auto st = CUDA_CHECK(cudaGetLastError()); !st) return st;
  if (p.num_splits == 1) return ok_status();
  const int64_t rows = p.num_tokens * p.num_heads;
  const int64_t threads = rows * (p.head_dim / 4);
  const auto blocks = static_cast<unsigned>((threads + combine_threads - 1) / combine_threads);
  combine_kernel<<<blocks, combine_threads, 0, stream>>>(p.part_acc, p.part_ml, rows, p.head_dim,
                                                         p.num_splits, p.out);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace

status paged_attention(const paged_kv_layout& layout, const attention_rows& rows, int32_t num_heads,
                       float scale, int32_t sliding_window, const float* q,
                       const kv_cache_layer& cache, float* out, cudaStream_t stream) {
  if (auto st = detail::check_attention_args(layout, rows, num_heads, q, cache, out); !st)
    return st;
  if (rows.num_tokens <= 0 || rows.num_tiles <= 0) return ok_status();
  attention_params p =
      detail::make_params(layout, rows, num_heads, scale, sliding_window, q, cache, out);
  const launch_plan plan = detail::plan_launch(layout, rows, num_heads);
  p.rows_cap = plan.rows_cap;
  p.heads_per_block = plan.heads_per_block;
  p.head_chunks = plan.head_chunks;
  if (plan.grid_y > 65535) return error{"paged_attention: too many KV heads for one launch"};
  const size_t shared_bytes =
      attention_shared_bytes(cache.type, layout.head_dim, p.rows_cap * p.heads_per_block);
  if (auto st = detail::check_shared_bytes(shared_bytes); !st) return st;

  void* owned = nullptr;
  if (auto st = detail::split_workspace(p, plan, rows, stream, &owned); !st) return st;
  const dim3 grid(static_cast<unsigned>(rows.num_tiles), static_cast<unsigned>(plan.grid_y),
                  static_cast<unsigned>(p.num_splits));
  const status launched =
      launch_attention(plan.padded_dim, cache.type, p, grid, shared_bytes, stream);
  if (owned != nullptr) {
    const status freed = CUDA_CHECK(cudaFreeAsync(owned, stream));
    if (launched && !freed) return freed;
  }
  return launched;
}

}  // namespace troupe::kernels::cuda
