// Every rule of an engine configuration, one test each: what troupe does not support stops with a
// message saying what to do, and max_model_len and the token budget resolve by one rule each.
#include "runtime/serving/config_checks.hpp"

#include <gtest/gtest.h>

#include <string>

namespace troupe::runtime {
namespace {

std::string failure(const engine_config& config) {
  status s = validate_engine_config(config);
  EXPECT_FALSE(s.ok()) << "validated although it should not";
  return s.ok() ? "" : s.message();
}

TEST(validate_engine_config, defaults_pass) {
  EXPECT_TRUE(validate_engine_config(engine_config{}).ok());
}

TEST(validate_engine_config, tensor_parallelism) {
  engine_config c;
  c.tensor_parallel_size = 2;  // whether the model splits is checked once it is loaded
  EXPECT_TRUE(validate_engine_config(c).ok());
  c.tensor_parallel_size = 0;
  EXPECT_EQ(failure(c), "--tensor-parallel-size must be at least 1 (got 0)");
}

TEST(validate_engine_config, pipeline_parallelism) {
  engine_config c;
  c.pipeline_parallel_size = 2;
  EXPECT_TRUE(validate_engine_config(c).ok());
  c.async_scheduling = true;
  EXPECT_EQ(failure(c),
            "--async-scheduling is not supported with pipeline parallelism "
            "(--pipeline-parallel-size 2): drop one of them");
  c.async_scheduling = false;
  c.speculative = {3, 2, 4};  // ngram drafts: stages before the last take rejected ones back
  EXPECT_TRUE(validate_engine_config(c).ok()) << failure(c);
  c.speculative = {};
  c.device = "cuda";
  EXPECT_EQ(failure(c),
            "pipeline parallelism runs on the CPU only for now: --pipeline-parallel-size 2 needs "
            "--device cpu (or auto without a GPU)");
  c.pipeline_parallel_size = 0;
  EXPECT_EQ(failure(c), "--pipeline-parallel-size must be at least 1 (got 0)");
}

TEST(validate_engine_config, data_parallelism) {
  engine_config c;
  c.data_parallel_size = 2;
  c.tensor_parallel_size = 2;
  c.pipeline_parallel_size = 2;
  EXPECT_TRUE(validate_engine_config(c).ok()) << failure(c);
  c.pipeline_parallel_size = 1;
  c.device = "cuda";  // engine d on GPUs d x TP onwards (counted once the plugin is loaded)
  EXPECT_TRUE(validate_engine_config(c).ok()) << failure(c);
  c.data_parallel_size = 0;
  EXPECT_EQ(failure(c), "--data-parallel-size must be at least 1 (got 0)");
  c.data_parallel_size = 1;
  c.data_parallel_routing = "least-loaded";
  EXPECT_TRUE(validate_engine_config(c).ok()) << failure(c);
  c.data_parallel_routing = "round-robin";
  EXPECT_EQ(failure(c),
            "--data-parallel-routing must be prefix-aware or least-loaded (got 'round-robin')");
}

// vLLM's multi-node data-parallel flags: their one-node values are accepted, the rest refused.
TEST(validate_engine_config, data_parallelism_runs_on_one_node) {
  engine_config c;
  c.data_parallel_size = 2;
  c.data_parallel_node.size_local = 2;
  c.data_parallel_node.address = "10.0.0.1";
  c.data_parallel_node.rpc_port = 13345;
  EXPECT_TRUE(validate_engine_config(c).ok()) << failure(c);
  const std::string one_node =
      ": troupe runs every data-parallel engine in one server (run one troupe server per node or "
      "rank behind a load balancer instead)";
  c.data_parallel_node.size_local = 1;
  EXPECT_EQ(failure(c), "--data-parallel-size-local 1 is not --data-parallel-size 2" + one_node);
  c.data_parallel_node.size_local = 0;
  c.data_parallel_node.start_rank = 1;
  EXPECT_EQ(failure(c), "--data-parallel-start-rank 1 (a secondary node)" + one_node);
  c.data_parallel_node.start_rank = 0;
  c.data_parallel_node.rank = 0;
  EXPECT_EQ(failure(c), "--data-parallel-rank 0 (one server per rank)" + one_node);
  c.data_parallel_node.rank = -1;
  c.data_parallel_node.backend = "ray";
  EXPECT_EQ(failure(c),
            "--data-parallel-backend ray is not supported: the engines are actors of this process "
            "(mp)");
  c.data_parallel_node.backend = "mp";
  c.data_parallel_node.external_lb = true;
  EXPECT_EQ(failure(c), "--data-parallel-external-lb" + one_node);
  c.data_parallel_node.external_lb = false;
  c.data_parallel_node.hybrid_lb = true;
  EXPECT_EQ(failure(c), "--data-parallel-hybrid-lb" + one_node);
}

TEST(validate_engine_config, rules_are_checked_in_order) {
  engine_config c;
  c.pipeline_parallel_size = 0;
  c.tensor_parallel_size = 0;
  c.block_size = 3;
  EXPECT_EQ(failure(c).rfind("--tensor-parallel-size", 0), 0u);
  c.tensor_parallel_size = 4;
  EXPECT_EQ(failure(c).rfind("--pipeline-parallel-size", 0), 0u);
}

TEST(validate_engine_config, prefix_caching_runs_on_or_off) {
  engine_config c;
  EXPECT_TRUE(c.enable_prefix_caching);
  EXPECT_TRUE(validate_engine_config(c).ok());
  c.enable_prefix_caching = false;
  EXPECT_TRUE(validate_engine_config(c).ok());
}

TEST(validate_engine_config, prefix_caching_hash_algo) {
  engine_config c;
  c.prefix_caching_hash_algo = "xxhash";
  EXPECT_TRUE(validate_engine_config(c).ok());
  for (const char* cbor : {"sha256_cbor", "xxhash_cbor"}) {
    c.prefix_caching_hash_algo = cbor;
    EXPECT_EQ(failure(c), "--prefix-caching-hash-algo " + std::string(cbor) +
                              " is not supported: troupe supports sha256 (the default) and xxhash");
  }
}

TEST(validate_engine_config, kv_cache_dtype) {
  engine_config c;
  for (const char* ok : {"auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2"}) {
    c.kv_cache_dtype = ok;
    EXPECT_TRUE(validate_engine_config(c).ok()) << ok;
  }
  // vLLM's other cache dtypes, and names vLLM does not take either.
  for (const char* other :
       {"fp8_inc", "fp8_ds_mla", "int8_per_token_head", "bf16", "half", "FP8", ""}) {
    c.kv_cache_dtype = other;
    EXPECT_EQ(failure(c), "--kv-cache-dtype " + std::string(other) +
                              " is not supported: troupe supports auto (the model's dtype; on "
                              "the CPU f32, or bf16 under --dtype bfloat16), bfloat16, float16, "
                              "fp8 (= fp8_e4m3), fp8_e4m3 and fp8_e5m2");
  }
}

TEST(validate_engine_config, dtype) {
  engine_config c;
  for (const char* ok : {"auto", "float32", "float", "bfloat16", "float16", "half"}) {
    c.dtype = ok;
    EXPECT_TRUE(validate_engine_config(c).ok()) << ok;
  }
  c.dtype = "fp8";
  EXPECT_EQ(failure(c),
            "unknown dtype 'fp8' (expected auto, float32, float, bfloat16, float16 or half)");
}

TEST(validate_engine_config, block_size_power_of_two) {
  engine_config c;
  for (int32_t ok : {1, 8, 16, 32, 256}) {
    c.block_size = ok;
    EXPECT_TRUE(validate_engine_config(c).ok()) << ok;
  }
  for (int32_t bad : {0, 12, 24, 512, -16}) {
    c.block_size = bad;
    EXPECT_EQ(failure(c), "--block-size " + std::to_string(bad) +
                              " is not supported: use a power of two from 1 to 256 (e.g. 16)");
  }
}

TEST(validate_engine_config, batch_limits) {
  engine_config c;
  c.max_num_seqs = 0;
  EXPECT_EQ(failure(c), "--max-num-seqs must be at least 1 (got 0)");
  c = {};
  c.max_num_batched_tokens = 0;
  EXPECT_EQ(failure(c), "--max-num-batched-tokens must be at least 1 (got 0)");
  c.max_num_batched_tokens = 1;
  EXPECT_TRUE(validate_engine_config(c).ok());
  c = {};
  c.max_model_len = -1;
  EXPECT_EQ(failure(c), "--max-model-len must be at least 0 (got -1)");
  c = {};
  c.max_waiting_requests = 0;
  EXPECT_EQ(failure(c), "--max-waiting-requests must be at least 1 (got 0)");
}

TEST(validate_engine_config, kv_cache_sizes) {
  engine_config c;
  c.kv_cache_memory = -1;
  EXPECT_EQ(failure(c), "--kv-cache-memory must be at least 0 (got -1)");
  c = {};
  c.num_gpu_blocks_override = -4;
  EXPECT_EQ(failure(c), "--num-gpu-blocks-override must be at least 0 (got -4)");
}

TEST(validate_engine_config, gpu_memory_utilization_is_a_fraction) {
  engine_config c;
  c.gpu_memory_utilization = 1.0;
  EXPECT_TRUE(validate_engine_config(c).ok());
  for (double bad : {0.0, -0.5, 1.5}) {
    c.gpu_memory_utilization = bad;
    EXPECT_EQ(failure(c).rfind("--gpu-memory-utilization must be in (0, 1]", 0), 0u) << bad;
  }
}

// -- resolve_engine_config --

constexpr kv_cache_capacity big_cache{1024, 16};  // 16384 tokens

engine_config resolved(const engine_config& c, int32_t model_max_len,
                       kv_cache_capacity kv = big_cache) {
  auto r = resolve_engine_config(c, model_max_len, kv);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? *r : engine_config{};
}

TEST(resolve_engine_config, max_model_len_defaults_to_the_models) {
  engine_config c;
  EXPECT_EQ(resolved(c, 8192).max_model_len, 8192);
  c.max_model_len = 1000;
  EXPECT_EQ(resolved(c, 8192).max_model_len, 1000);
}

TEST(resolve_engine_config, max_model_len_above_the_models_is_refused) {
  engine_config c;
  c.max_model_len = 1000;
  auto r = resolve_engine_config(c, 512, big_cache);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "--max-model-len 1000 exceeds the model's context length 512");
}

TEST(resolve_engine_config, max_model_len_is_capped_to_the_kv_cache) {
  engine_config c;
  EXPECT_EQ(resolved(c, 8192, {256, 16}).max_model_len, 4096);
  c.max_model_len = 5000;
  EXPECT_EQ(resolved(c, 8192, {256, 16}).max_model_len, 4096);
  EXPECT_EQ(resolved(engine_config{}, 0, {10, 4}).max_model_len, 40);  // model's length unknown
}

TEST(resolve_engine_config, an_empty_kv_cache_is_refused) {
  EXPECT_FALSE(resolve_engine_config(engine_config{}, 512, {0, 16}).ok());
  EXPECT_FALSE(resolve_engine_config(engine_config{}, 512, {16, 0}).ok());
}

TEST(resolve_engine_config, block_size_is_the_caches) {
  EXPECT_EQ(resolved(engine_config{}, 512, {64, 4}).block_size, 4);
}

TEST(resolve_engine_config, budget_with_chunked_prefill) {
  engine_config c;
  EXPECT_EQ(resolved(c, 8192).max_num_batched_tokens, default_max_num_batched_tokens);
  c.max_num_batched_tokens = 64;  // smaller than max_model_len: prompts are chunked
  EXPECT_EQ(resolved(c, 8192).max_num_batched_tokens, 64);
}

// The one budget rule without chunked prefill (vLLM's SchedulerConfig): unset -> max(max_model_len,
// 2048); set below max_model_len -> refused. max_model_len is the one the engine serves, after
// the KV cache's cap.
TEST(resolve_engine_config, budget_without_chunked_prefill) {
  engine_config c;
  c.enable_chunked_prefill = false;
  EXPECT_EQ(resolved(c, 8192).max_num_batched_tokens, 8192);
  EXPECT_EQ(resolved(c, 1024).max_num_batched_tokens, 2048);
  EXPECT_EQ(resolved(c, 8192, {256, 16}).max_num_batched_tokens, 4096);  // capped max_model_len

  c.max_num_batched_tokens = 8192;
  EXPECT_EQ(resolved(c, 8192).max_num_batched_tokens, 8192);
  c.max_num_batched_tokens = 4096;  // enough for the capped max_model_len
  EXPECT_EQ(resolved(c, 8192, {256, 16}).max_num_batched_tokens, 4096);

  c.max_model_len = 4096;
  c.max_num_batched_tokens = 512;
  auto r = resolve_engine_config(c, 8192, big_cache);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "--max-num-batched-tokens (512) is smaller than max_model_len (4096): without chunked "
            "prefill a whole prompt must fit one step; increase --max-num-batched-tokens, "
            "decrease --max-model-len, or pass --enable-chunked-prefill");
}

TEST(resolve_engine_config, keeps_everything_else) {
  engine_config c;
  c.served_model_name = "m";
  c.max_num_seqs = 7;
  c.prefix_caching_hash_algo = "xxhash";
  engine_config r = resolved(c, 512);
  EXPECT_EQ(r.served_model_name, "m");
  EXPECT_EQ(r.max_num_seqs, 7);
  EXPECT_EQ(r.prefix_caching_hash_algo, "xxhash");
}

}  // namespace
}  // namespace troupe::runtime
