#include "runtime/model/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace troupe::runtime {
namespace {

sampling_params params(float temperature, int32_t top_k = -1, float top_p = 1.0f,
                       uint64_t seed = 0) {
  sampling_params p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.seed = seed;
  return p;
}

const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.5f, 0.0f};

TEST(sampler, greedy_takes_argmax_with_lowest_id_on_ties) {
  auto r = sample_token(logits, params(0.0f), 0);
  EXPECT_EQ(r.token_id, 1);
  EXPECT_EQ(argmax(logits), 1);
}

TEST(sampler, logprob_is_log_softmax_of_raw_logits) {
  double sum = 0;
  for (float l : logits)
    sum += std::exp(double{l});
  for (float temperature : {0.0f, 0.7f, 3.0f}) {
    auto p = params(temperature, -1, 1.0f, 9);
    p.logprobs = true;
    auto r = sample_token(logits, p, 4);
    EXPECT_NEAR(r.logprob, logits[r.token_id] - std::log(sum), 1e-6);
    // Not asked for: not computed (an exp() per vocabulary entry), the token unchanged.
    p.logprobs = false;
    const auto unasked = sample_token(logits, p, 4);
    EXPECT_EQ(unasked.token_id, r.token_id);
    EXPECT_EQ(unasked.logprob, 0.0f);
  }
}

TEST(sampler, top_k_one_and_tiny_top_p_equal_greedy) {
  for (int32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(sample_token(logits, params(1.0f, 1, 1.0f, i), i).token_id, 1);
    EXPECT_EQ(sample_token(logits, params(5.0f, -1, 1e-6f, i), i).token_id, 1);
  }
}

TEST(sampler, top_k_restricts_to_the_best_tokens) {
  for (int32_t i = 0; i < 200; ++i) {
    int32_t t = sample_token(logits, params(10.0f, 3, 1.0f, 77), i).token_id;
    EXPECT_TRUE(t == 1 || t == 3 || t == 4) << t;
  }
}

TEST(sampler, top_p_keeps_the_smallest_nucleus) {
  // probs ~ 0.6, 0.3, 0.1: top_p 0.8 keeps the first two.
  std::vector<float> l = {std::log(0.6f), std::log(0.1f), std::log(0.3f)};
  bool seen[3] = {};
  for (int32_t i = 0; i < 300; ++i)
    seen[sample_token(l, params(1.0f, -1, 0.8f, 5), i).token_id] = true;
  EXPECT_TRUE(seen[0]);
  EXPECT_TRUE(seen[2]);
  EXPECT_FALSE(seen[1]);
}

TEST(sampler, seeded_draws_are_reproducible_and_seed_dependent) {
  std::vector<int32_t> a, b, c;
  for (int32_t i = 0; i < 64; ++i) {
    a.push_back(sample_token(logits, params(2.0f, -1, 1.0f, 42), i).token_id);
    c.push_back(sample_token(logits, params(2.0f, -1, 1.0f, 43), i).token_id);
  }
  for (int32_t i = 63; i >= 0; --i)  // order of calls does not matter
    b.insert(b.begin(), sample_token(logits, params(2.0f, -1, 1.0f, 42), i).token_id);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(random_bits(1, 2), random_bits(1, 2));
  EXPECT_NE(random_bits(1, 2), random_bits(1, 3));
}

// Pearson chi-square of draws at `temperature` against softmax(logits / expected_temperature).
double chi_square(const std::vector<float>& l, float temperature, int32_t top_k, int draws,
                  float expected_temperature) {
  std::vector<double> expected(l.size());
  double sum = 0;
  for (size_t i = 0; i < l.size(); ++i)
    sum += (expected[i] = std::exp(l[i] / expected_temperature));
  std::vector<int> counts(l.size(), 0);
  for (int i = 0; i < draws; ++i)
    ++counts[sample_token(l, params(temperature, top_k, 1.0f, 2024), i).token_id];
  double chi = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const double e = expected[i] / sum * draws;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

TEST(sampler, draws_follow_the_softmax_distribution) {
  // 5 degrees of freedom: P(chi2 > 20.5) ~ 0.001.
  const std::vector<float> l = {1.0f, 0.2f, -0.5f, 0.7f, 0.0f, -1.2f};
  EXPECT_LT(chi_square(l, 1.0f, -1, 20000, 1.0f), 20.5);  // unfiltered path
  EXPECT_LT(chi_square(l, 0.8f, 6, 20000, 0.8f), 20.5);   // ranked path, nothing cut
  // The statistic does detect a wrong distribution (a temperature off by 1.5x).
  EXPECT_GT(chi_square(l, 1.0f, -1, 20000, 1.5f), 100.0);
}

TEST(sampler, top_k_draws_follow_the_renormalized_distribution) {
  // The best three of six are ids 0, 3, 1; the others must never appear.
  const std::vector<float> l = {1.0f, 0.2f, -0.5f, 0.7f, 0.0f, -1.2f};
  std::vector<int> counts(l.size(), 0);
  const int draws = 20000;
  for (int i = 0; i < draws; ++i)
    ++counts[sample_token(l, params(1.0f, 3, 1.0f, 8), i).token_id];
  const double sum = std::exp(1.0) + std::exp(0.2) + std::exp(0.7);
  double chi = 0;
  for (int id : {0, 1, 3}) {
    const double e = std::exp(double{l[id]}) / sum * draws;
    chi += (counts[id] - e) * (counts[id] - e) / e;
  }
  EXPECT_LT(chi, 13.8);  // 2 degrees of freedom, p ~ 0.001
  EXPECT_EQ(counts[2] + counts[4] + counts[5], 0);
}

TEST(sampler, large_nucleus_is_ranked_completely) {
  // 1000 equal logits: top_p 0.5 keeps exactly the 500 lowest ids (ties rank by id).
  std::vector<float> flat(1000, 0.25f);
  int32_t max_id = 0;
  for (int32_t i = 0; i < 2000; ++i)
    max_id = std::max(max_id, sample_token(flat, params(1.0f, -1, 0.5f, 4), i).token_id);
  EXPECT_LT(max_id, 500);
  EXPECT_GT(max_id, 450);  // and not fewer than the nucleus
}

TEST(sampler, degenerate_rows_do_not_crash) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> with_nan = {nan, 1.0f, 3.0f, nan};
  EXPECT_EQ(sample_token(with_nan, params(0.0f), 0).token_id, 2);
  int32_t t = sample_token(with_nan, params(1.0f, 2, 0.9f, 1), 0).token_id;
  EXPECT_TRUE(t == 1 || t == 2);
  std::vector<float> with_inf = {0.0f, inf, 1.0f};
  EXPECT_EQ(sample_token(with_inf, params(1.0f), 0).token_id, 1);
  std::vector<float> one = {0.3f};
  EXPECT_EQ(sample_token(one, params(1.0f, 5, 0.5f, 3), 0).token_id, 0);
}

}  // namespace
}  // namespace troupe::runtime
