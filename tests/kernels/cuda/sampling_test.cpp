// kernels/cuda/sampling.cu's sample_rows and exp_values against the CPU reference: the same token
// as kernels::cpu::sample_row on the row the token comes from (the edited row where the row has
// edits; bit for bit, with kernels::cpu::argmax's index where it draws nothing), the same weights
// as kernels::cpu::exp_value, the log-softmax of the raw row (within 1e-5 of one computed in
// double), and the raw row's top logprobs as kernels::cpu::top_logprobs's (the same ids, the values
// within 1e-6). Needs a GPU: skips without one.
#include "kernels/cuda/sampling.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/exp.hpp"
#include "kernels/cpu/sampling.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"
#include "tests/kernels/cuda/sampling_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using namespace sampling_testing;

TEST(cuda_sampling, nothing_to_do_enqueues_nothing) {
  // No device needed: these return before any launch.
  EXPECT_TRUE(sample_rows(nullptr, nullptr, 0, 8, nullptr, 0, nullptr, nullptr, nullptr).ok());
  EXPECT_TRUE(sample_rows(nullptr, nullptr, 0, 8, nullptr, 64, nullptr, nullptr, nullptr).ok());
  EXPECT_FALSE(sample_rows(nullptr, nullptr, 1, 0, nullptr, 0, nullptr, nullptr, nullptr).ok());
  EXPECT_FALSE(
      sample_rows(nullptr, nullptr, 1, int64_t{1} << 23, nullptr, 0, nullptr, nullptr, nullptr)
          .ok());
  EXPECT_FALSE(sample_rows(nullptr, nullptr, 1, 8, nullptr, 65, nullptr, nullptr, nullptr).ok());
  EXPECT_FALSE(sample_rows(nullptr, nullptr, 1, 8, nullptr, -1, nullptr, nullptr, nullptr).ok());
  EXPECT_TRUE(apply_logit_edits(nullptr, 0, 8, nullptr, nullptr, 5, nullptr, nullptr).ok());
  EXPECT_TRUE(apply_logit_edits(nullptr, 3, 8, nullptr, nullptr, 0, nullptr, nullptr).ok());
  EXPECT_FALSE(apply_logit_edits(nullptr, 3, 0, nullptr, nullptr, 5, nullptr, nullptr).ok());
  EXPECT_FALSE(
      apply_logit_edits(nullptr, 3, int64_t{1} << 23, nullptr, nullptr, 5, nullptr, nullptr).ok());
  EXPECT_TRUE(exp_values(nullptr, 0, nullptr, nullptr).ok());
}

// Random inputs over the whole range the weights see, the clamp edges, specials, and ties of the
// range reduction's rounding (x * log2e landing on k + 1/2).
TEST(cuda_sampling, exp_values_match_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  std::vector<float> x = {0.0f,    -0.0f,    1e-30f,     -1e-30f,     FLT_MIN, -FLT_MIN,
                          1e-45f,  -87.0f,   -86.999f,   -87.001f,    88.0f,   87.999f,
                          88.001f, 100.0f,   -100.0f,    inf,         -inf,    nan,
                          FLT_MAX, -FLT_MAX, 0.3465736f, -0.3465736f, 1.0f,    -1.0f};
  for (int k = -126; k <= 127; ++k) {  // around x * log2e = k + 1/2
    const float mid = (k + 0.5f) / 1.44269504088896341f;
    x.push_back(mid);
    x.push_back(std::nextafter(mid, inf));
    x.push_back(std::nextafter(mid, -inf));
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> wide(-100.0f, 100.0f), narrow(-2.0f, 2.0f);
  for (int i = 0; i < 20000; ++i)
    x.push_back(i % 2 == 0 ? wide(rng) : narrow(rng));
  const auto n = static_cast<int64_t>(x.size());
  device_array<float> dx(x), dout(n);
  ASSERT_TRUE(exp_values(dx.get(), n, dout.get(), nullptr).ok());
  const auto out = dout.to_host();
  std::vector<float> vectorized(n);
  cpu::exp_values(x.data(), n, vectorized.data());
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(cpu::exp_value(x[i])))
        << "x " << x[i] << " (" << std::hexfloat << x[i] << ")";
    ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(vectorized[i])) << x[i];
  }
}

