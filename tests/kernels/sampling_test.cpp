// kernels::cpu::sample_row against its contract (kernels/cpu/sampling.hpp), step by step, with
// rows whose integer weights are known exactly; the distributions themselves are checked through
// runtime::sample_token (tests/runtime/model/sampler_test.cpp).
#include "kernels/cpu/sampling.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {
namespace {

constexpr uint64_t unit = uint64_t{1} << 40;  // q of a token whose weight is 1

sampling_row row_with(float temperature, uint64_t random, int32_t top_k = 0, float top_p = 1.0f,
                      float min_p = 0.0f) {
  sampling_row r;
  r.temperature = temperature;
  r.top_k = top_k;
  r.top_p = top_p;
  r.min_p = min_p;
  r.set_random(random);
  return r;
}

// Random bits whose 53-bit uniform is `u` (a multiple of 2^-53).
uint64_t bits_for(double u) {
  return static_cast<uint64_t>(std::ldexp(u, 53)) << 11;
}

int32_t sample(const std::vector<float>& logits, const sampling_row& r) {
  return sample_row(logits.data(), static_cast<int64_t>(logits.size()), r);
}

TEST(sampling_key, ranks_by_logit_then_lower_id_with_nan_last) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_GT(sampling_key(2.0f, 9), sampling_key(1.0f, 0));
  EXPECT_GT(sampling_key(1.0f, 3), sampling_key(1.0f, 4));
  EXPECT_GT(sampling_key(-1.0f, 0), sampling_key(-2.0f, 0));
  EXPECT_GT(sampling_key(-inf, 7), sampling_key(nan, 0));
  EXPECT_GT(sampling_key(inf, 7), sampling_key(3e38f, 0));
  EXPECT_EQ(sampling_key(-0.0f, 5), sampling_key(0.0f, 5));
  EXPECT_GT(sampling_key(0.0f, 1), sampling_key(-1e-45f, 0));
}

TEST(sample_row, draws_over_the_integer_weights_in_id_order) {
  // Four equal logits: q = 2^40 each, Q = 2^42; u picks id floor(4u).
  const std::vector<float> flat(4, 0.5f);
  for (double u : {0.0, 0.2, 0.25, 0.49, 0.5, 0.74, 0.75, 0.9999})
    EXPECT_EQ(sample(flat, row_with(1.0f, bits_for(u))), static_cast<int32_t>(4 * u)) << u;
  // The low 11 bits of the random are not part of u.
  EXPECT_EQ(sample(flat, row_with(1.0f, bits_for(0.25) - 1)), 0);
  EXPECT_EQ(sample(flat, row_with(1.0f, bits_for(0.25) | 0x7ff)), 1);
  // Weights 1 and e^-ln2 = 1/2 (as exp_value rounds it): id 0 holds u < q0 / Q.
  const std::vector<float> halves = {0.0f, -std::log(2.0f)};
  const auto q1 = static_cast<uint64_t>(exp_value(-std::log(2.0f)) * sampling_weight_scale);
  const double boundary = double(unit) / double(unit + q1);
  EXPECT_EQ(sample(halves, row_with(1.0f, bits_for(boundary - 1e-9))), 0);
  EXPECT_EQ(sample(halves, row_with(1.0f, bits_for(boundary + 1e-9))), 1);
}

TEST(sample_row, temperature_divides_before_the_exp) {
  // At temperature 2, logits 0 and -2 ln2 weigh 1 and 1/2 as at temperature 1 with 0 and -ln2.
  const std::vector<float> a = {0.0f, -2.0f * std::log(2.0f)};
  const std::vector<float> b = {0.0f, -std::log(2.0f)};
  for (double u = 0.01; u < 1.0; u += 0.05)
    EXPECT_EQ(sample(a, row_with(2.0f, bits_for(u))), sample(b, row_with(1.0f, bits_for(u)))) << u;
}

