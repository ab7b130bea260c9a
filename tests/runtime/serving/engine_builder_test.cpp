// The engine builder on tiny generated Hugging Face models: validation before loading, the model
// and tokenizer loaded, the KV cache sized, the limits resolved once, one runner per rank.
#include "runtime/serving/engine_builder.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "runtime/serving/model_files.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

// A runner that only has a KV geometry (assemble_engine never runs a step).
class geometry_runner : public model_runner {
 public:
  geometry_runner(int32_t num_blocks, int32_t block_size)
      : num_blocks_(num_blocks), block_size_(block_size) {}
  std::vector<sampled_token> execute(const step_batch&) override { return {}; }
  int32_t vocab_size() const override { return 640; }
  int32_t block_size() const override { return block_size_; }
  int32_t num_kv_blocks() const override { return num_blocks_; }

 private:
  int32_t num_blocks_;
  int32_t block_size_;
};

class engine_builder : public ::testing::Test {
 protected:
  // model/: vocab 640 with the 600-piece SentencePiece tokenizer; bare/: vocab 512, no tokenizer.
  static void SetUpTestSuite() {
    root_ =
        fs::temp_directory_path() / ("troupe_engine_builder_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    tiny_model_spec spec;
    spec.vocab_size = 640;
    spec.max_position_embeddings = 1024;
    ASSERT_TRUE(write_tiny_model(spec, (root_ / "model").string()).ok());
    for (const char* file : {"tokenizer.model", "tokenizer_config.json"})
      fs::copy_file(fs::path(tokenizer_dir()) / file, root_ / "model" / file);
    spec.w8a8 = true;  // a float32 config.json with int8 projections
    ASSERT_TRUE(write_tiny_model(spec, (root_ / "w8a8").string()).ok());
    for (const char* file : {"tokenizer.model", "tokenizer_config.json"})
      fs::copy_file(fs::path(tokenizer_dir()) / file, root_ / "w8a8" / file);
    spec.w8a8 = false;
    spec.vocab_size = 512;
    ASSERT_TRUE(write_tiny_model(spec, (root_ / "bare").string()).ok());
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static std::string tokenizer_dir() {
    return testing::repo_testdata("tokenizer/sentencepiece/legacy");
  }
  static std::string model_dir(const char* name) { return (root_ / name).string(); }

  // The tiny model with 16 blocks of 16 tokens (256 tokens of KV cache).
  static engine_config tiny_config() {
    engine_config c;
    c.model = model_dir("model");
    c.num_gpu_blocks_override = 16;
    c.num_compute_threads = 1;
    return c;
  }

  // tiny_config with the KV cache sized from a 1 MiB budget instead of a block count.
  static engine_config budget_config() {
    engine_config c = tiny_config();
    c.num_gpu_blocks_override = 0;
    c.kv_cache_memory = int64_t{1} << 20;
    return c;
  }

  static std::string build_error(const engine_config& config) {
    auto built = build_engine(config);
    EXPECT_FALSE(built.ok()) << "built although it should not";
    return built.ok() ? "" : built.message();
  }

  static inline fs::path root_;
};

TEST_F(engine_builder, builds_the_model_its_tokenizer_and_one_runner) {
  auto built = build_engine(tiny_config());
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->model_path, model_dir("model"));
  EXPECT_EQ(built->tokenizer_path, model_dir("model"));
  EXPECT_EQ(built->model_max_len, 1024);
  ASSERT_TRUE(built->tokenizer);
  EXPECT_EQ(built->tokenizer->vocab_size(), 600);
  ASSERT_EQ(built->runners.size(), 1u);
  EXPECT_EQ(built->runners[0]->num_kv_blocks(), 16);
  EXPECT_EQ(built->runners[0]->block_size(), 16);
  EXPECT_EQ(built->runners[0]->vocab_size(), 640);
  EXPECT_EQ(built->kv_cache.num_blocks, 16);
  EXPECT_EQ(built->kv_cache.block_size, 16);
  EXPECT_EQ(built->hash_algo, block_hash_algo::sha256);
}

// --dtype auto keeps a checkpoint's int8 matrices even when its config.json says float32; an
// explicit --dtype float32 dequantizes them (the reference path).
TEST_F(engine_builder, auto_dtype_keeps_quantized_matrices_and_float32_dequantizes) {
  auto config = tiny_config();
  config.model = model_dir("w8a8");
  for (const char* dtype : {"auto", "float32", "bfloat16"}) {
    config.dtype = dtype;
    auto files = load_model_files(config);
    ASSERT_TRUE(files.ok()) << files.message();
    const auto& l = files->weights.layers[0];
    const auto want =
        config.dtype == "float32" ? backend::weight_format::f32 : backend::weight_format::w8a8;
    EXPECT_EQ(l.wq.format, want) << dtype;
    EXPECT_EQ(l.w_down.format, want) << dtype;
    EXPECT_EQ(files->weights.token_embedding.format, config.dtype == "bfloat16"
                                                         ? backend::weight_format::bf16
                                                         : backend::weight_format::f32)
        << dtype;
  }
}

TEST_F(engine_builder, resolves_the_limits_once) {
  auto built = build_engine(tiny_config());
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->config.max_model_len, 256);  // the model's 1024, capped to the KV cache
  EXPECT_EQ(built->config.max_num_batched_tokens, 2048);
  EXPECT_EQ(built->config.served_model_name, model_dir("model"));  // --model as given (vLLM)