// Random rows with every combination of cuts cycling through, then the rows that break naive
// kernels: ties, flat rows, NaN and infinite logits, cuts that meet.
batch varied_rows(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::mt19937_64 bits(seed);
  const auto k = static_cast<int32_t>(cols);
  const float scales[] = {1.0f, 3.0f, 8.0f};
  batch b(cols);
  for (int i = 0; i < 36; ++i) {
    const auto p = cycled_params(i, cols, bits(), i % 3 == 0);
    b.add("random " + std::to_string(i), normal_row(cols, scales[i % 3], rng), p);
  }
  const auto some = normal_row(cols, 3.0f, rng);
  b.add("greedy with logprob", some, params(0.0f, 0, 1.0f, 0.0f, bits(), true));
  b.add("greedy", some, params(0.0f, 0, 0.9f, 0.0f, bits(), false));
  b.add("temperature at the greedy bound", some,
        params(cpu::greedy_temperature, 0, 1.0f, 0.0f, bits(), true));
  b.add("temperature 100", some, params(100.0f, 0, 1.0f, 0.0f, bits(), false));
  b.add("min_p above 1: no member", some, params(1.0f, 0, 1.0f, 1.5f, bits(), true));

  auto ties = normal_row(cols, 2.0f, rng);
  for (auto& v : ties)
    v = std::round(v * 2.0f) / 2.0f;  // a few dozen distinct values, each shared by many ids
  b.add("ties, top_k cuts inside a tie", ties, params(1.0f, 50, 1.0f, 0.0f, bits(), true));
  b.add("ties, top_p", ties, params(2.0f, 0, 0.5f, 0.0f, bits(), false));
  b.add("ties, top_k and top_p", ties, params(1.5f, 200, 0.7f, 0.01f, bits(), false));

  const std::vector<float> flat(cols, 0.25f);
  b.add("flat, top_p 0.5: the lowest half of the ids", flat,
        params(1.0f, 0, 0.5f, 0.0f, bits(), true));
  b.add("flat, top_k 7: the 7 lowest ids", flat, params(1.0f, 7, 1.0f, 0.0f, bits(), false));
  b.add("flat, top_p 0.5, the largest r: the last id of the half", flat,
        params(1.0f, 0, 0.5f, 0.0f, ~uint64_t{0}, false));
  // Three kept ids of q = 2^40: r = (random & ~0x7ff) * 3 * 2^40 >> 64 lands on the boundary
  // between ids 0 and 1. From just above 2^64 / 3 the mask takes r below it: id 0. Exactly at it
  // (r = 2^40) the running sum must exceed r, not reach it: id 1.
  b.add("flat, top_k 3, r masked below the boundary", flat,
        params(1.0f, 3, 1.0f, 0.0f, 0x5555555555555556u, false));
  b.add("flat, top_k 3, r on the boundary", flat,
        params(1.0f, 3, 1.0f, 0.0f, 0x5555555555555800u, false));
  // Most ids weigh exactly min_p: they stay (an id leaves only below min_p).
  std::vector<float> at_min_p(cols, -1.0f);
  for (int64_t i = 0; i < cols; i += 97)
    at_min_p[i] = 0.0f;
  b.add("weights equal to min_p stay", at_min_p,
        params(1.0f, 0, 1.0f, cpu::exp_value(-1.0f), 0x9e3779b97f4a7c15u, false));
  std::vector<float> zeros(cols, 0.0f);
  for (int64_t i = 0; i < cols; i += 2)
    zeros[i] = -0.0f;  // -0 ranks as +0
  b.add("signed zeros, top_k 3", zeros, params(1.0f, 3, 1.0f, 0.0f, bits(), false));

  auto nans = normal_row(cols, 3.0f, rng);
  for (int64_t i = 0; i < cols; i += 7)
    nans[i] = nan;
  b.add("NaNs, top_p", nans, params(1.0f, 0, 0.9f, 0.0f, bits(), true));
  b.add("NaNs, top_k past the numbers", nans, params(1.0f, k - 3, 1.0f, 0.0f, bits(), false));
  auto infs = normal_row(cols, 3.0f, rng);
  for (int64_t i = 0; i < cols; i += 3)
    infs[i] = -inf;
  b.add("-inf entries", infs, params(1.0f, 0, 0.9f, 0.05f, bits(), true));
  b.add("all -inf", std::vector<float>(cols, -inf), params(1.0f, 0, 0.9f, 0.0f, bits(), true));
  b.add("all NaN", std::vector<float>(cols, nan), params(1.0f, 0, 1.0f, 0.0f, bits(), true));
  auto plus_inf = normal_row(cols, 3.0f, rng);
  plus_inf[cols / 2] = inf;
  b.add("a +inf", plus_inf, params(1.0f, 0, 0.9f, 0.0f, bits(), true));
  b.add("top_k and top_p both cut", normal_row(cols, 0.5f, rng),
        params(2.0f, 20, 0.5f, 0.0f, bits(), false));
  b.add("top_p 0", normal_row(cols, 3.0f, rng), params(1.0f, 0, 0.0f, 0.0f, bits(), false));
  return b;
}

