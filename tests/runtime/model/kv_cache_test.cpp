#include "runtime/model/kv_cache.hpp"

#include <gtest/gtest.h>

#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

TEST(kv_cache, bytes_per_block_counts_keys_and_values_of_every_layer) {
  auto hp = testing::tiny_hparams();  // 2 layers, 2 kv heads, head_dim 16
  EXPECT_EQ(kv_bytes_per_block(hp, 16), 2 * 2 * 16 * 2 * 16 * 4);
  llama_hparams smollm;
  smollm.num_layers = 30;
  smollm.num_kv_heads = 3;
  smollm.head_dim = 64;
  EXPECT_EQ(kv_bytes_per_block(smollm, 16), 737280);  // 720 KiB per 16 tokens
}

TEST(kv_cache, allocates_layers_with_the_paged_layout) {
  auto hp = testing::tiny_hparams();
  kv_cache cache(hp, 5, 8);
  EXPECT_EQ(cache.num_blocks(), 5);
  EXPECT_EQ(cache.block_size(), 8);
  EXPECT_EQ(cache.layout().block_stride(), 8 * 2 * 16);
  EXPECT_EQ(cache.num_bytes(), 5 * kv_bytes_per_block(hp, 8));
  // Layers and K/V are distinct storage.
  EXPECT_NE(cache.keys(0), cache.keys(1));
  EXPECT_NE(cache.keys(1), cache.values(1));
  cache.keys(1)[5 * 8 * 2 * 16 - 1] = 1.0f;  // last float of the last block is addressable
  EXPECT_EQ(cache.values(1)[0], 0.0f);
}

TEST(kv_cache, fp8_takes_one_byte_an_element) {
  auto hp = testing::tiny_hparams();
  for (auto dtype : {backend::kv_cache_dtype::fp8_e4m3, backend::kv_cache_dtype::fp8_e5m2}) {
    EXPECT_EQ(kv_bytes_per_block(hp, 16, dtype), 2 * 2 * 16 * 2 * 16);
    EXPECT_EQ(4 * kv_bytes_per_block(hp, 16, dtype), kv_bytes_per_block(hp, 16));
    kv_cache cache(hp, 5, 8, dtype);
    EXPECT_TRUE(cache.is_fp8());
    EXPECT_EQ(cache.num_bytes(), 5 * kv_bytes_per_block(hp, 8, dtype));
    EXPECT_EQ(cache.num_bytes(), 5 * 2 * 2 * 8 * 2 * 16);
    EXPECT_NE(cache.key_codes(0), cache.key_codes(1));
    EXPECT_NE(cache.key_codes(1), cache.value_codes(1));
    cache.key_codes(1)[5 * 8 * 2 * 16 - 1] = 0x38;  // last code of the last block
    EXPECT_EQ(cache.value_codes(1)[0], 0);
    EXPECT_EQ(cache.fp8(1).format, dtype == backend::kv_cache_dtype::fp8_e4m3
                                       ? kernels::cpu::fp8_format::e4m3
                                       : kernels::cpu::fp8_format::e5m2);
    EXPECT_EQ(cache.fp8(1).k_scale, 1.0f);
  }
}

TEST(kv_cache, bf16_and_f16_take_two_bytes_an_element) {
  auto hp = testing::tiny_hparams();
  for (auto dtype : {backend::kv_cache_dtype::bf16, backend::kv_cache_dtype::f16}) {
    EXPECT_EQ(kv_bytes_per_block(hp, 16, dtype), 2 * 2 * 16 * 2 * 16 * 2);
    EXPECT_EQ(2 * kv_bytes_per_block(hp, 16, dtype), kv_bytes_per_block(hp, 16));
    kv_cache cache(hp, 5, 8, dtype);
    EXPECT_TRUE(cache.is_half());
    EXPECT_FALSE(cache.is_fp8());
    EXPECT_EQ(cache.num_bytes(), 5 * kv_bytes_per_block(hp, 8, dtype));
    EXPECT_NE(cache.key_words(0), cache.key_words(1));
    EXPECT_NE(cache.key_words(1), cache.value_words(1));
    cache.key_words(1)[5 * 8 * 2 * 16 - 1] = 0x3f80;  // last word of the last block
    EXPECT_EQ(cache.value_words(1)[0], 0);
    EXPECT_EQ(cache.half_format(), dtype == backend::kv_cache_dtype::bf16
                                       ? kernels::cpu::half_format::bf16
                                       : kernels::cpu::half_format::f16);
  }
  kv_cache f32(hp, 5, 8);
  EXPECT_FALSE(f32.is_half());
  EXPECT_FALSE(f32.is_fp8());
}

