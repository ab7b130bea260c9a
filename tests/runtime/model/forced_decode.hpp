#pragma once
// A prompt prefilled in one step, then decode steps fed given tokens: the logits of every step, to
// compare two runners of one model (fp8 KV cache vs f32, W8A8 vs f32 weights) on the same tokens.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
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

// tiny_family_spec(family) written by make-model and loaded as a checkpoint (`tag` names the
// temporary directory).
inline runtime::llama_weights load_tiny_family(const std::string& family, const std::string& tag) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("troupe_" + tag + "_" + std::to_string(::getpid()) + "_" + family);
  EXPECT_TRUE(runtime::write_tiny_model(tiny_family_spec(family), dir.string()));
  auto w = runtime::load_hf_model(dir.string(), 1);
  fs::remove_all(dir);
  EXPECT_TRUE(w) << w.message();
  return std::move(w).value();
}

// Batch invariance of a runner configuration: a prompt a alone (on make(2), 2 compute threads),
// and in one step with a decode of b, a first chunk of c and a continued chunk of d (on make(3)):
// a's logits bitwise equal. make(threads) returns a runner of the model whose vocabulary is
// `vocab`, with at least 23 KV blocks of 8 tokens or more. Returns the mixed step's logits, rows
// b, a, c, d (d = random_tokens(18, vocab, 13), for callers that check a neighbour).
inline std::vector<float> expect_alone_equals_busy_batch(
    int32_t vocab, const std::function<std::unique_ptr<cpu_llama_runner>(int32_t)>& make) {
  const auto a = random_tokens(19, vocab, 10), b = random_tokens(30, vocab, 11),
             c = random_tokens(9, vocab, 12), d = random_tokens(18, vocab, 13);
  step_batch alone;
  alone.token_ids = a;
  alone.seqs = {seq_entry(0, 0, 19, {20, 21, 22})};
  const auto alone_logits = make(2)->forward_logits(alone);

  auto runner = make(3);
  step_batch warmup;  // b's first 29 tokens and d's first 10
  warmup.token_ids.assign(b.begin(), b.begin() + 29);
  warmup.token_ids.insert(warmup.token_ids.end(), d.begin(), d.begin() + 10);
  warmup.seqs = {seq_entry(1, 0, 29, {0, 1, 2, 3}), seq_entry(3, 0, 10, {4, 5}, false)};
  runner->forward_logits(warmup);
  step_batch mixed;
  mixed.token_ids = {b[29]};
  mixed.token_ids.insert(mixed.token_ids.end(), a.begin(), a.end());
  mixed.token_ids.insert(mixed.token_ids.end(), c.begin(), c.end());
  mixed.token_ids.insert(mixed.token_ids.end(), d.begin() + 10, d.end());
  mixed.seqs = {seq_entry(1, 29, 1, {0, 1, 2, 3}), seq_entry(0, 0, 19, {12, 7, 9}),
                seq_entry(2, 0, 9, {10, 11}), seq_entry(3, 10, 8, {4, 5, 6})};
  const auto logits = runner->forward_logits(mixed);
  const auto v = static_cast<size_t>(vocab);
  EXPECT_EQ(logits.size(), 4 * v);
  if (logits.size() != 4 * v || alone_logits.size() != v) return logits;
  EXPECT_EQ(std::memcmp(alone_logits.data(), logits.data() + v, v * sizeof(float)), 0)
      << "a prompt's logits differ alone and in a busy batch";
  return logits;
}

}  // namespace troupe::testing
