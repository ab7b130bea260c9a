// Every logits processor against hand-computed rows, and the sampler pipeline around them.
#include "runtime/model/logits_processors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "runtime/model/sampler.hpp"

namespace troupe::runtime {
namespace {

constexpr float inf = std::numeric_limits<float>::infinity();

sampling_params with_extras(std::vector<std::pair<int32_t, float>> bias,
                            std::vector<int32_t> stops = {}, int32_t min_tokens = 0) {
  sampling_params p;
  p.logit_bias = std::move(bias);
  p.min_tokens_stop_ids = std::move(stops);
  p.min_tokens = min_tokens;
  return p;
}

TEST(logits_processors, min_tokens_masks_stop_tokens_until_enough_outputs) {
  const auto p = with_extras({}, {0, 3, 500}, 2);  // 500 is outside the row: ignored
  for (int32_t output_index : {0, 1, 2}) {
    std::vector<float> row = {1, 2, 3, 4};
    apply_min_tokens(row, p, output_index);
    if (output_index < 2) {
      EXPECT_EQ(row, (std::vector<float>{-inf, 2, 3, -inf}));
    } else {
      EXPECT_EQ(row, (std::vector<float>{1, 2, 3, 4}));
    }
  }
  EXPECT_TRUE(has_logits_processors(p, 1));
  EXPECT_FALSE(has_logits_processors(p, 2));
}

TEST(logits_processors, logit_bias_adds_to_the_named_tokens) {
  std::vector<float> row = {1, 2, 3, 4};
  apply_logit_bias(row, with_extras({{1, -100.0f}, {3, 0.5f}, {-1, 7.0f}, {4, 7.0f}}));
  EXPECT_EQ(row, (std::vector<float>{1, -98, 3, 4.5f}));
}

TEST(logits_processors, repetition_penalty_divides_positive_and_multiplies_negative) {
  sampling_params p;
  p.repetition_penalty = 2.0f;
  std::vector<float> row = {4, -4, 4, -4, 1};
  const std::vector<int32_t> prompt = {0, 1};
  const std::vector<int32_t> output = {3, 3};
  apply_penalties(row, p, prompt, output);
  EXPECT_EQ(row, (std::vector<float>{2, -8, 4, -8, 1}));
}

TEST(logits_processors, frequency_and_presence_apply_to_output_tokens_only) {
  sampling_params p;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  std::vector<float> row = {1, 1, 1, 1};
  const std::vector<int32_t> prompt = {0, 0, 0};
  const std::vector<int32_t> output = {2, 1, 2, 2};
  apply_penalties(row, p, prompt, output);
  // token 1: once -> 1 - 0.5 - 0.25; token 2: three times -> 1 - 1.5 - 0.25.
  EXPECT_EQ(row, (std::vector<float>{1, 0.25f, -0.75f, 1}));
}

TEST(logits_processors, negative_penalties_encourage_repeats) {
  sampling_params p;
  p.presence_penalty = -2.0f;
  std::vector<float> row = {0, 0};
  apply_penalties(row, p, {}, std::vector<int32_t>{1});
  EXPECT_EQ(row, (std::vector<float>{0, 2}));
}

TEST(logits_processors, order_is_min_tokens_bias_then_penalties) {
  auto p = with_extras({{0, 2.0f}, {1, 3.0f}}, {1}, 1);
  p.repetition_penalty = 2.0f;
  std::vector<float> row = {-1, 5, 3};
  const std::vector<int32_t> history = {0};
  apply_logits_processors(row, p, 0, history, {});
  // token 0: (-1 + 2) = 1 > 0, then / 2; token 1 masked; token 2 untouched.
  EXPECT_EQ(row, (std::vector<float>{0.5f, -inf, 3}));
}

// The edits a backend applies (append_logit_edits + kernels::cpu::apply_edit) give the processors'
// row bit for bit: random rows (signed logits, NaN, infinities), histories with repeats and ids
// outside the row, every processor on and off.
TEST(logits_processors, edits_give_the_processors_row_bit_for_bit) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> logit(-8.0f, 8.0f);
  std::uniform_int_distribution<int32_t> token(0, 40);  // up to 40: some outside a 37-wide row
  const int32_t vocab = 37;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<float> row(vocab);
    for (float& l : row)
      l = logit(rng);
    row[trial % vocab] = trial % 7 == 0   ? std::nanf("")
                         : trial % 5 == 0 ? -inf
                                          : row[trial % vocab];
    sampling_params p;
    if (trial % 2) p.repetition_penalty = trial % 4 == 1 ? 1.3f : 0.7f;
    if (trial % 3) p.frequency_penalty = 0.35f * static_cast<float>(trial % 3) - 0.4f;
    if (trial % 5) p.presence_penalty = trial % 5 == 1 ? -0.6f : 0.45f;
    if (trial % 4 == 0) {
      const int32_t id = token(rng);  // two distinct ids (a repeated one sums its biases first)
      p.logit_bias = {{id, 3.5f}, {(id + 1) % 41, -2.25f}};
    }
    if (trial % 6 == 0) {
      p.min_tokens = 4;
      p.min_tokens_stop_ids = {token(rng), token(rng)};
    }
    std::vector<int32_t> prompt(static_cast<size_t>(trial % 9)),
        output(static_cast<size_t>(trial % 11));
    for (auto& t : prompt)
      t = token(rng);
    for (auto& t : output)
      t = token(rng) % 12;  // repeats
    const auto index = static_cast<int32_t>(output.size());
    auto sequential = row;
    apply_min_tokens(sequential, p, index);
    apply_logit_bias(sequential, p);
    apply_penalties(sequential, p, prompt, output);
    std::vector<kernels::cpu::logit_edit> edits;
    append_logit_edits(p, index, prompt, output, 3, vocab, edits);
    auto edited = row;
    std::set<int32_t> ids;
    for (const auto& e : edits) {
      EXPECT_EQ(e.row, 3);
      EXPECT_TRUE(ids.insert(e.id).second) << "two edits of token " << e.id;
      edited[e.id] = kernels::cpu::apply_edit(edited[e.id], e);
    }
    ASSERT_EQ(std::memcmp(sequential.data(), edited.data(), row.size() * sizeof(float)), 0)
        << "trial " << trial;
    auto combined = row;
    apply_logits_processors(combined, p, index, prompt, output);
    ASSERT_EQ(std::memcmp(sequential.data(), combined.data(), row.size() * sizeof(float)), 0);
  }
}

