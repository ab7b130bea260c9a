#pragma once
// Test inputs for tensor parallelism: tiny models of every family with head counts that exercise
// each splitting rule, and scripted generations (prompt chunks, then greedy decodes) run through
// any forward.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::testing {

struct tiny_family {
  std::string name;
  runtime::llama_hparams hparams;
};

// vocab 97 divides by neither 2 nor 4 (the last vocab shard is padded).
inline std::vector<tiny_family> tiny_families() {
  std::vector<tiny_family> out;
  auto llama = tiny_hparams();  // 4 heads, 2 KV heads: split at 2, replicated at 4
  out.push_back({"llama", llama});
  auto mistral = tiny_hparams();  // head_dim 24 (not hidden / heads), sliding window, neox
  mistral.architecture = "mistral";
  mistral.head_dim = 24;
  mistral.sliding_window = 5;
  mistral.rope = runtime::rope_style::neox;
  out.push_back({"mistral", mistral});
  auto qwen2 = tiny_hparams();  // qkv bias, tied embeddings, one KV head: replicated on every rank
  qwen2.architecture = "qwen2";
  qwen2.num_kv_heads = 1;
  qwen2.attention_bias = true;
  qwen2.tie_word_embeddings = true;
  qwen2.rope = runtime::rope_style::neox;
  out.push_back({"qwen2", qwen2});
  return out;
}

// 6 heads in 3 KV groups, like SmolLM2-135M (9 in 3): two ranks hold 1 and 2 groups.
inline runtime::llama_hparams uneven_heads_hparams() {
  auto hp = tiny_hparams();
  hp.num_heads = 6;
  hp.num_kv_heads = 3;
  hp.intermediate_size = 96;
  return hp;
}

// tiny_llama with q/k/v biases when the family has them.
inline runtime::llama_weights tiny_model(const runtime::llama_hparams& hp, uint32_t seed) {
  auto w = tiny_llama(hp, seed);
  if (!hp.attention_bias) return w;
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
  auto random = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v)
      x = dist(rng);
    return v;
  };
  for (auto& lw : w.layers) {
    lw.bq = random(int64_t{hp.num_heads} * hp.head_dim);
    lw.bk = random(int64_t{hp.num_kv_heads} * hp.head_dim);
    lw.bv = random(int64_t{hp.num_kv_heads} * hp.head_dim);
  }
  return w;
}

// One scripted generation: its prompt, fed `chunk` tokens a step from step `start_step`, then
// greedy decodes; sequence i owns blocks [8 i, 8 i + 8) of 4 tokens.
struct scripted_seq {
  uint64_t id = 0;
  int32_t start_step = 0;
  int32_t chunk = 4;
  std::vector<int32_t> tokens;  // prompt, then the greedy tokens
  int32_t num_computed = 0;
};

constexpr int32_t script_block_size = 4;
constexpr int32_t script_blocks_per_seq = 8;

// What one step produced: the sampled sequences' ids and logits rows.
struct scripted_step {
  std::vector<uint64_t> ids;
  std::vector<float> logits;  // [ids.size()][vocab]
};

using forward_fn = std::function<std::vector<float>(const runtime::step_batch&)>;

// Runs `num_steps` steps of `seqs` through `forward`, feeding each sampled row's argmax back.
inline std::vector<scripted_step> run_script(std::vector<scripted_seq> seqs, int32_t vocab,
                                             int32_t num_steps, const forward_fn& forward) {
  std::vector<scripted_step> out;
  for (int32_t step = 0; step < num_steps; ++step) {
    runtime::step_batch batch;
    std::vector<scripted_seq*> sampled;
    for (size_t i = 0; i < seqs.size(); ++i) {
      auto& s = seqs[i];
      if (step < s.start_step) continue;
      const auto total = static_cast<int32_t>(s.tokens.size());
      const int32_t n = std::min(s.chunk, total - s.num_computed);
      std::vector<int32_t> blocks;
      for (int32_t b = 0; b < script_blocks_per_seq; ++b)
        blocks.push_back(static_cast<int32_t>(i) * script_blocks_per_seq + b);
      const bool sample = s.num_computed + n == total;
      batch.seqs.push_back(seq_entry(s.id, s.num_computed, n, blocks, sample));
      batch.token_ids.insert(batch.token_ids.end(), s.tokens.begin() + s.num_computed,
                             s.tokens.begin() + s.num_computed + n);
      s.num_computed += n;
      if (sample) sampled.push_back(&s);
    }
    scripted_step result;
    result.logits = forward(batch);
    for (size_t k = 0; k < sampled.size(); ++k) {
      const auto row = result.logits.begin() + static_cast<int64_t>(k) * vocab;
      sampled[k]->tokens.push_back(static_cast<int32_t>(std::max_element(row, row + vocab) - row));
      result.ids.push_back(sampled[k]->id);
    }
    out.push_back(std::move(result));
  }
  return out;
}

// Three generations that overlap: chunked prompts, decodes beside prompts, one joining late.
inline std::vector<scripted_seq> busy_script(int32_t vocab) {
  return {{1, 0, 4, random_tokens(11, vocab, 1)},
          {2, 1, 8, random_tokens(6, vocab, 2)},
          {3, 3, 2, random_tokens(3, vocab, 3)}};
}

// One step of a whole prompt: sequence `id` from position 0, in blocks first_block.. +2.
inline runtime::step_batch prompt_step(uint64_t id, const std::vector<int32_t>& tokens,
                                       int32_t first_block) {
  runtime::step_batch b;
  b.token_ids = tokens;
  b.seqs.push_back(seq_entry(id, 0, static_cast<int32_t>(tokens.size()),
                             {first_block, first_block + 1, first_block + 2}));
  return b;
}

// log_softmax of one logits row, in double.   row [n]
inline std::vector<double> log_softmax(const float* row, int32_t n) {
  double mx = row[0], sum = 0.0;
  for (int32_t i = 0; i < n; ++i)
    mx = std::max(mx, static_cast<double>(row[i]));
  for (int32_t i = 0; i < n; ++i)
    sum += std::exp(row[i] - mx);
  std::vector<double> out(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    out[i] = row[i] - mx - std::log(sum);
  return out;
}

}  // namespace troupe::testing