TEST(cuda_sampling, sample_rows_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t cols : {1000, 5003}) {
    const batch b = varied_rows(cols, static_cast<uint32_t>(cols));
    const auto got = run_on_gpu(b);
    const int not_argmax = expect_matches_cpu(b, got);
    // A draw that ignored r, or the weights, would mostly give the argmax.
    EXPECT_GE(not_argmax, 10) << "cols " << cols;
    // The flat rows keep exactly the lowest-id half (ceil(cols / 2) ids) / the 7 lowest ids.
    for (int64_t r = 0; r < b.rows(); ++r) {
      if (b.names[r].starts_with("flat, top_p")) {
        EXPECT_LT(got.tokens[r], static_cast<float>((cols + 1) / 2));
      }
      if (b.names[r].starts_with("flat, top_p 0.5, the largest r")) {
        EXPECT_EQ(got.tokens[r], static_cast<float>((cols + 1) / 2 - 1));
      }
      if (b.names[r].starts_with("flat, top_k")) {
        EXPECT_LT(got.tokens[r], 7.0f);
      }
    }
  }
}

// -- sample_rows with edited rows --

// Edited rows of every kind among unedited ones, and the edited rows whose token is not the raw
// row's: greedy rows whose argmax an edit moves (greedy[r] would be wrong), rows that draw nothing
// from the edited row, and NaNs on one side of the edits only (the draw follows the edited row,
// the logprob the raw one).
batch edited_rows(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::mt19937_64 bits(seed);
  const auto k = static_cast<int32_t>(cols);
  batch b(cols);
  for (int i = 0; i < 24; ++i) {
    const auto p = cycled_params(i, cols, bits(), i % 2 == 0);
    auto row = normal_row(cols, i % 2 == 0 ? 1.0f : 3.0f, rng);
    if (i % 3 == 2) {
      b.add("unedited " + std::to_string(i), row, p);
    } else {
      b.add("history " + std::to_string(i), row, p,
            history_edits(cols, cols / 5, i % 2 == 0 ? 1.3f : 0.7f, rng));
    }
  }

  const auto raw = normal_row(cols, 3.0f, rng);
  const auto top = static_cast<int32_t>(cpu::argmax(raw.data(), cols));
  const auto other = static_cast<int32_t>((top + cols / 2) % cols);
  const std::vector<logit_edit> mask_top = {edit_at(top, cpu::edit_mask)};
  const std::vector<logit_edit> lift_other = {edit_at(other, cpu::edit_bias, 100.0f)};
  b.add("greedy, the raw argmax masked", raw, params(0.0f, 0, 1.0f, 0.0f, bits(), false), mask_top);
  b.add("greedy with logprob, the raw argmax masked", raw,
        params(0.0f, 0, 1.0f, 0.0f, bits(), true), mask_top);
  b.add("greedy, a bias lifts another id", raw, params(0.0f, 0, 1.0f, 0.0f, bits(), false),
        lift_other);
  b.add("greedy with logprob, a bias lifts another id", raw,
        params(0.0f, 0, 1.0f, 0.0f, bits(), true), lift_other);
  b.add("unedited greedy between edited ones", raw, params(0.0f, 0, 1.0f, 0.0f, bits(), false));
  {
    std::vector<int32_t> ranked(cols);
    std::iota(ranked.begin(), ranked.end(), 0);
    std::sort(ranked.begin(), ranked.end(), [&](int32_t a, int32_t c) { return raw[a] > raw[c]; });
    std::vector<logit_edit> best_ten;
    for (int i = 0; i < 10; ++i)
      best_ten.push_back(edit_at(ranked[i], cpu::edit_repetition | cpu::edit_subtract, 0.0f, 2.0f,
                                 cpu::penalty_subtrahend(0.5f, 3, 1.0f)));
    b.add("greedy, penalties on the ten best ids", raw, params(0.0f, 0, 1.0f, 0.0f, bits(), false),
          best_ten);
  }
  {
    std::vector<float> nans(cols, nan);
    nans[3] = 1.0f;  // the raw argmax; a NaN bias leaves only NaNs: the last id
    b.add("greedy with logprob, only NaNs after a NaN bias", nans,
          params(0.0f, 0, 1.0f, 0.0f, bits(), true), {edit_at(3, cpu::edit_bias, nan)});
  }
  {
    auto tie = raw;
    tie[7] = 30.0f;
    tie[cols / 3] = tie[cols / 2] = 20.0f;
    b.add("greedy, the mask leaves a tie: the lower id", tie,
          params(0.0f, 0, 1.0f, 0.0f, bits(), false), {edit_at(7, cpu::edit_mask)});
  }

  {
    auto low_first = raw;
    low_first[0] = -50.0f;
    std::vector<logit_edit> all;
    for (int32_t i = 0; i < k; ++i)
      all.push_back(edit_at(i, cpu::edit_mask));
    b.add("every id masked: no draw, the edited row's argmax (id 0)", low_first,
          params(1.0f, 0, 0.9f, 0.0f, bits(), true), all);
  }
  b.add("min_p above 1 on the edited row: its argmax", raw,
        params(1.0f, 0, 1.0f, 1.5f, bits(), true), mask_top);
  b.add("top_k 1 on the edited row: its argmax, drawn", raw,
        params(1.0f, 1, 1.0f, 0.0f, bits(), false), mask_top);
  b.add("an edit lifts an id to +inf: no draw, that id", raw,
        params(1.0f, 0, 1.0f, 0.0f, bits(), true), {edit_at(5, cpu::edit_bias, inf)});
  {
    // -inf + inf: NaNs only in the edited row, the raw argmax among them.
    std::vector<logit_edit> to_nan = {edit_at(top, cpu::edit_mask | cpu::edit_bias, inf)};
    for (int32_t i = 1; i < k; i += 13)
      if (i != top) to_nan.push_back(edit_at(i, cpu::edit_mask | cpu::edit_bias, inf));
    b.add("NaNs made by edits: drawn past, not in the logprob", raw,
          params(1.0f, 0, 0.9f, 0.0f, bits(), true), to_nan);
  }
  {
    auto nans = normal_row(cols, 3.0f, rng);
    std::vector<logit_edit> unmask;
    for (int32_t i = 0; i < k; i += 11) {
      nans[i] = nan;
      unmask.push_back(edit_at(i, cpu::edit_mask));
    }
    b.add("raw NaNs masked: drawn from the edited row, a NaN logprob", nans,
          params(0.8f, 0, 0.95f, 0.0f, bits(), true), unmask);
  }
  b.add("unedited last", normal_row(cols, 3.0f, rng), params(1.0f, 0, 0.9f, 0.0f, bits(), true));
  return b;
}

