#pragma once
// Greedy continuations of several prompts decoded together on one runner: one prompt step, then
// one decode step of every row per token (a CUDA graph on a GPU runner with graphs). Sequence s
// (ids from 1) gets its own blocks, enough for its prompt and `new_tokens` more.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "runtime/model_runner.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::testing {

// Each prompt's sampled tokens, each with its num_top_logprobs most likely alternatives.
inline std::vector<std::vector<runtime::sampled_token>> decode_greedily_with_top(
    runtime::model_runner& runner, const std::vector<std::vector<int32_t>>& prompts,
    int32_t block_size, int32_t new_tokens, int32_t num_top_logprobs) {
  std::vector<std::vector<int32_t>> tables;
  std::vector<std::vector<runtime::sampled_token>> out(prompts.size());
  const auto entry = [&](size_t s, int32_t start, int32_t n) {
    auto e = seq_entry(s + 1, start, n, tables[s]);
    e.sampling.logprobs = num_top_logprobs > 0;
    e.sampling.num_top_logprobs = num_top_logprobs;
    return e;
  };
  runtime::step_batch prefill;
  int32_t next_block = 0;
  for (size_t s = 0; s < prompts.size(); ++s) {
    tables.push_back({});
    for (int32_t b = 0; b * block_size < static_cast<int32_t>(prompts[s].size()) + new_tokens; ++b)
      tables.back().push_back(next_block++);
    prefill.token_ids.insert(prefill.token_ids.end(), prompts[s].begin(), prompts[s].end());
    prefill.seqs.push_back(entry(s, 0, static_cast<int32_t>(prompts[s].size())));
  }
  auto sampled = runner.execute(prefill);
  for (int32_t i = 1; i <= new_tokens; ++i) {
    runtime::step_batch step;
    for (size_t s = 0; s < prompts.size(); ++s) {
      out[s].push_back(sampled[s]);
      if (i == new_tokens) continue;
      step.token_ids.push_back(sampled[s].token_id);
      step.seqs.push_back(entry(s, static_cast<int32_t>(prompts[s].size()) + i - 1, 1));
    }
    if (i < new_tokens) sampled = runner.execute(step);
  }
  return out;
}

inline std::vector<std::vector<int32_t>> decode_greedily(
    runtime::model_runner& runner, const std::vector<std::vector<int32_t>>& prompts,
    int32_t block_size, int32_t new_tokens) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& row : decode_greedily_with_top(runner, prompts, block_size, new_tokens, 0)) {
    out.emplace_back();
    for (const auto& t : row)
      out.back().push_back(t.token_id);
  }
  return out;
}

// vLLM's check_logprobs_close for two runs of decode_greedily_with_top: every prompt's tokens are
// the same up to their first difference, where each run's token is among the other's top
// logprobs. Returns how many leading tokens each prompt's runs share.
inline std::vector<size_t> expect_logprobs_close(
    const std::vector<std::vector<runtime::sampled_token>>& a,
    const std::vector<std::vector<runtime::sampled_token>>& b) {
  const auto among = [](int32_t token, const runtime::sampled_token& t) {
    for (const auto& [id, logprob] : t.top_logprobs)
      if (id == token) return true;
    return false;
  };
  std::vector<size_t> same(a.size(), 0);
  EXPECT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size() && s < b.size(); ++s) {
    EXPECT_EQ(a[s].size(), b[s].size()) << "prompt " << s;
    size_t& i = same[s];
    while (i < a[s].size() && i < b[s].size() && a[s][i].token_id == b[s][i].token_id)
      ++i;
    if (i == a[s].size() || i == b[s].size()) continue;
    EXPECT_TRUE(among(a[s][i].token_id, b[s][i]))
        << "prompt " << s << " token " << i << ": " << a[s][i].token_id
        << " is not among the other run's top logprobs";
    EXPECT_TRUE(among(b[s][i].token_id, a[s][i]))
        << "prompt " << s << " token " << i << ": " << b[s][i].token_id
        << " is not among the other run's top logprobs";
  }
  return same;
}

}  // namespace troupe::testing
