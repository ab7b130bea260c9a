// serve and generate start their engine through runtime::build_engine: the flags parsed are the
// configuration it validates and resolves, and its messages are what the user sees.
#include "tools/cli/engine_startup.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "tests/support/testdata.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

command_line parse(std::vector<const char*> args) {
  args.insert(args.begin(), "troupe");
  auto cl = parse_command_line(static_cast<int>(args.size()), args.data());
  EXPECT_TRUE(cl) << cl.message();
  return *cl;
}

class engine_startup : public ::testing::Test {
 protected:
  // A tiny model (context 1024) with the 600-piece SentencePiece tokenizer.
  static void SetUpTestSuite() {
    root_ =
        fs::temp_directory_path() / ("troupe_engine_startup_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    runtime::tiny_model_spec spec;
    spec.vocab_size = 640;
    spec.max_position_embeddings = 1024;
    ASSERT_TRUE(runtime::write_tiny_model(spec, model_dir()).ok());
    for (const char* file : {"tokenizer.model", "tokenizer_config.json"})
      fs::copy_file(fs::path(tokenizer_dir()) / file, fs::path(model_dir()) / file);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static std::string model_dir() { return (root_ / "model").string(); }
  static std::string tokenizer_dir() {
    return testing::repo_testdata("tokenizer/sentencepiece/legacy");
  }

  // `troupe generate` on the tiny model with `extra` flags: {exit code, stderr}.
  static std::pair<int, std::string> generate(std::vector<const char*> extra) {
    const std::string model = model_dir();
    std::vector<const char*> args{"generate",  "--model", model.c_str(), "--prompt-ids", "5,17",
                                  "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cl = parse(args);
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    const int rc = run_generate(cl);
    ::testing::internal::GetCapturedStdout();
    return {rc, ::testing::internal::GetCapturedStderr()};
  }

  static inline fs::path root_;
};

TEST_F(engine_startup, serve_flags_become_the_builders_resolved_config) {
  const std::string model = model_dir();
  auto started = start_engine_from_flags(
      parse({"serve", model.c_str(), "--threads", "1", "--num-gpu-blocks-override", "16",
             "--no-enable-chunked-prefill"}));
  ASSERT_TRUE(started.ok()) << started.message();
  // 16 blocks of 16 tokens cap the model's 1024; without chunked prefill the budget is
  // max(max_model_len, 2048).
  EXPECT_EQ(started->config.max_model_len, 256);
  EXPECT_EQ(started->config.max_num_batched_tokens, 2048);
  EXPECT_EQ(started->config.served_model_name, model);
  EXPECT_EQ(started->tokenizer_path, model);
  EXPECT_EQ(started->engine->info().max_model_len, 256);
  EXPECT_EQ(started->engine->info().served_model_name, model);
  EXPECT_EQ(started->engine->stats().num_kv_blocks_total, 16);
}

TEST_F(engine_startup, tokenizer_flag_reaches_the_builder) {
  const std::string model = model_dir();
  const std::string tokenizer = tokenizer_dir();
  auto started = start_engine_from_flags(
      parse({"serve", model.c_str(), "--threads", "1", "--num-gpu-blocks-override", "16",
             "--tokenizer", tokenizer.c_str()}));
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_EQ(started->tokenizer_path, tokenizer);
  EXPECT_EQ(started->engine->tokenizer().vocab_size(), 600);
}

TEST_F(engine_startup, generate_runs_and_reports_the_builders_errors) {
  EXPECT_EQ(generate({"--num-gpu-blocks-override", "16"}).first, 0);
  auto [rc, err] = generate({"--max-model-len", "2048"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("troupe generate: --max-model-len 2048 exceeds the model's context length "
                     "1024"),
            std::string::npos)
      << err;
  std::tie(rc, err) = generate({"--kv-cache-memory", "100"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("troupe generate: the KV cache budget holds no block"), std::string::npos)
      << err;
}

// --kv-cache-dtype bfloat16 / float16 reach the runners: the same --kv-cache-memory holds twice
// auto's (f32 on the CPU) blocks, and generate runs on such a cache.
TEST_F(engine_startup, kv_cache_dtype_flag_reaches_the_builder) {
  const std::string model = model_dir();
  auto blocks = [&](const char* dtype) -> int64_t {
    auto started =
        start_engine_from_flags(parse({"serve", model.c_str(), "--threads", "1",
                                       "--kv-cache-memory", "1048576", "--kv-cache-dtype", dtype}));
    EXPECT_TRUE(started.ok()) << dtype << ": " << started.message();
    return started.ok() ? started->engine->stats().num_kv_blocks_total : -1;
  };
  const int64_t f32 = blocks("auto");
  EXPECT_GT(f32, 0);
  EXPECT_EQ(blocks("bfloat16"), 2 * f32);
  EXPECT_EQ(blocks("float16"), 2 * f32);
  EXPECT_EQ(generate({"--num-gpu-blocks-override", "16", "--kv-cache-dtype", "bfloat16"}).first, 0);
}

TEST_F(engine_startup, serve_refuses_before_loading_a_model) {
  auto started = start_engine_from_flags(
      parse({"serve", "/nonexistent.gguf", "--pipeline-parallel-size", "2", "--async-scheduling"}));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.message(),
            "--async-scheduling is not supported with pipeline parallelism "
            "(--pipeline-parallel-size 2): drop one of them");
  started = start_engine_from_flags(
      parse({"serve", "/nonexistent.gguf", "--chat-template", "/nonexistent.jinja"}));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.message(), "--chat-template /nonexistent.jinja: no such file");
}

}  // namespace
}  // namespace troupe::cli
