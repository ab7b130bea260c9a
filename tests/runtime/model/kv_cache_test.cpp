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

}  // namespace
}  // namespace troupe::runtime
