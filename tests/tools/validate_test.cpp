// Startup validation: what troupe does not support yet stops with a message saying what to do.
#include "tools/cli/validate.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace troupe::cli {
namespace {

using runtime::engine_config;

std::string failure(const engine_config& config) {
  status s = validate_for_cpu(config);
  EXPECT_FALSE(s.ok()) << "validated although it should not";
  return s.ok() ? "" : s.message();
}

TEST(validate, defaults_pass) {
  EXPECT_TRUE(validate_for_cpu(engine_config{}).ok());
}

TEST(validate, users_vllm_line_fails_first_on_tensor_parallelism) {
  const char* argv[] = {"troupe",
                        "serve",
                        "--model",
                        "DIR",
                        "--tensor-parallel-size",
                        "2",
                        "--enable-prefix-caching"};
  auto parsed = parse_command_line(7, argv);
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_EQ(failure(parsed->engine),
            "tensor parallelism is not supported yet: run with --tensor-parallel-size 1 (got 2)");
}

TEST(validate, prefix_caching_runs_on_or_off) {
  engine_config c;
  EXPECT_TRUE(c.enable_prefix_caching);
  EXPECT_TRUE(validate_for_cpu(c).ok());
  c.enable_prefix_caching = false;
  EXPECT_TRUE(validate_for_cpu(c).ok());
}

TEST(validate, prefix_caching_hash_algo) {
  engine_config c;
  c.prefix_caching_hash_algo = "xxhash";
  EXPECT_TRUE(validate_for_cpu(c).ok());
  c.prefix_caching_hash_algo = "sha256_cbor";
  EXPECT_EQ(failure(c),
            "--prefix-caching-hash-algo sha256_cbor is not supported: troupe supports sha256 (the "
            "default) and xxhash");
  c.prefix_caching_hash_algo = "xxhash_cbor";
  EXPECT_EQ(failure(c),
            "--prefix-caching-hash-algo xxhash_cbor is not supported: troupe supports sha256 (the "
            "default) and xxhash");
}

TEST(validate, pipeline_parallelism) {
  engine_config c;
  c.pipeline_parallel_size = 2;
  EXPECT_EQ(failure(c),
            "pipeline parallelism is not supported yet: run with --pipeline-parallel-size 1 (got "
            "2)");
}

TEST(validate, prefix_caching_serve_line_validates) {
  const char* argv[] = {"troupe",
                        "serve",
                        "--served_model_name",
                        "story",
                        "--model",
                        "M",
                        "--gpu-memory-utilization",
                        "0.9",
                        "--max-model-len",
                        "8192",
                        "--tensor-parallel-size",
                        "1",
                        "--pipeline-parallel-size",
                        "1",
                        "--enable-chunked-prefill",
                        "--max-num-batched-tokens",
                        "512",
                        "--max-num-seqs",
                        "16",
                        "--enable-prefix-caching",
                        "--kv-cache-dtype",
                        "auto",
                        "--dtype",
                        "auto",
                        "--disable-log-requests"};
  auto parsed = parse_command_line(static_cast<int>(std::size(argv)), argv);
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  status s = validate_for_cpu(parsed->engine);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(validate, dtypes) {
  engine_config c;
  c.kv_cache_dtype = "fp8";
  EXPECT_EQ(failure(c),
            "--kv-cache-dtype fp8 is not supported yet: the KV cache uses the model dtype; run "
            "with --kv-cache-dtype auto");
  c = {};
  for (const char* ok : {"auto", "float32", "float", "bfloat16", "float16", "half"}) {
    c.dtype = ok;
    EXPECT_TRUE(validate_for_cpu(c).ok()) << ok;
  }
  c.dtype = "fp8";
  EXPECT_EQ(failure(c),
            "unknown dtype 'fp8' (expected auto, float32, float, bfloat16, float16 or half)");
}

TEST(validate, block_size_power_of_two) {
  engine_config c;
  for (int32_t ok : {1, 8, 16, 32, 256}) {
    c.block_size = ok;
    EXPECT_TRUE(validate_for_cpu(c).ok()) << ok;
  }
  for (int32_t bad : {0, 12, 24, 512, -16}) {
    c.block_size = bad;
    EXPECT_EQ(failure(c), "--block-size " + std::to_string(bad) +
                              " is not supported: use a power of two from 1 to 256 (e.g. 16)");
  }
}

TEST(validate, batch_limits_and_memory_fraction) {
  engine_config c;
  c.max_num_seqs = 0;
  EXPECT_EQ(failure(c), "--max-num-seqs must be at least 1 (got 0)");
  c = {};
  c.max_num_batched_tokens = 0;
  EXPECT_EQ(failure(c), "--max-num-batched-tokens must be at least 1 (got 0)");
  c = {};
  c.gpu_memory_utilization = 0;
  EXPECT_NE(failure(c).find("--gpu-memory-utilization must be in (0, 1]"), std::string::npos);
}

TEST(validate, unchunked_prefill_needs_a_budget_of_max_model_len) {
  engine_config c;
  c.enable_chunked_prefill = false;
  c.max_model_len = 4096;
  c.max_num_batched_tokens = 512;
  EXPECT_EQ(
      failure(c).rfind("--max-num-batched-tokens (512) is smaller than --max-model-len (4096)", 0),
      0u);
  c.enable_chunked_prefill = true;
  EXPECT_TRUE(validate_for_cpu(c).ok());
  c.enable_chunked_prefill = false;
  c.max_num_batched_tokens = 4096;
  EXPECT_TRUE(validate_for_cpu(c).ok());
  c.max_model_len = 0;  // not resolved yet: checked again once the model is loaded
  c.max_num_batched_tokens = 1;
  EXPECT_TRUE(validate_for_cpu(c).ok());
}

TEST(validate, chat_template_must_exist) {
  command_line c;
  EXPECT_TRUE(validate_paths(c).ok());
  c.serve.chat_template = "/nonexistent/template.jinja";
  EXPECT_EQ(validate_paths(c).message(),
            "--chat-template /nonexistent/template.jinja: no such file");
  auto path = std::filesystem::temp_directory_path() / "troupe_validate_test_template.jinja";
  std::ofstream(path) << "{{ messages }}";
  c.serve.chat_template = path.string();
  EXPECT_TRUE(validate_paths(c).ok());
  std::filesystem::remove(path);
  c.serve.chat_template = std::filesystem::temp_directory_path().string();  // a directory
  EXPECT_FALSE(validate_paths(c).ok());
}

}  // namespace
}  // namespace troupe::cli
