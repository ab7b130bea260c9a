// Prompt logprobs (sampling_params::num_prompt_logprobs) through the runner and the executor's
// sequence states: every prompt row is scored on the prompt token after it, with the logprob,
// rank and top logprobs that the sampling kernels give that row's logits, however the prompt
// is chunked and whatever else the step runs.
#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "kernels/cpu/sampling.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/sequence_states.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using testing::seq_entry;

constexpr int32_t num_top = 3;

std::unique_ptr<cpu_llama_runner> make_runner() {
  auto r = cpu_llama_runner::create(testing::tiny_llama(testing::tiny_hparams(), 5), 16, 4, 2);
  EXPECT_TRUE(r.ok()) << r.message();
  return std::move(*r);
}

// What the kernels say of `target` under the logits of the last row of prompt[0, end).
sampled_token expected_entry(cpu_llama_runner& runner, std::span<const int32_t> prompt,
                             int32_t end) {
  step_batch b;
  b.token_ids.assign(prompt.begin(), prompt.begin() + end);
  b.seqs = {seq_entry(9, 0, end, {10, 11, 12, 13})};
  const auto logits = runner.forward_logits(b);
  const auto cols = static_cast<int64_t>(logits.size());
  const int32_t target = prompt[end];
  const double lse = kernels::cpu::log_sum_exp(logits.data(), cols);
  sampled_token t{9, target, kernels::cpu::log_softmax_at(logits.data(), cols, target), {}};
  t.prompt_position = end;
  t.rank = kernels::cpu::logprob_rank(logits.data(), cols, target, lse);
  std::vector<int32_t> ids(num_top);
  std::vector<float> values(num_top);
  const int32_t n =
      kernels::cpu::top_logprobs(logits.data(), cols, num_top, ids.data(), values.data());
  for (int32_t j = 0; j < n; ++j)
    t.top_logprobs.emplace_back(ids[j], values[j]);
  return t;
}

void expect_same(const sampled_token& got, const sampled_token& want) {
  EXPECT_EQ(got.seq_id, want.seq_id);
  EXPECT_EQ(got.prompt_position, want.prompt_position);
  EXPECT_EQ(got.token_id, want.token_id) << "position " << want.prompt_position;
  EXPECT_EQ(got.logprob, want.logprob) << "position " << want.prompt_position;
  EXPECT_EQ(got.rank, want.rank) << "position " << want.prompt_position;
  EXPECT_EQ(got.top_logprobs, want.top_logprobs) << "position " << want.prompt_position;
}

// The prompt as the executor sees it: admitted with prompt logprobs, then chunks of `sizes`.
std::vector<sampled_token> run_prompt(cpu_llama_runner& runner, const std::vector<int32_t>& prompt,
                                      const std::vector<int32_t>& sizes) {
  sequence_states states;
  std::vector<sampled_token> all;
  int32_t start = 0;
  for (size_t c = 0; c < sizes.size(); ++c) {
    step_delta delta;
    if (c == 0) {
      seq_admission a;
      a.seq_id = 9;
      a.sampling.temperature = 0.0f;
      a.sampling.num_prompt_logprobs = num_top;
      a.num_prompt_tokens = static_cast<int32_t>(prompt.size());
      a.prompt_token_ids = prompt;
      delta.admitted.push_back(a);
    }
    const int32_t n = sizes[c];
    const bool last = start + n == static_cast<int32_t>(prompt.size());
    seq_chunk chunk{9, n, last, {}};
    if (c == 0) chunk.new_block_ids = {0, 1, 2, 3};
    delta.seqs.push_back(chunk);
    delta.token_ids.assign(prompt.begin() + start, prompt.begin() + start + n);
    auto batch = states.apply(delta);
    EXPECT_TRUE(batch.ok()) << batch.message();
    auto out = runner.execute(*batch);
    states.record_sampled(out);
    all.insert(all.end(), out.begin(), out.end());
    start += n;
  }
  return all;
}

TEST(prompt_logprobs, every_prompt_row_is_scored_on_the_next_prompt_token) {
  auto runner = make_runner();
  const std::vector<int32_t> prompt = {3, 14, 15, 92, 65, 35, 8};
  const auto out = run_prompt(*runner, prompt, {7});
  // The sampled token first, then positions 1 .. 6 (the last row samples, it scores nothing).
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[0].prompt_position, -1);
  for (int32_t p = 1; p < 7; ++p)
    expect_same(out[static_cast<size_t>(p)], expected_entry(*runner, prompt, p));
}

