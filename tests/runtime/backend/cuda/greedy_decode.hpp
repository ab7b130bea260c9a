#pragma once
// Greedy continuations of several prompts decoded together on one runner: one prompt step, then
// one decode step of every row per token (a CUDA graph on a GPU runner with graphs). Sequence s
// (ids from 1) gets its own blocks, enough for its prompt and `new_tokens` more.
#include <cstdint>
#include <vector>

#include "runtime/model_runner.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::testing {

inline std::vector<std::vector<int32_t>> decode_greedily(
    runtime::model_runner& runner, const std::vector<std::vector<int32_t>>& prompts,
    int32_t block_size, int32_t new_tokens) {
  std::vector<std::vector<int32_t>> tables, out(prompts.size());
  runtime::step_batch prefill;
  int32_t next_block = 0;
  for (size_t s = 0; s < prompts.size(); ++s) {
    tables.push_back({});
    for (int32_t b = 0; b * block_size < static_cast<int32_t>(prompts[s].size()) + new_tokens; ++b)
      tables.back().push_back(next_block++);
    prefill.token_ids.insert(prefill.token_ids.end(), prompts[s].begin(), prompts[s].end());
    prefill.seqs.push_back(
        seq_entry(s + 1, 0, static_cast<int32_t>(prompts[s].size()), tables.back()));
  }
  auto sampled = runner.execute(prefill);
  for (int32_t i = 1; i <= new_tokens; ++i) {
    runtime::step_batch step;
    for (size_t s = 0; s < prompts.size(); ++s) {
      out[s].push_back(sampled[s].token_id);
      if (i == new_tokens) continue;
      step.token_ids.push_back(sampled[s].token_id);
      step.seqs.push_back(
          seq_entry(s + 1, static_cast<int32_t>(prompts[s].size()) + i - 1, 1, tables[s]));
    }
    if (i < new_tokens) sampled = runner.execute(step);
  }
  return out;
}

}  // namespace troupe::testing
