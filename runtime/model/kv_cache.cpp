#include "runtime/model/kv_cache.hpp"

#include <cassert>

namespace troupe::runtime {

int64_t kv_bytes_per_block(const llama_hparams& hparams, int32_t block_size) {
  return int64_t{2} * hparams.num_layers * block_size * hparams.num_kv_heads * hparams.head_dim *
         static_cast<int64_t>(sizeof(float));
}

kv_cache::kv_cache(const llama_hparams& hparams, int32_t num_blocks, int32_t block_size)
    : num_blocks_(num_blocks),
      layout_{block_size, hparams.num_kv_heads, hparams.head_dim},
      layers_(static_cast<size_t>(hparams.num_layers)) {
  assert(num_blocks >= 0 && block_size >= 1);
  const auto size = static_cast<size_t>(num_blocks * layout_.block_stride());
  for (auto& layer : layers_) {
    layer.keys.assign(size, 0.0f);
    layer.values.assign(size, 0.0f);
  }
}

int64_t kv_cache::num_bytes() const {
  return static_cast<int64_t>(layers_.size()) * 2 * num_blocks_ * layout_.block_stride() *
         static_cast<int64_t>(sizeof(float));
}

}  // namespace troupe::runtime