TEST(logits_processors, allowed_token_ids_keep_only_their_tokens_with_the_other_processors) {
  sampling_params p;
  p.allowed_token_ids = {1, 3};
  p.logit_bias = {{3, 0.5f}, {2, 9.0f}};  // a bias on a token not allowed changes nothing
  EXPECT_TRUE(has_logits_processors(p, 0));
  std::vector<float> row = {1, 2, 3, 4, 5};
  apply_logits_processors(row, p, 0, {}, {});
  EXPECT_EQ(row, (std::vector<float>{-inf, 2, -inf, 4.5f, -inf}));
  // As edits: one a token, each allowed one flagged.
  std::vector<kernels::cpu::logit_edit> edits;
  append_logit_edits(p, 0, {}, {}, 0, 5, edits);
  int allowed = 0;
  for (const auto& e : edits)
    allowed += (e.flags & kernels::cpu::edit_allow) != 0 ? 1 : 0;
  EXPECT_EQ(allowed, 2);
  EXPECT_EQ(sample_token(std::vector<float>{9, 2, 9, 4, 9}, p, 0).token_id, 3);
}

// A grammar's mask (structured outputs) as edits: few allowed tokens make an allowed-only row,
// many make masks of the others; with allowed_token_ids, both must allow a token; ids past the
// mask are never allowed. The row the edits give is the mask applied to the processed row.
TEST(logits_processors, a_grammar_mask_keeps_only_its_tokens_through_the_edits) {
  const int32_t vocab = 10;  // the mask covers 8 ids: 8 and 9 are past it
  const std::vector<float> row = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  struct grammar_case {
    uint64_t bits;
    std::vector<int32_t> allowed_token_ids;
    bool allowed_only;
  };
  for (const auto& c : {grammar_case{0b00000110, {}, true}, grammar_case{0b11110111, {}, false},
                        grammar_case{0b11110111, {2, 3, 9}, true}}) {
    sampling_params p;
    p.logit_bias = {{2, 0.5f}, {3, -1.0f}};
    p.allowed_token_ids = c.allowed_token_ids;
    std::vector<kernels::cpu::logit_edit> edits;
    const std::vector<uint64_t> mask = {c.bits};
    EXPECT_EQ(append_logit_edits(p, 0, {}, {}, 0, vocab, edits, &mask), c.allowed_only);
    std::vector<float> edited = row;
    if (c.allowed_only) std::fill(edited.begin(), edited.end(), -inf);
    for (const auto& e : edits)
      edited[e.id] = kernels::cpu::apply_edit(row[e.id], e);
    for (int32_t id = 0; id < vocab; ++id) {
      const bool in_mask = id < 8 && ((c.bits >> id) & 1) != 0;
      const bool user = c.allowed_token_ids.empty() ||
                        std::count(c.allowed_token_ids.begin(), c.allowed_token_ids.end(), id);
      const float bias = id == 2 ? 0.5f : id == 3 ? -1.0f : 0.0f;
      EXPECT_EQ(edited[id], in_mask && user ? row[id] + bias : -inf) << c.bits << " id " << id;
    }
  }
}