TEST(sample_row, top_k_keeps_the_best_ranked_with_ties_to_the_lower_id) {
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, 2.0f, 0.0f};
  // top_k 3: ids 1, 3 (logit 3) and 2 (the lower id of the two 2s).
  std::set<int32_t> seen;
  for (double u = 0.0; u < 1.0; u += 1.0 / 512)
    seen.insert(sample(l, row_with(1.0f, bits_for(u), 3)));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 2, 3}));
  // top_k >= cols, or <= 0: no cut.
  seen.clear();
  for (double u = 0.0; u < 1.0; u += 1.0 / 4096)
    seen.insert(sample(l, row_with(1.0f, bits_for(u), 6)));
  EXPECT_EQ(seen.size(), 6u);
}

TEST(sample_row, min_p_drops_weights_below_it) {
  // Weights 1, e^-1 = 0.37, e^-3 = 0.05: min_p 0.1 drops id 2, min_p 0.5 leaves only id 0.
  const std::vector<float> l = {0.0f, -1.0f, -3.0f};
  std::set<int32_t> seen_low, seen_high;
  for (double u = 0.0; u < 1.0; u += 1.0 / 1024) {
    seen_low.insert(sample(l, row_with(1.0f, bits_for(u), 0, 1.0f, 0.1f)));
    seen_high.insert(sample(l, row_with(1.0f, bits_for(u), 0, 1.0f, 0.5f)));
  }
  EXPECT_EQ(seen_low, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(seen_high, (std::set<int32_t>{0}));
}

TEST(sample_row, the_nucleus_is_the_smallest_prefix_reaching_top_p) {
  // Four equal weights: top_p 0.5 needs exactly two (reaching counts), 0.5001 three.
  const std::vector<float> flat(4, 0.0f);
  std::set<int32_t> two, three;
  for (double u = 0.0; u < 1.0; u += 1.0 / 256) {
    two.insert(sample(flat, row_with(1.0f, bits_for(u), 0, 0.5f)));
    three.insert(sample(flat, row_with(1.0f, bits_for(u), 0, 0.5001f)));
  }
  EXPECT_EQ(two, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(three, (std::set<int32_t>{0, 1, 2}));
  // Ranked by logit: the nucleus of {0.1, 0.6, 0.3} at 0.8 is ids 1 and 2, drawn in id order:
  // u below q2 / (q1 + q2) gives id 1 (the lower id), not id 2 (the lower rank).
  const std::vector<float> l = {std::log(0.1f), std::log(0.6f), std::log(0.3f)};
  std::set<int32_t> kept;
  for (double u = 0.0; u < 1.0; u += 1.0 / 512)
    kept.insert(sample(l, row_with(1.0f, bits_for(u), 0, 0.8f)));
  EXPECT_EQ(kept, (std::set<int32_t>{1, 2}));
  EXPECT_EQ(sample(l, row_with(1.0f, bits_for(0.01), 0, 0.8f)), 1);
  EXPECT_EQ(sample(l, row_with(1.0f, bits_for(0.99), 0, 0.8f)), 2);
  // A tiny top_p keeps the best id only.
  EXPECT_EQ(sample(l, row_with(1.0f, bits_for(0.99), 0, 1e-6f)), 1);
}

TEST(sample_row, degenerate_rows_draw_nothing_or_skip_nan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(sample({nan, nan}, row_with(1.0f, bits_for(0.5))), -1);
  EXPECT_EQ(sample({-inf, -inf}, row_with(1.0f, bits_for(0.5))), -1);
  EXPECT_EQ(sample({0.0f, inf}, row_with(1.0f, bits_for(0.5))), -1);
  // NaN weighs nothing; -inf neither.
  for (double u = 0.0; u < 1.0; u += 1.0 / 64) {
    EXPECT_EQ(sample({nan, 1.0f, -inf, nan}, row_with(1.0f, bits_for(u))), 1);
    EXPECT_EQ(sample({nan, 1.0f, -inf, nan}, row_with(1.0f, bits_for(u), 2, 0.5f)), 1);
  }
}

TEST(log_softmax_at, is_the_raw_rows_log_softmax) {
  const std::vector<float> l = {0.5f, 2.0f, -1.0f};
  double sum = 0.0;
  for (float x : l)
    sum += std::exp(double{x});
  for (int32_t t = 0; t < 3; ++t)
    EXPECT_NEAR(log_softmax_at(l.data(), 3, t), l[t] - std::log(sum), 1e-6);
  const std::vector<float> with_nan = {0.5f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(log_softmax_at(with_nan.data(), 2, 0)));
  EXPECT_NEAR(log_sum_exp(with_nan.data(), 2), 0.5, 1e-7);  // NaN entries skipped
}

TEST(logprob_rank, counts_the_tokens_at_least_as_likely_itself_included) {
  const std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f, 0.5f};
  const double lse = log_sum_exp(l.data(), 5);
  EXPECT_EQ(logprob_rank(l.data(), 5, 1, lse), 2);  // ties count (vLLM's x >= value)
  EXPECT_EQ(logprob_rank(l.data(), 5, 3, lse), 2);
  EXPECT_EQ(logprob_rank(l.data(), 5, 0, lse), 4);
  EXPECT_EQ(logprob_rank(l.data(), 5, 2, lse), 5);
  // Logits a rounding apart can tie as logprobs: the count is of the rounded logprobs.
  const std::vector<float> close = {100.0f, std::nextafter(100.0f, 0.0f), -100.0f};
  const double lse_close = log_sum_exp(close.data(), 3);
  const bool tie =
      static_cast<float>(close[0] - lse_close) == static_cast<float>(close[1] - lse_close);
  EXPECT_EQ(logprob_rank(close.data(), 3, 1, lse_close), 2);
  EXPECT_EQ(logprob_rank(close.data(), 3, 0, lse_close), tie ? 2 : 1);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> masked = {-inf, 1.0f, -inf};
  EXPECT_EQ(logprob_rank(masked.data(), 3, 0, log_sum_exp(masked.data(), 3)), 3);
  const std::vector<float> with_nan = {0.5f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(logprob_rank(with_nan.data(), 2, 0, log_sum_exp(with_nan.data(), 2)), 0);
}

// The rank's threshold search against the definition, on rows where many logits round to one
// logprob: values near 0 (tiny ulps under a large lse), repeated values, signed zeros, -inf.
TEST(logprob_rank, equals_counting_the_rounded_logprobs) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-30.0f, 30.0f), tiny(-1e-6f, 1e-6f);
  const float inf = std::numeric_limits<float>::infinity();
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> row(3000);
    for (size_t i = 0; i < row.size(); ++i) {
      switch ((i + static_cast<size_t>(trial)) % 5) {
        case 0:
          row[i] = wide(rng);
          break;
        case 1:
          row[i] = tiny(rng);
          break;
        case 2:
          row[i] = std::round(wide(rng));
          break;
        case 3:
          row[i] = i % 2 ? 0.0f : -0.0f;
          break;
        default:
          row[i] = trial % 3 ? wide(rng) : -inf;
      }
    }
    const auto n = static_cast<int64_t>(row.size());
    const double lse = log_sum_exp(row.data(), n);
    for (int32_t token : {0, 1, 2, 3, 4, 1500, 2999}) {
      const auto logprob = static_cast<float>(row[token] - lse);
      int32_t want = 0;
      for (float v : row)
        want += static_cast<float>(v - lse) >= logprob ? 1 : 0;
      ASSERT_EQ(logprob_rank(row.data(), n, token, lse), want)
          << "trial " << trial << ", token " << token << " (" << row[token] << ")";
    }
  }
}

}  // namespace
}  // namespace troupe::kernels::cpu