TEST(cuda_sampling, edited_rows_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t cols : {1000, 5003}) {
    const batch b = edited_rows(cols, static_cast<uint32_t>(cols) + 1);
    // The cases are what they say: the edits move the argmax of these rows.
    int moved = 0;
    for (int64_t r = 0; r < b.rows(); ++r) {
      const auto x = b.processed(r);
      const auto edited_argmax = cpu::argmax(x.data(), cols);
      if (b.params[r].edited != 0 && edited_argmax != cpu::argmax(b.row(r), cols)) ++moved;
      if (b.names[r].find("greedy,") != std::string::npos ||
          b.names[r].find("greedy with") != std::string::npos ||
          b.names[r].find("argmax") != std::string::npos) {
        EXPECT_NE(edited_argmax, cpu::argmax(b.row(r), cols)) << b.names[r];
      }
    }
    EXPECT_GE(moved, 12) << "cols " << cols;
    const auto got = run_on_gpu(b);
    const int not_argmax = expect_matches_cpu(b, got);
    EXPECT_GE(not_argmax, 8) << "cols " << cols;
  }
}

// -- sample_rows with top logprobs --

sampling_row with_tops(sampling_row p, int32_t n) {
  p.num_top_logprobs = n;
  return p;
}

// Rows asking for 1, 5 or 20 top logprobs (or none, between them), greedy and sampled, with and
// without the token's logprob, edited or not, and the rows whose ranking a naive select gets
// wrong: ties (the lowest ids first), signed zeros, NaN (never listed, even where fewer than n
// entries are numbers), infinities.
batch top_rows(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::mt19937_64 bits(seed);
  const int32_t counts[] = {1, 0, 5, 20};
  batch b(cols);
  for (int i = 0; i < 16; ++i) {
    // Greedy (the fast path must not take a row with tops) and sampled rows alike.
    auto p = i % 4 == 1 ? params(0.0f, 0, 1.0f, 0.0f, bits(), i % 8 == 1)
                        : cycled_params(i, cols, bits(), i % 3 == 0);
    b.add("random " + std::to_string(i), normal_row(cols, i % 2 == 0 ? 1.0f : 4.0f, rng),
          with_tops(p, counts[i % 4]));
  }
  const auto greedy = params(0.0f, 0, 1.0f, 0.0f, 0, false);
  const auto sampled = params(1.0f, 0, 0.9f, 0.0f, bits(), true);
  b.add("greedy, 20 tops", normal_row(cols, 3.0f, rng), with_tops(greedy, 20));
  b.add("greedy, no tops", normal_row(cols, 3.0f, rng), greedy);
  b.add("greedy, 1 top", normal_row(cols, 3.0f, rng), with_tops(greedy, 1));

  b.add("flat: the 20 lowest ids", std::vector<float>(cols, 0.25f), with_tops(sampled, 20));
  auto ties = normal_row(cols, 2.0f, rng);
  for (auto& v : ties)
    v = std::round(v * 2.0f) / 2.0f;  // the 20th best inside a run of equal values
  b.add("ties", ties, with_tops(greedy, 20));
  {
    // Signed zeros rank equal: the lowest ids among them first, whatever their sign.
    auto zeros = normal_row(cols, 1.0f, rng);
    for (auto& v : zeros)
      v = -1.0f - std::fabs(v);
    for (int64_t i = 3; i < cols; i += 7)
      zeros[i] = i % 2 == 0 ? 0.0f : -0.0f;
    b.add("signed zeros", zeros, with_tops(sampled, 20));
    b.add("all signed zeros", std::vector<float>(cols, -0.0f), with_tops(greedy, 5));
  }
  {
    auto nans = normal_row(cols, 3.0f, rng);
    for (int64_t i = 0; i < cols; i += 3)
      nans[i] = nan;
    nans[1] = 50.0f;  // the best next to a NaN
    b.add("NaNs: never listed, the logprobs still finite", nans, with_tops(sampled, 20));
    b.add("NaNs, greedy", nans, with_tops(params(0.0f, 0, 1.0f, 0.0f, 0, true), 5));
    std::vector<float> few(cols, nan);
    few[cols - 1] = 1.0f;
    few[cols / 2] = 2.0f;
    few[5] = -inf;
    b.add("3 numbers among NaNs: 3 listed", few, with_tops(sampled, 20));
    b.add("all NaN: none listed", std::vector<float>(cols, nan), with_tops(greedy, 20));
  }
  {
    std::vector<float> infs(cols, -inf);
    for (int64_t i = 10; i < cols; i += cols / 4)
      infs[i] = static_cast<float>(i % 5);
    b.add("-inf entries: listed after the numbers, logprob -inf", infs, with_tops(sampled, 20));
    b.add("all -inf: the lowest ids, NaN logprobs", std::vector<float>(cols, -inf),
          with_tops(greedy, 5));
    auto plus_inf = normal_row(cols, 3.0f, rng);
    plus_inf[cols / 2] = inf;
    plus_inf[7] = nan;
    b.add("a +inf: first, the others -inf", plus_inf, with_tops(sampled, 5));
  }
  {
    // Edited rows: the tops are the raw row's, though the edits move its best ids.
    const auto raw = normal_row(cols, 3.0f, rng);
    std::vector<int32_t> ranked(cols);
    std::iota(ranked.begin(), ranked.end(), 0);
    std::sort(ranked.begin(), ranked.end(), [&](int32_t a, int32_t c) { return raw[a] > raw[c]; });
    std::vector<logit_edit> mask_best;
    for (int i = 0; i < 10; ++i)
      mask_best.push_back(edit_at(ranked[i], cpu::edit_mask));
    const std::vector<logit_edit> lift = {edit_at(ranked[cols / 2], cpu::edit_bias, 100.0f),
                                          edit_at(ranked[0], cpu::edit_bias, nan)};
    b.add("edited greedy, the ten best masked", raw, with_tops(greedy, 20), mask_best);
    b.add("edited, sampled, the ten best masked", raw, with_tops(sampled, 5), mask_best);
    b.add("edited greedy, a bias lifts another id, a NaN made", raw, with_tops(greedy, 20), lift);
    b.add("edited, no tops", raw, params(1.0f, 50, 1.0f, 0.0f, bits(), true), lift);
    b.add("edited, history", normal_row(cols, 3.0f, rng),
          with_tops(params(0.7f, 0, 0.9f, 0.0f, bits(), false), 20),
          history_edits(cols, cols / 5, 1.3f, rng));
  }
  b.add("last, 1 top", normal_row(cols, 3.0f, rng), with_tops(sampled, 1));
  return b;
}

