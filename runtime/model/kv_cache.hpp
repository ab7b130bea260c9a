#pragma once
// The paged KV cache of a Llama-family model: its shape from the hparams, and its size. The
// storage itself belongs to the compute backend (compute_backend::allocate_kv_cache); kv_cache
// is the host (CPU) storage shaped for a model, as cpu_backend keeps it.
//
//   per layer, K and V each: [num_blocks][block_size][num_kv_heads][head_dim]
#include <cstdint>

#include "runtime/backend/backend_types.hpp"
#include "runtime/backend/cpu_kv_cache.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

// The cache of `num_blocks` blocks of `block_size` tokens for a model.
backend::kv_cache_shape kv_cache_shape_for(const llama_hparams& hparams, int32_t num_blocks,
                                           int32_t block_size);

// Bytes one block takes across all layers, keys and values.
int64_t kv_bytes_per_block(const llama_hparams& hparams, int32_t block_size);

class kv_cache : public backend::cpu_kv_cache {
 public:
  // requires: num_blocks >= 0, block_size >= 1, hparams with positive head counts.
  // Allocates num_blocks * kv_bytes_per_block(hparams, block_size) bytes, zeroed.
  kv_cache(const llama_hparams& hparams, int32_t num_blocks, int32_t block_size)
      : cpu_kv_cache(kv_cache_shape_for(hparams, num_blocks, block_size)) {}
};

}  // namespace troupe::runtime
