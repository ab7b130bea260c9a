#include "runtime/model/kv_cache.hpp"

namespace troupe::runtime {

backend::kv_cache_shape kv_cache_shape_for(const llama_hparams& hparams, int32_t num_blocks,
                                           int32_t block_size) {
  backend::kv_cache_shape shape;
  shape.num_layers = hparams.num_layers;
  shape.num_blocks = num_blocks;
  shape.block_size = block_size;
  shape.num_kv_heads = hparams.num_kv_heads;
  shape.head_dim = hparams.head_dim;
  return shape;
}

int64_t kv_bytes_per_block(const llama_hparams& hparams, int32_t block_size) {
  return kv_cache_shape_for(hparams, 0, block_size).bytes_per_block();
}

}  // namespace troupe::runtime