TEST(cuda_sampling, top_logprobs_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t cols : {1000, 5003}) {
    const batch b = top_rows(cols, static_cast<uint32_t>(cols) + 2);
    // The edited rows' tops would differ if taken from the edited row.
    for (int64_t r = 0; r < b.rows(); ++r) {
      const int32_t n = b.params[r].num_top_logprobs;
      if (b.params[r].edited == 0 || n == 0) continue;
      std::vector<int32_t> raw_ids(n), edited_ids(n);
      std::vector<float> raw_values(n), edited_values(n);
      const auto x = b.processed(r);
      cpu::top_logprobs(b.row(r), cols, n, raw_ids.data(), raw_values.data());
      cpu::top_logprobs(x.data(), cols, n, edited_ids.data(), edited_values.data());
      EXPECT_NE(raw_ids, edited_ids) << b.names[r];
    }
    // max_top 20 (the runtime's) and 64 (above every row's count: more padding).
    for (int32_t max_top : {20, 64}) {
      SCOPED_TRACE("max_top " + std::to_string(max_top));
      const auto got = run_on_gpu(b, max_top);
      expect_matches_cpu(b, got);
      // The cases are what they say: short lists (NaN, n past the row) and full ones.
      int short_lists = 0, full = 0;
      for (int64_t r = 0; r < b.rows(); ++r) {
        const int32_t n = b.params[r].num_top_logprobs;
        int32_t listed = 0;
        while (listed < max_top && got.top_ids[r * max_top + listed] >= 0.0f)
          ++listed;
        short_lists += listed < n ? 1 : 0;
        full += n > 0 && listed == n ? 1 : 0;
      }
      EXPECT_EQ(short_lists, 2) << "cols " << cols;
      EXPECT_GE(full, 20) << "cols " << cols;
    }
  }
}

