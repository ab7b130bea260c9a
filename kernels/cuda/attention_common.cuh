#pragma once
// What attention.cu (paged attention) and kv_store.cu (store_kv) share: a cache element's type,
// the fp8 format of a kv_type, and the checks of a layout and a cache layer. Internal to
// kernels/cuda (included by .cu files only).
#include <cuda_fp8.h>

#include <string>
#include <type_traits>

#include "kernels/cuda/attention.hpp"

namespace troupe::kernels::cuda::detail {

__host__ __device__ constexpr bool is_fp8(kv_type t) {
  return t == kv_type::fp8_e4m3 || t == kv_type::fp8_e5m2;
}

// float (f32), uint16_t (bf16 / f16 bits) or uint8_t (fp8 codes).
template <kv_type T>
using cache_elem =
    std::conditional_t<T == kv_type::f32, float, std::conditional_t<is_fp8(T), uint8_t, uint16_t>>;

template <kv_type T>
__device__ __forceinline__ __nv_fp8_interpretation_t fp8_kind() {
  return T == kv_type::fp8_e4m3 ? __NV_E4M3 : __NV_E5M2;
}

inline status check_layout(const paged_kv_layout& layout, const kv_cache_layer& cache,
                           const char* op) {
  if (layout.block_size <= 0 || layout.num_kv_heads <= 0 || layout.head_dim <= 0)
    return error{std::string(op) + ": block_size, num_kv_heads and head_dim must be positive"};
  if (cache.type != kv_type::f32 && !is_fp8(cache.type) && cache.type != kv_type::bf16 &&
      cache.type != kv_type::f16)
    return error{std::string(op) + ": unknown kv_type"};
  if (!(cache.k_scale > 0.0f) || !(cache.v_scale > 0.0f))
    return error{std::string(op) + ": k_scale and v_scale must be positive"};
  return ok_status();
}

}  // namespace troupe::kernels::cuda::detail