TEST(logits_processors, a_bad_words_last_token_is_masked_after_the_rest_of_it) {
  const std::vector<int32_t> word = {7, 8, 9};
  EXPECT_TRUE(bad_word_applies(word, std::vector<int32_t>{1, 7, 8}));
  EXPECT_FALSE(bad_word_applies(word, std::vector<int32_t>{7, 8, 1}));
  EXPECT_FALSE(bad_word_applies(word, std::vector<int32_t>{8}));  // shorter than its prefix
  EXPECT_TRUE(bad_word_applies(std::vector<int32_t>{4}, std::vector<int32_t>{}));
  sampling_params p;
  p.bad_words_token_ids = {{2}, {0, 3}};
  EXPECT_TRUE(has_logits_processors(p, 0));
  std::vector<float> row = {1, 2, 3, 4};
  apply_logits_processors(row, p, 2, {}, std::vector<int32_t>{1, 0});
  EXPECT_EQ(row, (std::vector<float>{1, 2, -inf, -inf}));
  row = {1, 2, 3, 4};
  apply_logits_processors(row, p, 2, {}, std::vector<int32_t>{0, 1});
  EXPECT_EQ(row, (std::vector<float>{1, 2, -inf, 4}));
  // With a penalty on the same token the mask still wins, in one edit.
  p.presence_penalty = 0.5f;
  row = {1, 2, 3, 4};
  apply_logits_processors(row, p, 1, {}, std::vector<int32_t>{2});
  EXPECT_EQ(row, (std::vector<float>{1, 2, -inf, 4}));
}

TEST(logits_processors, top_logprobs_are_the_best_raw_log_softmax_values) {
  const std::vector<float> row = {0.5f, 2.0f, std::nanf(""), 2.0f, -1.0f};
  double sum = 0;
  for (float l : {0.5f, 2.0f, 2.0f, -1.0f})
    sum += std::exp(double{l});
  const auto top = top_logprobs(row, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, 1);  // tie with 3: lowest id first
  EXPECT_EQ(top[1].first, 3);
  EXPECT_EQ(top[2].first, 0);
  EXPECT_NEAR(top[0].second, 2.0 - std::log(sum), 1e-6);
  EXPECT_NEAR(top[2].second, 0.5 - std::log(sum), 1e-6);
  EXPECT_EQ(top_logprobs(row, 50).size(), 4u);  // capped, NaN left out
  EXPECT_TRUE(top_logprobs(row, 0).empty());
}

// -- the pipeline in sample_token --

TEST(sampler_pipeline, greedy_follows_the_processed_row_but_reports_raw_logprobs) {
  const std::vector<float> row = {1.0f, 3.0f, 2.0f};
  auto p = with_extras({{1, -10.0f}});
  p.temperature = 0.0f;
  p.num_top_logprobs = 2;
  const auto r = sample_token(row, p, 0);
  EXPECT_EQ(r.token_id, 2);
  EXPECT_NEAR(r.logprob, log_softmax_at(row, 2), 1e-6);
  ASSERT_EQ(r.top_logprobs.size(), 2u);
  EXPECT_EQ(r.top_logprobs[0].first, 1);  // raw distribution: the biased-away token is still top
}

TEST(sampler_pipeline, repetition_penalty_uses_prompt_and_outputs_of_the_history) {
  const std::vector<float> row = {3.0f, 2.9f, 2.8f};
  sampling_params p;
  p.temperature = 0.0f;
  p.repetition_penalty = 1.2f;
  const std::vector<int32_t> prompt_only = {0};
  EXPECT_EQ(sample_token(row, p, 0, prompt_only).token_id, 1);
  const std::vector<int32_t> prompt_and_output = {0, 1};
  EXPECT_EQ(sample_token(row, p, 1, prompt_and_output).token_id, 2);
}

