// make_cuda_runners as the CUDA plugin runs it (runtime/serving/cuda/cuda_runners): the weights
// on the GPU, the profiled maximal step, the KV cache sized by --gpu-memory-utilization, the CUDA
// graphs captured at startup; then the runner serves prompt and decode steps whose greedy tokens
// equal the CPU runner's on the same f32 weights. A budget that cannot hold one request of
// --max-model-len is refused. Skips without a device (label gpu; runs under tools/cuda_emu).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/device.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/model/llama_checks.hpp"
#include "runtime/serving/cuda/cuda_runners.hpp"
#include "tests/runtime/model/greedy_decode.hpp"
#include "tests/runtime/model/tiny_gguf.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

constexpr int32_t block_size = 16, new_tokens = 12;

engine_config resolved_config(double gpu_memory_utilization) {
  engine_config c;
  c.max_model_len = 128;
  c.max_num_batched_tokens = 64;
  c.max_num_seqs = 4;
  c.gpu_memory_utilization = gpu_memory_utilization;
  return c;
}

kv_cache_plan plan_for(const llama_hparams& hp) {
  kv_cache_plan plan;
  plan.block_size = block_size;
  plan.dtype = backend::kv_cache_dtype::f32;
  plan.bytes_per_block =
      kv_cache_shape_for(hp, 1, block_size, backend::kv_cache_dtype::f32).bytes_per_block();
  return plan;
}

// Three prompts decoded together greedily (a CUDA graph of 4 rows on the GPU).
std::vector<std::vector<int32_t>> decode(model_runner& runner) {
  const std::vector<std::vector<int32_t>> prompts = {testing::random_tokens(5, 97, 1),
                                                     testing::random_tokens(17, 97, 2),
                                                     testing::random_tokens(9, 97, 3)};
  return testing::decode_greedily(runner, prompts, block_size, new_tokens);
}

