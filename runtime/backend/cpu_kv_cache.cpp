#include "runtime/backend/cpu_kv_cache.hpp"

#include <cassert>

namespace troupe::backend {

namespace {

float scale_of(const std::vector<float>& scales, int32_t layer) {
  return scales.empty() ? 1.0f : scales[static_cast<size_t>(layer)];
}

}  // namespace

cpu_kv_cache::cpu_kv_cache(const kv_cache_shape& shape)
    : num_blocks_(shape.num_blocks),
      dtype_(shape.dtype),
      half_format_(shape.dtype == kv_cache_dtype::f16 ? kernels::cpu::half_format::f16
                                                      : kernels::cpu::half_format::bf16),
      layout_{shape.block_size, shape.num_kv_heads, shape.head_dim},
      layers_(static_cast<size_t>(shape.num_layers)) {
  assert(shape.num_blocks >= 0 && shape.block_size >= 1);
  assert(shape.k_scales.empty() || shape.k_scales.size() == layers_.size());
  assert(shape.v_scales.empty() || shape.v_scales.size() == layers_.size());
  const auto size = static_cast<size_t>(num_blocks_ * layout_.block_stride());
  const auto format = dtype_ == kv_cache_dtype::fp8_e5m2 ? kernels::cpu::fp8_format::e5m2
                                                         : kernels::cpu::fp8_format::e4m3;
  for (int32_t l = 0; l < shape.num_layers; ++l) {
    auto& layer = layers_[static_cast<size_t>(l)];
    if (is_fp8()) {
      layer.key_codes = lazy_buffer<uint8_t>(size);
      layer.value_codes = lazy_buffer<uint8_t>(size);
      layer.fp8 = {format, scale_of(shape.k_scales, l), scale_of(shape.v_scales, l)};
    } else if (is_half()) {
      layer.key_words = lazy_buffer<uint16_t>(size);
      layer.value_words = lazy_buffer<uint16_t>(size);
    } else {
      layer.keys = lazy_buffer<float>(size);
      layer.values = lazy_buffer<float>(size);
    }
  }
}

int64_t cpu_kv_cache::num_bytes() const {
  return static_cast<int64_t>(layers_.size()) * 2 * num_blocks_ * layout_.block_stride() *
         kv_cache_element_bytes(dtype_);
}

}  // namespace troupe::backend