// Scored rows (prompt logprobs): nothing drawn, the score token's rank where the token goes, its
// logprob, the row's tops; mixed with sampled rows, which are unchanged.
TEST(cuda_sampling, scored_rows_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t cols : {1000, 5003}) {
    std::mt19937 rng(static_cast<uint32_t>(cols));
    batch b(cols);
    std::vector<int32_t> targets;
    for (int i = 0; i < 12; ++i) {
      auto row = normal_row(cols, i % 2 == 0 ? 1.0f : 4.0f, rng);
      if (i == 3) {
        for (auto& v : row)
          v = std::round(v);  // ties: the rank counts every equal logprob
      }
      if (i == 5) row[7] = nan;
      sampling_row p = params(0.0f, 0, 1.0f, 0.0f, 0, true);
      p.num_top_logprobs = i % 3;
      const auto target = static_cast<int32_t>(rng() % static_cast<uint32_t>(cols));
      p.score_token = i % 4 == 2 ? -1 : target;  // every fourth row sampled, not scored
      targets.push_back(p.score_token);
      b.add("row " + std::to_string(i), row, p);
    }
    const auto got = run_on_gpu(b, 20);
    for (int64_t r = 0; r < b.rows(); ++r) {
      const std::string where = b.names[r] + ", cols " + std::to_string(cols);
      expect_tops_match_cpu(b, got, r, where);
      const int32_t t = targets[static_cast<size_t>(r)];
      if (t < 0) {
        EXPECT_EQ(got.tokens[r], static_cast<float>(cpu::argmax(b.row(r), cols))) << where;
        continue;
      }
      const double lse = cpu::log_sum_exp(b.row(r), cols);
      const int32_t rank = cpu::logprob_rank(b.row(r), cols, t, lse);
      // The GPU's lse is within 1e-7 of the CPU's: a logprob may round across a tie.
      EXPECT_LE(std::abs(got.tokens[r] - static_cast<float>(rank)), 1.0f) << where;
      const double ref = reference_logprob(b.row(r), cols, t);
      if (std::isnan(ref)) {
        EXPECT_EQ(got.tokens[r], 0.0f) << where;
        EXPECT_TRUE(std::isnan(got.logprobs[r])) << where;
      } else {
        EXPECT_NEAR(got.logprobs[r], ref, 1e-5) << where;
      }
    }
  }
}

