// The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) on the GPU against the CPU: three prompts
// decoded greedily together, the GPU's tokens (CUDA graphs on, the device's argmax) against the
// CPU backend's on the same weights dequantized to f32 (the GPU decodes GGUF blocks to f32 at
// load, so both run the same f32 model; their logits differ only in summation order). The CPU's
// own block path (Q4_1 x 8-bit activations, as served on the CPU) is the same model with other
// numerics: how often its tokens agree is printed, not asserted. Needs a GPU and the model
// (tools/setup.sh; on the GPU machine, tools/gpu_check.sh places it when the bundle carries it).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "kernels/cuda/device.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/llama_runner.hpp"
#include "tests/runtime/backend/cuda/greedy_decode.hpp"
#include "tests/runtime/model/tiny_llama.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

constexpr int32_t num_blocks = 64, block_size = 16, new_tokens = 24;

// "The capital of France is" (llama.cpp's tokens; its greedy next token on the f32 model is
// 7042, " Paris"), and two more prompts of the model's vocabulary.
const std::vector<std::vector<int32_t>> prompts = {
    {504, 3575, 282, 4649, 314},
    {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3717, 314},
    {504, 1069, 30, 1675, 282, 260, 1528, 335},
};

// Greedy continuations of every prompt, decoded together (three rows: a CUDA graph of 4 rows on
// the GPU).
std::vector<std::vector<int32_t>> decode(llama_runner& runner) {
  return testing::decode_greedily(runner, prompts, block_size, new_tokens);
}

TEST(cuda_default_model, greedy_tokens_equal_the_cpus_on_the_same_f32_weights) {
  if (kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const auto path = testing::default_model_gguf();
  if (path.empty()) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  auto file = gguf_file::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  auto stored = load_llama_gguf(**file);
  ASSERT_TRUE(stored.ok()) << stored.message();
  auto f32 = *stored;
  apply_weight_dtype(f32, weight_dtype::float32);

  auto created = backend::cuda_backend::create(0);
  ASSERT_TRUE(created.ok()) << created.message();
  backend::cuda_backend* gpu_backend = created->get();
  gpu_backend->enable_graphs(8);
  auto gpu = llama_runner::create(std::move(*created), *stored, num_blocks, block_size);
  auto cpu =
      llama_runner::create(std::make_unique<backend::cpu_backend>(2), f32, num_blocks, block_size);
  auto blocks = llama_runner::create(std::make_unique<backend::cpu_backend>(2), *stored, num_blocks,
                                     block_size);
  ASSERT_TRUE(gpu.ok() && cpu.ok() && blocks.ok());

  const auto on_gpu = decode(**gpu);
  const auto on_cpu = decode(**cpu);
  EXPECT_EQ(on_cpu[0][0], 7042);  // " Paris", as llama.cpp on the f32 model
  for (size_t s = 0; s < prompts.size(); ++s)
    EXPECT_EQ(on_gpu[s], on_cpu[s]) << "prompt " << s;
  EXPECT_GT(gpu_backend->graph_counters().replays, 0);

  // Past a first difference the texts differ, so only the common prefixes count.
  const auto on_blocks = decode(**blocks);
  std::printf("the CPU's Q4_1 block path: same first tokens as the GPU's (of %d) per prompt:",
              new_tokens);
  for (size_t s = 0; s < prompts.size(); ++s) {
    size_t same = 0;
    while (same < on_blocks[s].size() && on_blocks[s][same] == on_gpu[s][same])
      ++same;
    std::printf(" %zu", same);
  }
  std::printf("\n");
}

}  // namespace
}  // namespace troupe::runtime
