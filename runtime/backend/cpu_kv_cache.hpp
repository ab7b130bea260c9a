#pragma once
// Paged KV cache storage in host memory, as cpu_backend keeps it: the keys and values of every
// layer, f32, one fp8 code or one bf16 / f16 word per element (kv_cache_shape::dtype).
//
//   per layer, K and V each: [num_blocks][block_size][num_kv_heads][head_dim]
//
// The cache only stores; which blocks belong to which sequence is decided outside (the
// scheduler's grants) and arrives with each step as block tables.
#include <cstdint>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "runtime/backend/backend_types.hpp"
#include "runtime/backend/lazy_buffer.hpp"

namespace troupe::backend {

class cpu_kv_cache {
 public:
  // requires: shape.num_blocks >= 0, block_size >= 1, positive head counts; k_scales and
  // v_scales empty or one positive scale per layer.
  // Maps shape.num_blocks * shape.bytes_per_block() bytes, zeroed, committed as blocks are
  // first written (lazy_buffer.hpp).
  explicit cpu_kv_cache(const kv_cache_shape& shape);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return layout_.block_size; }
  kv_cache_dtype dtype() const { return dtype_; }
  bool is_fp8() const { return is_fp8_kv_cache(dtype_); }
  bool is_half() const { return dtype_ == kv_cache_dtype::bf16 || dtype_ == kv_cache_dtype::f16; }
  const kernels::cpu::paged_kv_layout& layout() const { return layout_; }
  int64_t num_bytes() const;

  // f32 caches. requires: dtype() == f32, 0 <= layer < num_layers.
  float* keys(int32_t layer) { return layers_[layer].keys.data(); }
  float* values(int32_t layer) { return layers_[layer].values.data(); }
  const float* keys(int32_t layer) const { return layers_[layer].keys.data(); }
  const float* values(int32_t layer) const { return layers_[layer].values.data(); }

  // fp8 caches: the codes, and the format and scales that give them values.
  // requires: is_fp8(), 0 <= layer < num_layers.
  uint8_t* key_codes(int32_t layer) { return layers_[layer].key_codes.data(); }
  uint8_t* value_codes(int32_t layer) { return layers_[layer].value_codes.data(); }
  const uint8_t* key_codes(int32_t layer) const { return layers_[layer].key_codes.data(); }
  const uint8_t* value_codes(int32_t layer) const { return layers_[layer].value_codes.data(); }
  const kernels::cpu::fp8_kv& fp8(int32_t layer) const { return layers_[layer].fp8; }

  // 16-bit caches: the bf16 / f16 words, and their format. requires: is_half(),
  // 0 <= layer < num_layers.
  uint16_t* key_words(int32_t layer) { return layers_[layer].key_words.data(); }
  uint16_t* value_words(int32_t layer) { return layers_[layer].value_words.data(); }
  const uint16_t* key_words(int32_t layer) const { return layers_[layer].key_words.data(); }
  const uint16_t* value_words(int32_t layer) const { return layers_[layer].value_words.data(); }
  kernels::cpu::half_format half_format() const { return half_format_; }

 private:
  struct layer_storage {
    lazy_buffer<float> keys, values;               // f32
    lazy_buffer<uint8_t> key_codes, value_codes;   // fp8
    lazy_buffer<uint16_t> key_words, value_words;  // bf16 / f16
    kernels::cpu::fp8_kv fp8;
  };
  int32_t num_blocks_;
  kv_cache_dtype dtype_;
  kernels::cpu::half_format half_format_;
  kernels::cpu::paged_kv_layout layout_;
  std::vector<layer_storage> layers_;
};

}  // namespace troupe::backend
