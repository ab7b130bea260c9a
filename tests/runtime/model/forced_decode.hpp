#pragma once
// A prompt prefilled in one step, then decode steps fed given tokens: the logits of every step, to
// compare two runners of one model (fp8 KV cache vs f32, W8A8 vs f32 weights) on the same tokens.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/model/cpu_runner.hpp"
#include "tests/runtime/model/tensor_parallel_scripts.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::testing {

using runtime::cpu_llama_runner;
using runtime::step_batch;

inline std::vector<double> log_softmax(const std::vector<float>& logits) {
  return log_softmax(logits.data(), static_cast<int32_t>(logits.size()));
}

inline int32_t argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// A prompt prefilled in one step, then one decode step per forced token: the logits of each step.
inline std::vector<std::vector<float>> run_forced(cpu_llama_runner& runner,
                                                  const std::vector<int32_t>& prompt,
                                                  const std::vector<int32_t>& forced,
                                                  const std::vector<int32_t>& blocks) {
  std::vector<std::vector<float>> out;
  step_batch b;
  b.token_ids = prompt;
  b.seqs.push_back(seq_entry(1, 0, static_cast<int32_t>(prompt.size()), blocks));
  out.push_back(runner.forward_logits(b));
  auto pos = static_cast<int32_t>(prompt.size());
  for (int32_t token : forced) {
    b.token_ids = {token};
    b.seqs = {seq_entry(1, pos++, 1, blocks)};
    out.push_back(runner.forward_logits(b));
  }
  return out;
}

// The f32 runner's greedy continuation of `prompt`.
inline std::vector<int32_t> greedy_tokens(cpu_llama_runner& runner,
                                          const std::vector<int32_t>& prompt, int32_t steps,
                                          const std::vector<int32_t>& blocks) {
  std::vector<int32_t> tokens;
  for (int32_t s = 0; s < steps; ++s)
    tokens.push_back(argmax(run_forced(runner, prompt, tokens, blocks).back()));
  return tokens;
}

}  // namespace troupe::testing
