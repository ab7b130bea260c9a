#include "runtime/model/kv_cache.hpp"

namespace troupe::runtime {

std::optional<backend::kv_cache_dtype> parse_kv_cache_dtype(std::string_view name,
                                                            backend::kv_cache_dtype auto_dtype) {
  if (name == "auto") return auto_dtype;
  if (name == "bfloat16") return backend::kv_cache_dtype::bf16;
  if (name == "float16") return backend::kv_cache_dtype::f16;
  if (name == "fp8" || name == "fp8_e4m3") return backend::kv_cache_dtype::fp8_e4m3;
  if (name == "fp8_e5m2") return backend::kv_cache_dtype::fp8_e5m2;
  return std::nullopt;
}

std::string_view kv_cache_dtype_name(backend::kv_cache_dtype dtype) {
  switch (dtype) {
    case backend::kv_cache_dtype::f32:
      return "f32";
    case backend::kv_cache_dtype::fp8_e4m3:
      return "fp8_e4m3";
    case backend::kv_cache_dtype::fp8_e5m2:
      return "fp8_e5m2";
    case backend::kv_cache_dtype::bf16:
      return "bf16";
    case backend::kv_cache_dtype::f16:
      return "f16";
  }
  return "?";
}

backend::kv_cache_shape kv_cache_shape_for(const llama_hparams& hparams, int32_t num_blocks,
                                           int32_t block_size, backend::kv_cache_dtype dtype) {
  backend::kv_cache_shape shape;
  shape.num_layers = hparams.num_layers;
  shape.num_blocks = num_blocks;
  shape.block_size = block_size;
  shape.num_kv_heads = hparams.num_kv_heads;
  shape.head_dim = hparams.head_dim;
  shape.dtype = dtype;
  return shape;
}

void set_kv_cache_scales(backend::kv_cache_shape& shape, const llama_weights& weights) {
  shape.k_scales.clear();
  shape.v_scales.clear();
  if (!backend::is_fp8_kv_cache(shape.dtype)) return;
  for (const auto& layer : weights.layers) {
    shape.k_scales.push_back(layer.k_scale);
    shape.v_scales.push_back(layer.v_scale);
  }
}

int64_t kv_bytes_per_block(const llama_hparams& hparams, int32_t block_size,
                           backend::kv_cache_dtype dtype) {
  return kv_cache_shape_for(hparams, 0, block_size, dtype).bytes_per_block();
}

}  // namespace troupe::runtime