  engine_config c = tiny_config();
  c.served_model_name = "tiny";
  c.enable_chunked_prefill = false;
  c.max_model_len = 128;
  c.prefix_caching_hash_algo = "xxhash";
  built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->config.served_model_name, "tiny");
  EXPECT_EQ(built->config.max_model_len, 128);
  EXPECT_EQ(built->config.max_num_batched_tokens, 2048);  // max(128, 2048)
  EXPECT_EQ(built->hash_algo, block_hash_algo::xxhash);
}

TEST_F(engine_builder, unchunked_budget_below_max_model_len_is_refused) {
  engine_config c = tiny_config();
  c.enable_chunked_prefill = false;
  c.max_num_batched_tokens = 100;
  EXPECT_EQ(build_error(c).rfind("--max-num-batched-tokens (100) is smaller than max_model_len "
                                 "(256): without chunked prefill",
                                 0),
            0u);
  c.max_num_batched_tokens = 256;  // the capped max_model_len fits one step
  EXPECT_TRUE(build_engine(c).ok());
}

TEST_F(engine_builder, validates_before_loading) {
  engine_config c = tiny_config();
  c.model = "/nonexistent/model.gguf";
  EXPECT_EQ(build_error(c), "model file not found: /nonexistent/model.gguf");
  c.pipeline_parallel_size = 0;
  EXPECT_EQ(build_error(c), "--pipeline-parallel-size must be at least 1 (got 0)");
}

// 4 q heads, 2 KV heads: one KV head per rank at TP=2; 3 ranks do not divide the heads.
TEST_F(engine_builder, one_runner_per_tensor_parallel_rank) {
  engine_config c = tiny_config();
  c.tensor_parallel_size = 2;
  c.num_compute_threads = 2;
  auto built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  ASSERT_EQ(built->runners.size(), 2u);
  for (const auto& runner : built->runners) {
    EXPECT_EQ(runner->num_kv_blocks(), 16);
    EXPECT_EQ(runner->vocab_size(), 640);
  }
  c.tensor_parallel_size = 3;
  const std::string error = build_error(c);
  EXPECT_EQ(error.rfind(model_dir("model") + ": --tensor-parallel-size 3: ", 0), 0u) << error;
}

