#pragma once
// A prompt prefilled in one step, then decode steps fed given tokens: the logits of every step, to
// compare two runners of one model (fp8 KV cache vs f32, W8A8 vs f32 weights) on the same tokens.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/formats/hf_make_model.hpp"
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

// make-model's tiny model of `family` that the comparisons use: Mistral with head_dim 24 and a
// sliding window of 7, Qwen2 with tied embeddings.
inline runtime::tiny_model_spec tiny_family_spec(const std::string& family) {
  runtime::tiny_model_spec spec;
  spec.family = family;
  spec.seed = 11;
  spec.head_dim = family == "mistral" ? 24 : 0;
  spec.sliding_window = family == "mistral" ? 7 : 0;
  spec.tie_word_embeddings = family == "qwen2";
  return spec;
}

// `reference` and `other` run one model's 24-token prompt and 8 decode steps fed the reference's
// greedy tokens; returns the largest |log-prob difference| over every vocabulary entry of every
// step, and expects the same greedy choice wherever the reference's top two are `near_tie`
// nats apart or more.
inline double max_logprob_diff(cpu_llama_runner& reference, cpu_llama_runner& other,
                               int32_t vocab_size, double near_tie) {
  const auto prompt = random_tokens(24, vocab_size, 3);
  const std::vector<int32_t> blocks = {9, 2, 30, 5, 17};
  const auto forced = greedy_tokens(reference, prompt, 8, blocks);
  const auto want = run_forced(reference, prompt, forced, blocks);
  const auto got = run_forced(other, prompt, forced, blocks);
  double max_diff = 0;
  for (size_t s = 0; s < want.size() && s < got.size(); ++s) {
    const auto a = log_softmax(got[s]), b = log_softmax(want[s]);
    auto top = b;
    std::partial_sort(top.begin(), top.begin() + 2, top.end(), std::greater<>());
    if (top[0] - top[1] >= near_tie) {
      EXPECT_EQ(argmax(got[s]), argmax(want[s])) << "step " << s;
    }
    for (size_t v = 0; v < a.size(); ++v)
      max_diff = std::max(max_diff, std::abs(a[v] - b[v]));
  }
  EXPECT_EQ(got.size(), want.size());
  return max_diff;
}

}  // namespace troupe::testing
