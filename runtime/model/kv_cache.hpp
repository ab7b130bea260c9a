#pragma once
// The paged KV cache of a Llama-family model: its shape from the hparams, and its size. The
// storage itself belongs to the compute backend (compute_backend::allocate_kv_cache); kv_cache
// is the host (CPU) storage shaped for a model, as cpu_backend keeps it.
//
//   per layer, K and V each: [num_blocks][block_size][num_kv_heads][head_dim]
//   elements: f32 (4 bytes), bf16 / f16 (2 bytes), or fp8 codes (1 byte) times the layer's k/v
//   scale
#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/backend/backend_types.hpp"
#include "runtime/backend/cpu_kv_cache.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

// --kv-cache-dtype as vLLM spells it: "bfloat16", "float16", "fp8" and "fp8_e4m3" (e4m3, as vLLM
// on CPU and CUDA), "fp8_e5m2", or "auto", which is `auto_dtype`: the model's dtype on its backend,
// which only the engine builder knows (runtime/serving/device_runners.hpp: auto_kv_cache_dtype).
// Anything else (vLLM's other names, "bf16", "half") is nullopt, as vLLM refuses them too.
std::optional<backend::kv_cache_dtype> parse_kv_cache_dtype(std::string_view name,
                                                            backend::kv_cache_dtype auto_dtype);

// "f32", "bf16", "f16", "fp8_e4m3" or "fp8_e5m2" (for logs).
std::string_view kv_cache_dtype_name(backend::kv_cache_dtype dtype);

// The cache of `num_blocks` blocks of `block_size` tokens for a model, every scale 1.0.
backend::kv_cache_shape kv_cache_shape_for(
    const llama_hparams& hparams, int32_t num_blocks, int32_t block_size,
    backend::kv_cache_dtype dtype = backend::kv_cache_dtype::f32);

// Gives an fp8 `shape` the per-layer k/v scales of `weights` (llama_layer_weights::k_scale);
// an f32 or 16-bit shape keeps none. requires: weights.layers.size() == shape.num_layers.
void set_kv_cache_scales(backend::kv_cache_shape& shape, const llama_weights& weights);

// Bytes one block takes across all layers, keys and values.
int64_t kv_bytes_per_block(const llama_hparams& hparams, int32_t block_size,
                           backend::kv_cache_dtype dtype = backend::kv_cache_dtype::f32);

class kv_cache : public backend::cpu_kv_cache {
 public:
  // requires: num_blocks >= 0, block_size >= 1, hparams with positive head counts.
  // Allocates num_blocks * kv_bytes_per_block(hparams, block_size, dtype) bytes, zeroed.
  kv_cache(const llama_hparams& hparams, int32_t num_blocks, int32_t block_size,
           backend::kv_cache_dtype dtype = backend::kv_cache_dtype::f32)
      : cpu_kv_cache(kv_cache_shape_for(hparams, num_blocks, block_size, dtype)) {}
};

}  // namespace troupe::runtime
