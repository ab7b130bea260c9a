// Startup validation of parsed command lines: the engine flags through
// runtime::validate_engine_config (each rule: tests/runtime/serving/config_checks_test.cpp), the
// CLI's own file flags through validate_paths.
#include "tools/cli/validate.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "runtime/serving/config_checks.hpp"

namespace troupe::cli {
namespace {

TEST(validate, users_vllm_line_with_tensor_parallelism_validates) {
  const char* argv[] = {"troupe",
                        "serve",
                        "--model",
                        "DIR",
                        "--tensor-parallel-size",
                        "2",
                        "--enable-prefix-caching"};
  auto parsed = parse_command_line(7, argv);
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_EQ(parsed->engine.tensor_parallel_size, 2);
  status s = runtime::validate_engine_config(parsed->engine);
  EXPECT_TRUE(s.ok()) << s.message();
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
  status s = runtime::validate_engine_config(parsed->engine);
  EXPECT_TRUE(s.ok()) << s.message();
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
