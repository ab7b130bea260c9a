// Sampling on the CUDA backend: sample_rows draws the host's tokens from the same logits, and a
// decode step that ends in drafts (speculative decoding) keeps the drafts its rows sample. Needs a
// GPU (skips without one; runs under tools/cuda_emu).
#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/model/llama_runner.hpp"
#include "runtime/model/sampler.hpp"
#include "tests/runtime/backend/cuda/cuda_test_runners.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using backend::cuda_backend;
using backend::kv_cache_dtype;
using testing::argmax;
using testing::have_gpu;
using testing::make_graph_runner;
using testing::make_runner;
using testing::seq_entry;

// Sampling on the device (sample_rows after eager prompt steps and replayed decode graphs): every
// row's token is the host's sample_token of the same logits, bit for bit
// (kernels/cpu/sampling.hpp), logits processors included (min_tokens, penalties over the history,
// logit_bias: edits applied on the device), and its logprob and top logprobs the host's.
TEST(cuda_backend, sampled_tokens_are_the_hosts_draws_from_the_same_logits) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const auto w = testing::tiny_llama(testing::tiny_hparams(), 29);
  const int32_t vocab = w.hparams.vocab_size;
  cuda_backend* gpu_backend = nullptr;
  auto gpu = make_graph_runner(w, 4, gpu_backend);
  ASSERT_TRUE(gpu);
  std::vector<sampling_params> params(3);
  params[0].temperature = 0.8f;
  params[0].top_p = 0.9f;
  params[0].seed = 11;
  params[0].logprobs = true;
  params[0].min_tokens = 3;
  params[0].min_tokens_stop_ids = {1, 2};
  params[1].temperature = 1.5f;
  params[1].repetition_penalty = 1.3f;
  params[1].frequency_penalty = 0.2f;
  params[1].top_k = 7;
  params[1].min_p = 0.05f;
  params[1].seed = 12;
  params[2].temperature = 1.0f;
  params[2].seed = 13;
  params[2].logit_bias = {{5, 2.0f}, {9, -1.0f}};
  params[2].logprobs = true;
  params[2].num_top_logprobs = 4;

  const std::vector<int32_t> prompt_len = {4, 5, 3};
  const std::vector<std::vector<int32_t>> tables = {{1, 4, 6}, {0, 2, 7}, {3, 5, 8}};
  std::vector<int32_t> pos(3, 0), next(3, 0);
  std::vector<std::vector<int32_t>> history(3);  // prompt, then outputs
  const auto prompts = testing::random_tokens(12, vocab, 8);
  int drawn_off_argmax = 0;
  for (int32_t step = 0; step < 6; ++step) {
    step_batch batch;
    size_t at = 0;
    for (size_t s = 0; s < 3; ++s) {
      const int32_t n = step == 0 ? prompt_len[s] : 1;
      if (step == 0) {
        batch.token_ids.insert(batch.token_ids.end(), prompts.begin() + at,
                               prompts.begin() + at + n);
        history[s].assign(prompts.begin() + at, prompts.begin() + at + n);
        at += n;
      } else {
        batch.token_ids.push_back(next[s]);
      }
      auto e = seq_entry(s + 1, pos[s], n, tables[s]);
      e.sampling = params[s];
      e.output_index = step;
      e.token_history = history[s];
      batch.seqs.push_back(std::move(e));
      pos[s] += n;
    }
    // The same step twice: its logits, then its tokens (the cache gets the same K/V again).
    const auto logits = gpu->forward_logits(batch);
    const auto out = gpu->execute(batch);
    ASSERT_EQ(out.size(), 3u);
    for (size_t s = 0; s < 3; ++s) {
      const std::span<const float> row(logits.data() + s * size_t(vocab), size_t(vocab));
      const auto want = sample_token(row, params[s], step, history[s]);
      EXPECT_EQ(out[s].token_id, want.token_id) << "step " << step << " row " << s;
      EXPECT_NEAR(out[s].logprob, want.logprob, 1e-5) << "step " << step << " row " << s;
      ASSERT_EQ(out[s].top_logprobs.size(), want.top_logprobs.size()) << "step " << step;
      for (size_t j = 0; j < want.top_logprobs.size(); ++j) {
        EXPECT_EQ(out[s].top_logprobs[j].first, want.top_logprobs[j].first) << "step " << step;
        EXPECT_NEAR(out[s].top_logprobs[j].second, want.top_logprobs[j].second, 1e-5);
      }
      drawn_off_argmax += out[s].token_id != argmax(logits, s * size_t(vocab), size_t(vocab));
      next[s] = out[s].token_id;
    }
    for (size_t s = 0; s < 3; ++s)
      history[s].push_back(next[s]);
  }
  EXPECT_GT(drawn_off_argmax, 0);  // the draws did sample
  EXPECT_GT(gpu_backend->graph_counters().replays, 0);
}

