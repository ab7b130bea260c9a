// How many KV blocks an engine gets: the override exactly, else the memory budget, else 512 MiB;
// --gpu-memory-utilization plays no part on CPU.
#include "runtime/serving/kv_cache_sizing.hpp"

#include <gtest/gtest.h>

namespace troupe::runtime {
namespace {

// 2 layers x (K + V) x 2 KV heads x 16 dims x 4 bytes = 512 bytes per token.
llama_hparams tiny_hparams() {
  llama_hparams hp;
  hp.num_layers = 2;
  hp.hidden_size = 64;
  hp.num_heads = 4;
  hp.num_kv_heads = 2;
  hp.head_dim = 16;
  hp.vocab_size = 32;
  return hp;
}

kv_cache_plan plan(const engine_config& config,
                   backend::kv_cache_dtype auto_dtype = backend::kv_cache_dtype::f32) {
  auto p = plan_kv_cache(config, tiny_hparams(), auto_dtype);
  EXPECT_TRUE(p.ok()) << p.message();
  return p.ok() ? *p : kv_cache_plan{};
}

TEST(kv_cache_sizing, bytes_per_block_cover_every_layer_keys_and_values) {
  engine_config c;
  c.block_size = 16;
  EXPECT_EQ(plan(c).bytes_per_block, 16 * 512);
  EXPECT_EQ(plan(c).block_size, 16);
}

// bfloat16 / float16 take 2 bytes an element, fp8 one: the same budget holds 2x / 4x the blocks.
// auto is the dtype the caller resolved it to.
TEST(kv_cache_sizing, the_cache_dtype_sets_the_bytes_per_block) {
  using backend::kv_cache_dtype;
  engine_config c;
  c.kv_cache_memory = 10 * 16 * 512;
  for (auto [name, dtype, blocks] : {std::tuple{"bfloat16", kv_cache_dtype::bf16, 20},
                                     {"float16", kv_cache_dtype::f16, 20},
                                     {"fp8", kv_cache_dtype::fp8_e4m3, 40},
                                     {"auto", kv_cache_dtype::f32, 10}}) {
    c.kv_cache_dtype = name;
    EXPECT_EQ(plan(c).dtype, dtype) << name;
    EXPECT_EQ(plan(c).bytes_per_block, 16 * 512 * 10 / blocks) << name;
    EXPECT_EQ(plan(c).num_blocks, blocks) << name;
  }
  c.kv_cache_dtype = "auto";
  EXPECT_EQ(plan(c, kv_cache_dtype::bf16).dtype, kv_cache_dtype::bf16);
  EXPECT_EQ(plan(c, kv_cache_dtype::bf16).num_blocks, 20);
  c.kv_cache_dtype = "float16";  // an explicit dtype ignores what auto would be
  EXPECT_EQ(plan(c, kv_cache_dtype::bf16).dtype, kv_cache_dtype::f16);
}

TEST(kv_cache_sizing, override_is_exact) {
  engine_config c;
  c.num_gpu_blocks_override = 7;
  c.kv_cache_memory = int64_t{1} << 30;  // the override wins
  EXPECT_EQ(plan(c).num_blocks, 7);
  EXPECT_EQ(plan(c).num_bytes(), 7 * 16 * 512);
}

TEST(kv_cache_sizing, memory_budget_holds_whole_blocks) {
  engine_config c;
  c.kv_cache_memory = 10 * 16 * 512 + 100;
  EXPECT_EQ(plan(c).num_blocks, 10);
}

TEST(kv_cache_sizing, default_budget) {
  EXPECT_EQ(plan(engine_config{}).num_blocks, default_cpu_kv_cache_bytes / (16 * 512));
}

TEST(kv_cache_sizing, gpu_memory_utilization_changes_nothing_on_cpu) {
  engine_config c;
  c.gpu_memory_utilization = 0.1;
  EXPECT_EQ(plan(c).num_blocks, plan(engine_config{}).num_blocks);
}

TEST(kv_cache_sizing, vllms_cpu_kvcache_space_is_whole_gib) {
  EXPECT_FALSE(cpu_kv_cache_space_bytes(nullptr).value());
  EXPECT_FALSE(cpu_kv_cache_space_bytes("").value());
  EXPECT_EQ(cpu_kv_cache_space_bytes("4").value(), int64_t{4} << 30);
  EXPECT_EQ(cpu_kv_cache_space_bytes("0").value(), 0);
  for (const char* bad : {"1.5", "4G", "-1", " 4", "x"})
    EXPECT_FALSE(cpu_kv_cache_space_bytes(bad).ok()) << bad;
}

TEST(kv_cache_sizing, a_budget_below_one_block_is_an_error) {
  engine_config c;
  c.kv_cache_memory = 100;
  auto p = plan_kv_cache(c, tiny_hparams(), backend::kv_cache_dtype::f32);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.message(),
            "the KV cache budget holds no block: raise --kv-cache-memory or set "
            "--num-gpu-blocks-override");
}

}  // namespace
}  // namespace troupe::runtime