// The KV budget is per rank: a rank holds half the KV heads at TP=2, so the same bytes hold twice
// the blocks.
TEST_F(engine_builder, the_kv_budget_is_per_rank) {
  engine_config c = budget_config();
  auto one = build_engine(c);
  ASSERT_TRUE(one.ok()) << one.message();
  c.tensor_parallel_size = 2;
  auto two = build_engine(c);
  ASSERT_TRUE(two.ok()) << two.message();
  EXPECT_EQ(two->kv_cache.num_blocks, 2 * one->kv_cache.num_blocks);
  for (const auto& runner : two->runners)
    EXPECT_EQ(runner->num_kv_blocks(), two->kv_cache.num_blocks);
}

// Two layers: one a stage at PP=2, each stage's ranks holding one layer's cache, so the same
// budget holds twice the blocks; 3 stages leave one without a layer.
TEST_F(engine_builder, one_runner_per_pipeline_stage_and_tensor_rank) {
  engine_config c = budget_config();
  auto one = build_engine(c);
  ASSERT_TRUE(one.ok()) << one.message();
  c.pipeline_parallel_size = 2;
  auto two = build_engine(c);
  ASSERT_TRUE(two.ok()) << two.message();
  ASSERT_EQ(two->runners.size(), 2u);
  EXPECT_EQ(two->kv_cache.num_blocks, 2 * one->kv_cache.num_blocks);
  for (const auto& runner : two->runners)
    EXPECT_EQ(runner->num_kv_blocks(), two->kv_cache.num_blocks);
  c.tensor_parallel_size = 2;
  auto four = build_engine(c);
  ASSERT_TRUE(four.ok()) << four.message();
  EXPECT_EQ(four->runners.size(), 4u);
  EXPECT_EQ(four->kv_cache.num_blocks, 4 * one->kv_cache.num_blocks);
  c.tensor_parallel_size = 1;
  c.pipeline_parallel_size = 3;
  EXPECT_EQ(build_error(c), model_dir("model") +
                                ": --pipeline-parallel-size 3: pipeline parallel size 3 over 2 "
                                "layers leaves a stage without a layer");
}

// Each data-parallel engine holds the whole model (its own copy) and its own cache of the same
// budget; its ranks follow the engine before's (runners[d x R + r]).
TEST_F(engine_builder, one_engine_of_runners_per_data_parallel_rank) {
  engine_config c = budget_config();
  auto one = build_engine(c);
  ASSERT_TRUE(one.ok()) << one.message();
  c.data_parallel_size = 2;
  c.num_compute_threads = 2;
  auto two = build_engine(c);
  ASSERT_TRUE(two.ok()) << two.message();
  ASSERT_EQ(two->runners.size(), 2u);
  EXPECT_EQ(two->kv_cache.num_blocks, one->kv_cache.num_blocks);
  for (const auto& runner : two->runners) {
    EXPECT_EQ(runner->num_kv_blocks(), one->kv_cache.num_blocks);
    EXPECT_EQ(runner->vocab_size(), 640);
    // One copy of the weights in memory, read by both engines.
    auto* cpu = dynamic_cast<cpu_llama_runner*>(runner.get());
    ASSERT_NE(cpu, nullptr);
    EXPECT_TRUE(static_cast<backend::cpu_backend&>(cpu->compute()).shares_weights());
  }
  c.tensor_parallel_size = 2;
  auto tp = build_engine(c);
  ASSERT_TRUE(tp.ok()) << tp.message();
  EXPECT_EQ(tp->runners.size(), 4u);
  for (const auto& runner : tp->runners) {  // engine 1's ranks read engine 0's ranks' shards
    auto* rank = dynamic_cast<tensor_parallel_runner*>(runner.get());
    ASSERT_NE(rank, nullptr);
    EXPECT_TRUE(static_cast<backend::cpu_backend&>(rank->compute()).shares_weights());
  }
  EXPECT_EQ(tp->kv_cache.num_blocks, 2 * one->kv_cache.num_blocks);
  c.tensor_parallel_size = 1;
  c.pipeline_parallel_size = 2;
  auto pp = build_engine(c);
  ASSERT_TRUE(pp.ok()) << pp.message();
  EXPECT_EQ(pp->runners.size(), 4u);
}