// Llama-3's vocabulary: segments of 4032 ids narrowed to 128 before the walk, deep radix selects;
// edited rows among them.
TEST(cuda_sampling, llama_vocabulary_rows_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t cols = 128256;
  std::mt19937 rng(9);
  std::mt19937_64 bits(10);
  batch b(cols);
  b.add("top_p 0.9", normal_row(cols, 3.0f, rng), params(0.7f, 0, 0.9f, 0.0f, bits(), true));
  b.add("top_k 50", normal_row(cols, 3.0f, rng), params(1.0f, 50, 1.0f, 0.0f, bits(), false));
  b.add("no cut", normal_row(cols, 1.0f, rng), params(1.0f, 0, 1.0f, 0.0f, bits(), false));
  b.add("every cut", normal_row(cols, 2.0f, rng), params(1.2f, 5000, 0.8f, 0.01f, bits(), true));
  // The repetition penalty over a 2000-token history, as a long decode has.
  b.add("edited, top_p 0.9", normal_row(cols, 3.0f, rng), params(0.7f, 0, 0.9f, 0.0f, bits(), true),
        history_edits(cols, 2000, 1.3f, rng));
  const auto greedy_raw = normal_row(cols, 3.0f, rng);
  b.add("edited greedy, the raw argmax masked", greedy_raw,
        params(0.0f, 0, 1.0f, 0.0f, bits(), false),
        {edit_at(static_cast<int32_t>(cpu::argmax(greedy_raw.data(), cols)), cpu::edit_mask)});
  b.add("greedy, 20 top logprobs", normal_row(cols, 3.0f, rng),
        with_tops(params(0.0f, 0, 1.0f, 0.0f, bits(), false), 20));
  const auto got = run_on_gpu(b, 20);
  EXPECT_GE(expect_matches_cpu(b, got), 2);
}

// One row, many random draws (including r = 0 and the largest r): each the CPU's token, and
// different bits give different tokens.
TEST(cuda_sampling, draws_follow_the_random_bits) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t cols = 777;
  std::mt19937 rng(5);
  std::mt19937_64 bits(6);
  const auto row = normal_row(cols, 2.0f, rng);
  batch b(cols);
  for (int i = 0; i < 32; ++i) {
    const uint64_t random = i < 2 ? 0 : i < 4 ? ~uint64_t{0} : bits();
    // r = 0 draws the lowest kept id, which is rarely id 0 under top_k 5
    const int32_t top_k = i % 4 == 0 ? 5 : 0;
    b.add("draw " + std::to_string(i), row,
          params(1.0f, top_k, i % 2 == 0 ? 1.0f : 0.95f, 0.0f, random, false));
  }
  const auto got = run_on_gpu(b);
  expect_matches_cpu(b, got);
  const std::set<float> distinct(got.tokens.begin(), got.tokens.end());
  EXPECT_GE(distinct.size(), 8u);
}

}  // namespace
}  // namespace troupe::kernels::cuda
