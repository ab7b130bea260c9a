// store_kv and the host's query tiles (contract: attention.hpp; the reference is
// kernels/cpu/attention.cpp's store_kv).
//   k, v      [num_tokens][num_kv_heads][head_dim]              f32
//   K/V cache [num_blocks][block_size][num_kv_heads][head_dim]  f32, fp8 codes, or bf16/f16 bits
#include <cuda_fp8.h>

#include <climits>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/cuda/attention.hpp"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/half.cuh"

namespace troupe::kernels::cuda {

namespace {

using detail::cache_elem;
using detail::fp8_kind;

constexpr int store_threads = 256;

// x as a T cache stores it: f32 as is, fp8 encoded from one f32 division (the CPU's x / scale),
// bf16 / f16 rounded to nearest even (kernels/cpu/half.hpp's bits).
template <kv_type T>
__device__ __forceinline__ cache_elem<T> encode(float x, float scale) {
  if constexpr (T == kv_type::f32) {
    return x;
  } else if constexpr (T == kv_type::bf16) {
    return detail::to_bf16_bits(x);
  } else if constexpr (T == kv_type::f16) {
    return detail::to_f16_bits(x);
  } else {
    return __nv_cvt_float_to_fp8(__fdiv_rn(x, scale), __NV_SATFINITE, fp8_kind<T>());
  }
}

// One block per row.
template <kv_type T>
__global__ void store_kv_kernel(const int32_t* positions, const int32_t* token_seqs,
                                const int32_t* block_tables, const int32_t* table_offsets,
                                const float* k, const float* v, int32_t block_size,
                                int64_t block_stride, int32_t row_size, float k_scale,
                                float v_scale, cache_elem<T>* k_cache, cache_elem<T>* v_cache) {
  const int64_t t = blockIdx.x;
  const int32_t pos = positions[t];
  const int32_t* table = block_tables + table_offsets[token_seqs[t]];
  const int64_t dst =
      int64_t{table[pos / block_size]} * block_stride + int64_t{pos % block_size} * row_size;
  const int64_t src = t * row_size;
  for (int32_t i = threadIdx.x; i < row_size; i += blockDim.x) {
    k_cache[dst + i] = encode<T>(k[src + i], k_scale);
    v_cache[dst + i] = encode<T>(v[src + i], v_scale);
  }
}

}  // namespace

std::vector<int32_t> plan_query_tiles(const int32_t* token_seqs, int64_t num_tokens) {
  std::vector<int32_t> tiles;
  for (int64_t t = 0; t < num_tokens;) {
    int64_t end = t + 1;
    while (end < num_tokens && end - t < attention_tile_rows && token_seqs[end] == token_seqs[t])
      ++end;
    tiles.push_back(static_cast<int32_t>(t));
    tiles.push_back(static_cast<int32_t>(end - t));
    t = end;
  }
  return tiles;
}

status store_kv(const paged_kv_layout& layout, const attention_rows& rows, const float* k,
                const float* v, const kv_cache_layer& cache, cudaStream_t stream) {
  if (auto st = detail::check_layout(layout, cache, "store_kv"); !st) return st;
  if (rows.num_tokens <= 0) return ok_status();
  if (rows.num_tokens > INT_MAX) return error{"store_kv: too many rows for one launch"};
  const int64_t row_size = int64_t{layout.num_kv_heads} * layout.head_dim;
  if (row_size > INT_MAX) return error{"store_kv: num_kv_heads * head_dim too large"};
  const auto blocks = static_cast<unsigned>(rows.num_tokens);
  const int32_t row = static_cast<int32_t>(row_size);
  auto launch = [&](auto type) {
    constexpr kv_type T = decltype(type)::value;
    store_kv_kernel<T><<<blocks, store_threads, 0, stream>>>(
        rows.positions, rows.token_seqs, rows.block_tables, rows.table_offsets, k, v,
        layout.block_size, layout.block_stride(), row, cache.k_scale, cache.v_scale,
        static_cast<cache_elem<T>*>(cache.k), static_cast<cache_elem<T>*>(cache.v));
  };
  switch (cache.type) {
    case kv_type::f32:
      launch(std::integral_constant<kv_type, kv_type::f32>{});
      break;
    case kv_type::fp8_e4m3:
      launch(std::integral_constant<kv_type, kv_type::fp8_e4m3>{});
      break;
    case kv_type::fp8_e5m2:
      launch(std::integral_constant<kv_type, kv_type::fp8_e5m2>{});
      break;
    case kv_type::bf16:
      launch(std::integral_constant<kv_type, kv_type::bf16>{});
      break;
    case kv_type::f16:
      launch(std::integral_constant<kv_type, kv_type::f16>{});
      break;
  }
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