TEST_F(engine_builder, max_model_len_above_the_models_is_refused) {
  engine_config c = tiny_config();
  c.max_model_len = 2048;
  EXPECT_EQ(build_error(c), "--max-model-len 2048 exceeds the model's context length 1024");
}

TEST_F(engine_builder, kv_cache_from_memory_budget) {
  engine_config c = tiny_config();
  c.num_gpu_blocks_override = 0;
  // 2 layers x (K + V) x 2 KV heads x 16 dims x 4 bytes x 16 tokens = 8 KiB per block.
  c.kv_cache_memory = 40 * 8192;
  auto built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->kv_cache.num_blocks, 40);
  c.kv_cache_memory = 100;
  EXPECT_EQ(build_error(c),
            "the KV cache budget holds no block: raise --kv-cache-memory or set "
            "--num-gpu-blocks-override");
}

// --kv-cache-dtype fp8*: one byte an element instead of f32's four, so the same budget holds 4x
// the blocks (bfloat16 / float16: 2 bytes, 2x), at one rank and at every rank of TP=2, and every
// runner holds that cache. auto on the CPU is f32 for f32 activations, whatever the model's
// dtype, and bf16 under an explicit --dtype bfloat16 (bf16 activations, as vLLM).
TEST_F(engine_builder, smaller_kv_cache_dtypes_hold_more_blocks) {
  engine_config c = tiny_config();
  c.num_gpu_blocks_override = 0;
  c.kv_cache_memory = 40 * 8192;  // 40 f32 blocks (kv_cache_from_memory_budget)
  for (const char* f32_activations : {"auto", "float32", "float16"}) {
    c.dtype = f32_activations;
    auto f32 = build_engine(c);
    ASSERT_TRUE(f32.ok()) << f32.message();
    ASSERT_EQ(f32->kv_cache.num_blocks, 40) << f32_activations;
    EXPECT_EQ(dynamic_cast<const cpu_llama_runner&>(*f32->runners[0]).kv_cache_dtype(),
              backend::kv_cache_dtype::f32);
  }
  c.dtype = "bfloat16";
  auto bf16 = build_engine(c);
  ASSERT_TRUE(bf16.ok()) << bf16.message();
  EXPECT_EQ(bf16->kv_cache.num_blocks, 80);
  EXPECT_EQ(bf16->config.kv_cache_dtype, "auto");
  EXPECT_EQ(dynamic_cast<const cpu_llama_runner&>(*bf16->runners[0]).kv_cache_dtype(),
            backend::kv_cache_dtype::bf16);
  for (auto [name, dtype, ratio] : {std::tuple{"fp8", backend::kv_cache_dtype::fp8_e4m3, 4},
                                    {"fp8_e4m3", backend::kv_cache_dtype::fp8_e4m3, 4},
                                    {"fp8_e5m2", backend::kv_cache_dtype::fp8_e5m2, 4},
                                    {"bfloat16", backend::kv_cache_dtype::bf16, 2},
                                    {"float16", backend::kv_cache_dtype::f16, 2}}) {
    c.kv_cache_dtype = name;
    c.tensor_parallel_size = 1;
    auto one = build_engine(c);
    ASSERT_TRUE(one.ok()) << one.message();
    EXPECT_EQ(one->kv_cache.num_blocks, ratio * 40) << name;
    EXPECT_EQ(one->config.kv_cache_dtype, name);
    EXPECT_EQ(dynamic_cast<const cpu_llama_runner&>(*one->runners[0]).kv_cache_dtype(), dtype);
    c.tensor_parallel_size = 2;
    c.num_compute_threads = 2;
    auto two = build_engine(c);
    ASSERT_TRUE(two.ok()) << two.message();
    EXPECT_EQ(two->kv_cache.num_blocks, 2 * ratio * 40) << name;
    for (const auto& runner : two->runners) {
      EXPECT_EQ(runner->num_kv_blocks(), 2 * ratio * 40);
      EXPECT_EQ(dynamic_cast<const tensor_parallel_runner&>(*runner).kv_cache_dtype(), dtype);
    }
  }
  c.kv_cache_dtype = "fp8_inc";
  EXPECT_EQ(
      build_error(c),
      "--kv-cache-dtype fp8_inc is not supported: troupe supports auto (the model's dtype; on "
      "the CPU f32, or bf16 under --dtype bfloat16), bfloat16, float16, fp8 (= fp8_e4m3), "
      "fp8_e4m3 and fp8_e5m2");
}