TEST(prompt_logprobs, a_chunks_last_row_is_scored_on_the_next_chunks_first_token) {
  auto runner = make_runner();
  const std::vector<int32_t> prompt = {3, 14, 15, 92, 65, 35, 8};
  const auto whole = run_prompt(*runner, prompt, {7});
  auto chunked = run_prompt(*runner, prompt, {3, 1, 3});
  // Chunks [0, 3) [3, 4) [4, 7): positions 1-3, 4, then the token and 5-6.
  ASSERT_EQ(chunked.size(), 7u);
  EXPECT_EQ(chunked[4].prompt_position, -1);
  EXPECT_EQ(chunked[4].token_id, whole[0].token_id);
  chunked.erase(chunked.begin() + 4);
  for (size_t i = 0; i < chunked.size(); ++i)
    expect_same(chunked[i], whole[i + 1]);
}

TEST(prompt_logprobs, other_sequences_of_the_step_are_unchanged_and_listed_first) {
  auto runner = make_runner();
  const std::vector<int32_t> prompt = {3, 14, 15, 92, 65};
  step_batch plain;
  plain.token_ids = {7, 7, 7};
  plain.seqs = {seq_entry(1, 0, 3, {4})};
  const auto alone = runner->execute(plain);

  step_batch mixed;
  mixed.token_ids = {3, 14, 15, 92, 7, 7, 7};
  mixed.seqs = {seq_entry(2, 0, 4, {0, 1}, false), seq_entry(1, 0, 3, {4})};
  mixed.seqs[0].sampling.num_prompt_logprobs = num_top;
  mixed.seqs[0].prompt_logprob_targets = std::span<const int32_t>(prompt).subspan(1, 4);
  const auto out = runner->execute(mixed);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].seq_id, 1u);
  EXPECT_EQ(out[0].token_id, alone[0].token_id);
  EXPECT_EQ(out[0].logprob, alone[0].logprob);
  for (int32_t p = 1; p <= 4; ++p) {
    auto want = expected_entry(*runner, prompt, p);
    want.seq_id = 2;
    expect_same(out[static_cast<size_t>(p)], want);
  }
}

TEST(prompt_logprobs, sequence_states_pass_the_targets_and_ignore_them_for_placeholders) {
  sequence_states states;
  step_delta first;
  seq_admission a;
  a.seq_id = 4;
  a.sampling.num_prompt_logprobs = 0;
  a.num_prompt_tokens = 4;
  a.prompt_token_ids = {10, 11, 12, 13};
  first.admitted.push_back(a);
  first.seqs.push_back({4, 2, false, {0}});
  first.token_ids = {10, 11};
  auto batch = states.apply(first);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(std::vector<int32_t>(batch->seqs[0].prompt_logprob_targets.begin(),
                                 batch->seqs[0].prompt_logprob_targets.end()),
            (std::vector<int32_t>{11, 12}));
  step_delta second;
  second.seqs.push_back({4, 2, true, {}});
  second.token_ids = {12, 13};
  batch = states.apply(second);
  ASSERT_TRUE(batch.ok()) << batch.message();
  // Position 3 is the last prompt token: its row samples and scores nothing.
  EXPECT_EQ(std::vector<int32_t>(batch->seqs[0].prompt_logprob_targets.begin(),
                                 batch->seqs[0].prompt_logprob_targets.end()),
            (std::vector<int32_t>{13}));
  sampled_token scored{4, 13, -1.0f, {}};
  scored.prompt_position = 3;
  states.record_sampled(std::vector<sampled_token>{{4, 50, 0.0f, {}}, scored});
  EXPECT_EQ(states.find(4)->last_sampled, 50);

  // A prompt that does not match its length is refused.
  step_delta bad;
  a.seq_id = 5;
  a.prompt_token_ids = {1, 2};
  bad.admitted.push_back(a);
  bad.seqs.push_back({5, 1, false, {1}});
  bad.token_ids = {1};
  EXPECT_FALSE(states.apply(bad).ok());
}

}  // namespace
}  // namespace troupe::runtime
