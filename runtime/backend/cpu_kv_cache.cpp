#include "runtime/backend/cpu_kv_cache.hpp"

#include <cassert>

namespace troupe::backend {

cpu_kv_cache::cpu_kv_cache(const kv_cache_shape& shape)
    : num_blocks_(shape.num_blocks),
      layout_{shape.block_size, shape.num_kv_heads, shape.head_dim},
      layers_(static_cast<size_t>(shape.num_layers)) {
  assert(shape.num_blocks >= 0 && shape.block_size >= 1 && shape.dtype == kv_cache_dtype::f32);
  const auto size = static_cast<size_t>(num_blocks_ * layout_.block_stride());
  for (auto& layer : layers_) {
    layer.keys.assign(size, 0.0f);
    layer.values.assign(size, 0.0f);
  }
}

int64_t cpu_kv_cache::num_bytes() const {
  return static_cast<int64_t>(layers_.size()) * 2 * num_blocks_ * layout_.block_stride() *
         static_cast<int64_t>(sizeof(float));
}

}  // namespace troupe::backend