TEST(cuda_runners, size_the_cache_capture_graphs_and_decode_as_the_cpu) {
  if (kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto hp = testing::tiny_hparams();
  const auto plan = plan_for(hp);
  auto made = make_runners_on_gpus(testing::tiny_llama(hp, 5), resolved_config(0.001), plan);
  ASSERT_TRUE(made.ok()) << made.message();
  ASSERT_EQ(made->runners.size(), 1u);
  model_runner& gpu = *made->runners.front();
  // At least one request of max_model_len; the runner holds exactly the planned blocks.
  EXPECT_GE(made->plan.num_blocks, 128 / block_size);
  EXPECT_EQ(gpu.num_kv_blocks(), made->plan.num_blocks);
  EXPECT_EQ(made->plan.bytes_per_block, plan.bytes_per_block);

  auto cpu = cpu_llama_runner::create(testing::tiny_llama(hp, 5), 64, block_size, 1);
  ASSERT_TRUE(cpu.ok()) << cpu.message();
  const auto expected = decode(**cpu);
  EXPECT_EQ(decode(gpu), expected);
}

// GGUF blocks (testing::encode_as_gguf_blocks): the profiled
// maximal step of 96 rows takes the f16 path, graphs of up to 72 rows are captured (those over 32
// rows on the f16 path too), and the decode steps follow the CPU's block path as vLLM compares
// two implementations (expect_logprobs_close).
TEST(cuda_runners, gguf_blocks_profile_capture_and_decode_as_the_cpu) {
  if (kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto hp = testing::tiny_hparams();
  auto weights = testing::tiny_llama(hp, 6);
  testing::encode_as_gguf_blocks(weights);
  auto config = resolved_config(0.001);
  config.max_num_batched_tokens = 96;
  config.max_num_seqs = 72;
  auto made = make_runners_on_gpus(weights, config, plan_for(hp));
  ASSERT_TRUE(made.ok()) << made.message();
  auto cpu = cpu_llama_runner::create(weights, 64, block_size, 1);
  ASSERT_TRUE(cpu.ok()) << cpu.message();
  const std::vector<std::vector<int32_t>> prompts = {testing::random_tokens(5, 97, 4),
                                                     testing::random_tokens(17, 97, 5),
                                                     testing::random_tokens(9, 97, 6)};
  const auto on_gpu =
      testing::decode_greedily_with_top(*made->runners.front(), prompts, block_size, new_tokens, 5);
  const auto on_cpu = testing::decode_greedily_with_top(**cpu, prompts, block_size, new_tokens, 5);
  testing::expect_logprobs_close(on_gpu, on_cpu);
}

// Speculative decoding: the maximal step profiled with its drafts' rows, then the same decoding.
TEST(cuda_runners, size_the_cache_after_a_drafting_step_and_decode_as_the_cpu) {
  if (kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto hp = testing::tiny_hparams();
  auto config = resolved_config(0.001);
  config.speculative = {4, 2, 4};
  auto made = make_runners_on_gpus(testing::tiny_llama(hp, 5), config, plan_for(hp));
  ASSERT_TRUE(made.ok()) << made.message();
  EXPECT_GE(made->plan.num_blocks, 128 / block_size);
  auto cpu = cpu_llama_runner::create(testing::tiny_llama(hp, 5), 64, block_size, 1);
  ASSERT_TRUE(cpu.ok()) << cpu.message();
  EXPECT_EQ(decode(*made->runners.front()), decode(**cpu));
}

// The profiled step is the largest the scheduler can send: with drafts, every sequence's rows
// after its drafts count (their logits and samples take device memory too). No device needed.
TEST(cuda_runners, the_profiled_step_has_the_sampled_rows_of_the_largest_drafting_step) {
  auto shape = [](int32_t max_num_seqs, int32_t budget, int32_t k) {
    engine_config c = resolved_config(0.5);
    c.max_num_seqs = max_num_seqs;
    c.max_num_batched_tokens = budget;
    c.speculative = {k, 2, 4};
    int32_t blocks = 0;
    const step_batch batch = profiling_step(c, block_size, 97, blocks);
    int32_t rows = 0, tokens = 0;
    for (const auto& seq : batch.seqs) {
      EXPECT_LE(seq.num_draft_tokens, k);
      EXPECT_LT(seq.num_draft_tokens, seq.num_tokens);
      EXPECT_TRUE(seq.sample);
      rows += 1 + seq.num_draft_tokens;
      tokens += seq.num_tokens;
    }
    EXPECT_EQ(tokens, budget);
    EXPECT_EQ(static_cast<int32_t>(batch.token_ids.size()), budget);
    EXPECT_TRUE(validate_step_batch(batch, block_size, blocks, 97).ok());
    return std::pair(static_cast<int32_t>(batch.seqs.size()), rows);
  };
  EXPECT_EQ(shape(4, 64, 0), std::pair(4, 4));
  EXPECT_EQ(shape(4, 64, 4), std::pair(4, 20));
  EXPECT_EQ(shape(16, 40, 4), std::pair(16, 40));  // the budget caps the drafts' rows
  EXPECT_EQ(shape(1, 64, 3), std::pair(1, 4));
}

// Data-parallel engines take their own GPUs (engine d's rank on GPU d): where two GPUs exist both
// engines decode as the CPU; with one (the lent machine, the emulator) startup is refused naming
// the count.
TEST(cuda_runners, data_parallel_engines_take_their_own_gpus) {
  const int devices = kernels::cuda::cuda_device_count();
  if (devices == 0) GTEST_SKIP() << "no CUDA device";
  const auto hp = testing::tiny_hparams();
  auto config = resolved_config(0.001);
  config.data_parallel_size = 2;
  auto made = make_runners_on_gpus(testing::tiny_llama(hp, 5), config, plan_for(hp));
  if (devices < 2) {
    ASSERT_FALSE(made.ok());
    EXPECT_EQ(made.message(),
              "--data-parallel-size 2 x --tensor-parallel-size 1 needs 2 GPUs; 1 found");
    return;
  }
  ASSERT_TRUE(made.ok()) << made.message();
  ASSERT_EQ(made->runners.size(), 2u);
  auto cpu = cpu_llama_runner::create(testing::tiny_llama(hp, 5), 64, block_size, 1);
  ASSERT_TRUE(cpu.ok()) << cpu.message();
  const auto expected = decode(**cpu);
  for (auto& runner : made->runners) {
    EXPECT_EQ(runner->num_kv_blocks(), made->plan.num_blocks);
    EXPECT_EQ(decode(*runner), expected);
  }
}

TEST(cuda_runners, refuse_a_cache_that_cannot_hold_one_request) {
  if (kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto hp = testing::tiny_hparams();
  auto made = make_runners_on_gpus(testing::tiny_llama(hp, 5), resolved_config(1e-9), plan_for(hp));
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.message().find("does not fit one request of --max-model-len 128"),
            std::string::npos)
      << made.message();
}

}  // namespace
}  // namespace troupe::runtime
