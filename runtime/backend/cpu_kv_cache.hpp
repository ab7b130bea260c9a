#pragma once
// Paged KV cache storage in host memory, as cpu_backend keeps it: f32 keys and values of every
// layer.
//
//   per layer, K and V each: [num_blocks][block_size][num_kv_heads][head_dim]
//
// The cache only stores; which blocks belong to which sequence is decided outside (the
// scheduler's grants) and arrives with each step as block tables.
#include <cstdint>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "runtime/backend/backend_types.hpp"

namespace troupe::backend {

class cpu_kv_cache {
 public:
  // requires: shape.num_blocks >= 0, block_size >= 1, positive head counts, dtype f32.
  // Allocates shape.num_blocks * shape.bytes_per_block() bytes, zeroed.
  explicit cpu_kv_cache(const kv_cache_shape& shape);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return layout_.block_size; }
  const kernels::cpu::paged_kv_layout& layout() const { return layout_; }
  int64_t num_bytes() const;

  // requires: 0 <= layer < num_layers.
  float* keys(int32_t layer) { return layers_[layer].keys.data(); }
  float* values(int32_t layer) { return layers_[layer].values.data(); }
  const float* keys(int32_t layer) const { return layers_[layer].keys.data(); }
  const float* values(int32_t layer) const { return layers_[layer].values.data(); }

 private:
  struct layer_storage {
    std::vector<float> keys, values;
  };
  int32_t num_blocks_;
  kernels::cpu::paged_kv_layout layout_;
  std::vector<layer_storage> layers_;
};

}  // namespace troupe::backend