TEST(sampler_pipeline, presence_penalty_ignores_the_prompt) {
  const std::vector<float> row = {3.0f, 2.5f};
  sampling_params p;
  p.temperature = 0.0f;
  p.presence_penalty = 1.0f;
  const std::vector<int32_t> history = {0, 1};  // prompt {0}, output {1}
  EXPECT_EQ(sample_token(row, p, 1, history).token_id, 0);
  const std::vector<int32_t> output_zero = {1, 0};  // prompt {1}, output {0}
  EXPECT_EQ(sample_token(row, p, 1, output_zero).token_id, 1);
}

TEST(sampler_pipeline, min_p_drops_tokens_below_the_scaled_maximum) {
  // probs 0.5, 0.3, 0.15, 0.05 at temperature 1: min_p 0.2 keeps prob >= 0.1 (ids 0, 1, 2).
  const std::vector<float> row = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  sampling_params p;
  p.min_p = 0.2f;
  int counts[4] = {};
  for (int32_t i = 0; i < 2000; ++i)
    counts[sample_token(row, p, i).token_id]++;
  EXPECT_EQ(counts[3], 0);
  EXPECT_GT(counts[2], 150);  // ~0.15 / 0.95 of 2000 = 316
  EXPECT_NEAR(counts[0] / 2000.0, 0.5 / 0.95, 0.05);
  p.min_p = 0.0f;  // disabled: the least likely token shows up
  int32_t num_last = 0;
  for (int32_t i = 0; i < 2000; ++i)
    num_last += sample_token(row, p, i).token_id == 3;
  EXPECT_GT(num_last, 40);
}

TEST(sampler_pipeline, min_p_applies_after_temperature) {
  // At temperature 2 the probabilities flatten: exp((l - max) / 2) >= 0.5 keeps l >= max - 1.386.
  const std::vector<float> row = {0.0f, -1.0f, -2.0f};
  sampling_params p;
  p.temperature = 2.0f;
  p.min_p = 0.5f;
  bool seen[3] = {};
  for (int32_t i = 0; i < 500; ++i)
    seen[sample_token(row, p, i).token_id] = true;
  EXPECT_TRUE(seen[0] && seen[1]);
  EXPECT_FALSE(seen[2]);
}

TEST(sampler_pipeline, top_p_counts_mass_after_min_p) {
  // probs 0.4, 0.35, 0.25 -> min_p 0.7 keeps 0.4 and 0.35 (renormalized 0.533, 0.467); top_p 0.5
  // then keeps only the first. Without min_p, top_p 0.5 keeps two.
  const std::vector<float> row = {std::log(0.4f), std::log(0.35f), std::log(0.25f)};
  sampling_params p;
  p.min_p = 0.7f;
  p.top_p = 0.5f;
  for (int32_t i = 0; i < 200; ++i)
    EXPECT_EQ(sample_token(row, p, i).token_id, 0);
  p.min_p = 0.0f;
  bool seen_second = false;
  for (int32_t i = 0; i < 200; ++i)
    seen_second |= sample_token(row, p, i).token_id == 1;
  EXPECT_TRUE(seen_second);
}

TEST(sampler_pipeline, everything_masked_still_returns_a_token) {
  const std::vector<float> row = {1.0f, 2.0f};
  auto p = with_extras({}, {0, 1}, 5);
  for (float t : {0.0f, 1.0f}) {
    p.temperature = t;
    const auto r = sample_token(row, p, 0);
    EXPECT_TRUE(r.token_id == 0 || r.token_id == 1);
  }
}

// Log-probabilities over a vocabulary-sized row (49152 logits spread over 40 nats, as a model's
// are) within 1e-6 of a double-precision log-softmax: the f32 exp behind them is within 3e-7.
TEST(logprobs, log_softmax_matches_a_double_reference_on_a_large_row) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-30.0f, 10.0f);
  std::vector<float> row(49152);
  for (auto& l : row)
    l = dist(rng);
  double max = -INFINITY;
  for (float l : row)
    max = std::max<double>(max, l);
  double sum = 0.0;
  for (float l : row)
    sum += std::exp(static_cast<double>(l) - max);
  const double lse = max + std::log(sum);
  EXPECT_NEAR(log_sum_exp(row), lse, 1e-6);
  for (int32_t id : {0, 7, 1000, 49151})
    EXPECT_NEAR(log_softmax_at(row, id), row[id] - lse,
                1e-5 * std::max(1.0, std::fabs(row[id] - lse)))
        << id;
  const auto top = top_logprobs(row, 5);
  ASSERT_EQ(top.size(), 5u);
  for (const auto& [id, lp] : top)
    EXPECT_NEAR(lp, row[id] - lse, 1e-5) << id;
}

}  // namespace
}  // namespace troupe::runtime