TEST(kv_cache, fp8_scales_come_from_the_weights) {
  auto hp = testing::tiny_hparams();
  auto w = testing::tiny_llama(hp, 1);
  w.layers[1].k_scale = 0.5f;
  w.layers[1].v_scale = 2.0f;
  auto shape = kv_cache_shape_for(hp, 3, 4);
  set_kv_cache_scales(shape, w);
  EXPECT_TRUE(shape.k_scales.empty());  // f32 keeps none
  shape = kv_cache_shape_for(hp, 3, 4, backend::kv_cache_dtype::fp8_e4m3);
  set_kv_cache_scales(shape, w);
  EXPECT_EQ(shape.k_scales, (std::vector<float>{1.0f, 0.5f}));
  EXPECT_EQ(shape.v_scales, (std::vector<float>{1.0f, 2.0f}));
  backend::cpu_kv_cache cache(shape);
  EXPECT_EQ(cache.fp8(0).k_scale, 1.0f);
  EXPECT_EQ(cache.fp8(1).k_scale, 0.5f);
  EXPECT_EQ(cache.fp8(1).v_scale, 2.0f);
  shape = kv_cache_shape_for(hp, 3, 4, backend::kv_cache_dtype::bf16);
  set_kv_cache_scales(shape, w);
  EXPECT_TRUE(shape.k_scales.empty());  // a 16-bit cache has no scales
  EXPECT_TRUE(shape.v_scales.empty());
}

// vLLM's CacheDType names troupe implements; auto is whatever the caller resolved it to. vLLM has
// no "bf16" or "half" cache dtype (its --dtype has "half"), so neither has troupe.
TEST(kv_cache, parses_vllms_dtype_names) {
  using backend::kv_cache_dtype;
  for (auto resolved : {kv_cache_dtype::f32, kv_cache_dtype::bf16, kv_cache_dtype::f16})
    EXPECT_EQ(parse_kv_cache_dtype("auto", resolved), resolved);
  const auto f32 = kv_cache_dtype::f32;
  EXPECT_EQ(parse_kv_cache_dtype("bfloat16", f32), kv_cache_dtype::bf16);
  EXPECT_EQ(parse_kv_cache_dtype("float16", f32), kv_cache_dtype::f16);
  EXPECT_EQ(parse_kv_cache_dtype("fp8", f32), kv_cache_dtype::fp8_e4m3);
  EXPECT_EQ(parse_kv_cache_dtype("fp8_e4m3", f32), kv_cache_dtype::fp8_e4m3);
  EXPECT_EQ(parse_kv_cache_dtype("fp8_e5m2", f32), kv_cache_dtype::fp8_e5m2);
  for (const char* other :
       {"bf16", "half", "f16", "fp16", "fp8_inc", "fp8_ds_mla", "float32", "float", "Bfloat16", ""})
    EXPECT_FALSE(parse_kv_cache_dtype(other, f32)) << other;
  EXPECT_EQ(kv_cache_dtype_name(kv_cache_dtype::fp8_e5m2), "fp8_e5m2");
  EXPECT_EQ(kv_cache_dtype_name(kv_cache_dtype::bf16), "bf16");
  EXPECT_EQ(kv_cache_dtype_name(kv_cache_dtype::f16), "f16");
  EXPECT_EQ(kv_cache_dtype_name(kv_cache_dtype::f32), "f32");
}

}  // namespace
}  // namespace troupe::runtime