// Speculative decoding on the device: a decode step that ends in drafts samples a row after each
// (one sampled row per draft, eagerly: not a graph's decode-only shape) and keeps the drafts up
// to the first its own greedy row disagrees with, that row's token included. The drafts are the
// CPU's greedy continuation (kept whole where the GPU agrees), and for a second sequence the same
// with a wrong second draft.
TEST(cuda_backend, drafted_steps_keep_the_drafts_their_rows_sample) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const auto w = testing::tiny_llama(testing::tiny_hparams(), 31);
  const int32_t vocab = w.hparams.vocab_size;
  auto cpu = make_runner(std::make_unique<backend::cpu_backend>(2), w, kv_cache_dtype::f32);
  cuda_backend* gpu_backend = nullptr;
  auto gpu = make_graph_runner(w, 4, gpu_backend);
  ASSERT_TRUE(cpu && gpu);
  const auto prompt = testing::random_tokens(6, vocab, 5);
  // The CPU's greedy continuation, one token a step: t[0] after the prompt, then t[1] ... t[3].
  std::vector<int32_t> t;
  step_batch prefill;
  prefill.token_ids = prompt;
  prefill.seqs = {seq_entry(1, 0, 6, {0, 1, 2})};
  t.push_back(cpu->execute(prefill).at(0).token_id);
  for (int32_t i = 0; i < 3; ++i) {
    step_batch decode;
    decode.token_ids = {t.back()};
    decode.seqs = {seq_entry(1, 6 + i, 1, {0, 1, 2})};
    decode.seqs[0].output_index = i + 1;
    t.push_back(cpu->execute(decode).at(0).token_id);
  }
  // Two sequences with the same prompt on the GPU, then each drafts three tokens after t[0].
  step_batch both;
  both.token_ids = prompt;
  both.token_ids.insert(both.token_ids.end(), prompt.begin(), prompt.end());
  both.seqs = {seq_entry(1, 0, 6, {0, 1, 2}), seq_entry(2, 0, 6, {3, 4, 5})};
  const auto first = gpu->execute(both);
  ASSERT_EQ(first.size(), 2u);
  const int32_t wrong = (t[2] + 1) % vocab;
  step_batch drafted;
  drafted.token_ids = {t[0], t[1], t[2], t[3], t[0], t[1], wrong, t[3]};
  drafted.seqs = {seq_entry(1, 6, 4, {0, 1, 2}), seq_entry(2, 6, 4, {3, 4, 5})};
  for (auto& seq : drafted.seqs) {
    seq.num_draft_tokens = 3;
    seq.output_index = 1;
  }
  // The same step twice: its rows' logits (4 a sequence), then its tokens (the same K/V again).
  const auto logits = gpu->forward_logits(drafted);
  ASSERT_EQ(logits.size(), 8u * static_cast<size_t>(vocab));
  const auto out = gpu->execute(drafted);
  std::vector<int32_t> kept[3];
  for (const auto& token : out)
    kept[token.seq_id].push_back(token.token_id);
  for (size_t s = 0; s < 2; ++s) {
    std::vector<int32_t> rows;
    for (size_t r = 0; r < 4; ++r)
      rows.push_back(
          argmax(logits, (4 * s + r) * static_cast<size_t>(vocab), static_cast<size_t>(vocab)));
    const auto drafts = std::span<const int32_t>(drafted.token_ids).subspan(4 * s + 1, 3);
    const auto n = static_cast<size_t>(accept_draft_tokens(drafts, rows));
    EXPECT_EQ(kept[s + 1], std::vector<int32_t>(rows.begin(), rows.begin() + n)) << s;
  }
}

}  // namespace
}  // namespace troupe::runtime
