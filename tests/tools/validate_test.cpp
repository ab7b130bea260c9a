// Startup validation: what troupe does not support yet stops with a message saying what to do.
#include "tools/cli/validate.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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

TEST(validate, prefix_caching) {
  engine_config c;
  c.enable_prefix_caching = true;
  EXPECT_EQ(failure(c),
            "prefix caching is not supported yet: drop --enable-prefix-caching (or pass "
            "--no-enable-prefix-caching)");
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
