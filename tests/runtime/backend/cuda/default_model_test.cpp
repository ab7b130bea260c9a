// The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) on the GPU against the CPU: three prompts
// decoded greedily together, with CUDA graphs and the device's sampling.
//   - The model dequantized to f32 on both (the reference numerics): the same tokens, their
//     logits differing only in summation order (llama.cpp's " Paris" first).
//   - The GGUF blocks on both (as served): every matrix product is the same bits
//     (kernels/cuda/quant_gemm.hpp), but attention's and the norms' summation orders move the
//     activations by an ulp, and an activation next to a rounding boundary of its int8 block
//     then takes the other code, so a near-tie between two tokens can break the other way and
//     the texts part. Compared as vLLM compares two implementations (check_logprobs_close): up
//     to the first different token every token is the same, and there each side's token is
//     among the other's 5 most likely.
// Needs a GPU and the model (tools/setup.sh; on the GPU machine, tools/gpu_check.sh places it when
// the bundle carries it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "kernels/cuda/device.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/llama_runner.hpp"
#include "tests/runtime/model/greedy_decode.hpp"
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

// The stored model, or (f32) the same dequantized: CPU and GPU runners.
struct runners {
  std::unique_ptr<llama_runner> gpu, cpu;
  backend::cuda_backend* gpu_backend = nullptr;
};

runners make_runners(bool f32) {
  runners r;
  const auto path = testing::default_model_gguf();
  auto file = gguf_file::open(path);
  EXPECT_TRUE(file.ok()) << file.message();
  if (!file.ok()) return r;
  auto weights = load_llama_gguf(**file);
  EXPECT_TRUE(weights.ok()) << weights.message();
  if (!weights.ok()) return r;
  if (f32) apply_weight_dtype(*weights, weight_dtype::float32);
  auto created = backend::cuda_backend::create(0);
  EXPECT_TRUE(created.ok()) << created.message();
  if (!created.ok()) return r;
  r.gpu_backend = created->get();
  r.gpu_backend->enable_graphs(8);
  auto gpu = llama_runner::create(std::move(*created), *weights, num_blocks, block_size);
  auto cpu = llama_runner::create(std::make_unique<backend::cpu_backend>(2), *weights, num_blocks,
                                  block_size);
  EXPECT_TRUE(gpu.ok() && cpu.ok());
  if (gpu.ok() && cpu.ok()) {
    r.gpu = std::move(*gpu);
    r.cpu = std::move(*cpu);
  }
  return r;
}

#define SKIP_WITHOUT_GPU_OR_MODEL()                                              \
  if (kernels::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"; \
  if (testing::default_model_gguf().empty())                                     \
  GTEST_SKIP() << "default model not fetched (tools/setup.sh)"

TEST(cuda_default_model, greedy_tokens_equal_the_cpus_on_the_same_f32_weights) {
  SKIP_WITHOUT_GPU_OR_MODEL();
  auto r = make_runners(true);
  ASSERT_TRUE(r.gpu && r.cpu);
  const auto on_gpu = decode(*r.gpu);
  const auto on_cpu = decode(*r.cpu);
  EXPECT_EQ(on_cpu[0][0], 7042);  // " Paris", as llama.cpp on the f32 model
  for (size_t s = 0; s < prompts.size(); ++s)
    EXPECT_EQ(on_gpu[s], on_cpu[s]) << "prompt " << s;
  EXPECT_GT(r.gpu_backend->graph_counters().replays, 0);
}

TEST(cuda_default_model, gguf_block_tokens_match_the_cpus_as_vllm_compares_logprobs) {
  SKIP_WITHOUT_GPU_OR_MODEL();
  auto r = make_runners(false);
  ASSERT_TRUE(r.gpu && r.cpu);
  constexpr int32_t top = 5;
  const auto on_gpu =
      testing::decode_greedily_with_top(*r.gpu, prompts, block_size, new_tokens, top);
  const auto on_cpu =
      testing::decode_greedily_with_top(*r.cpu, prompts, block_size, new_tokens, top);
  const auto same = testing::expect_logprobs_close(on_gpu, on_cpu);
  std::printf("GGUF blocks, GPU against CPU: same tokens (of %d) per prompt:", new_tokens);
  for (size_t s = 0; s < prompts.size(); ++s) {
    float largest = 0.0f;  // |logprob difference| of the tokens both chose
    for (size_t i = 0; i < same[s]; ++i)
      largest = std::max(largest, std::fabs(on_gpu[s][i].logprob - on_cpu[s][i].logprob));
    std::printf(" %zu (logprobs within %.2g)", same[s], static_cast<double>(largest));
  }
  std::printf("\n");
  EXPECT_GT(r.gpu_backend->graph_counters().replays, 0);
}

}  // namespace
}  // namespace troupe::runtime