TEST_F(engine_builder, tokenizer_flag_replaces_the_models) {
  engine_config c = tiny_config();
  c.model = model_dir("bare");
  EXPECT_EQ(build_error(c), model_dir("bare") +
                                ": no tokenizer.json or tokenizer.model; pass a tokenizer with "
                                "--tokenizer PATH");
  c.model = model_dir("model");
  c.tokenizer = tokenizer_dir();
  auto built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->tokenizer_path, tokenizer_dir());
  c.model = model_dir("bare");  // 512 tokens: fewer than the tokenizer's 600
  EXPECT_EQ(build_error(c),
            "--tokenizer " + tokenizer_dir() + " has 600 tokens, more than the model's 512");
}

TEST_F(engine_builder, assemble_checks_what_it_is_given) {
  auto tokenizer = load_tokenizer(tokenizer_dir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.message();
  auto runners = [](std::initializer_list<kv_cache_capacity> kvs) {
    std::vector<std::unique_ptr<model_runner>> list;
    for (auto kv : kvs)
      list.push_back(std::make_unique<geometry_runner>(kv.num_blocks, kv.block_size));
    return list;
  };
  engine_config c;
  auto built = assemble_engine(c, *tokenizer, runners({{64, 4}}), 512);
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->config.max_model_len, 256);  // 64 blocks of 4 tokens
  EXPECT_EQ(built->config.block_size, 4);       // the runner's
  EXPECT_EQ(built->config.max_num_batched_tokens, 2048);
  EXPECT_TRUE(built->model_path.empty());

  EXPECT_EQ(assemble_engine(c, nullptr, runners({{64, 4}}), 512).message(),
            "an engine needs a tokenizer");
  EXPECT_EQ(assemble_engine(c, *tokenizer, runners({}), 512).message(),
            "an engine needs a model runner");
  std::vector<std::unique_ptr<model_runner>> null_runner(1);
  EXPECT_FALSE(assemble_engine(c, *tokenizer, std::move(null_runner), 512).ok());
  EXPECT_EQ(assemble_engine(c, *tokenizer, runners({{64, 4}, {32, 4}}), 512).message(),
            "the model runners' KV caches differ: every rank must hold the same blocks");
  c.data_parallel_size = 2;
  EXPECT_EQ(assemble_engine(c, *tokenizer, runners({{64, 4}}), 512).message(),
            "--data-parallel-size 2 x --tensor-parallel-size 1 x --pipeline-parallel-size 1 "
            "needs as many runners (got 1)");
  EXPECT_TRUE(assemble_engine(c, *tokenizer, runners({{64, 4}, {64, 4}}), 512).ok());
  c.data_parallel_size = 1;
  c.block_size = 3;
  EXPECT_EQ(assemble_engine(c, *tokenizer, runners({{64, 4}}), 512).message(),
            "--block-size 3 is not supported: use a power of two from 1 to 256 (e.g. 16)");
}

}  // namespace
}  // namespace troupe::runtime
