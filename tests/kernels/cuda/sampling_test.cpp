// kernels/cuda/sampling.cu against the CPU reference: the same token as kernels::cpu::sample_row
// (bit for bit, with argmax_rows's index where it draws nothing), the same weights as
// kernels::cpu::exp_value, and the log-softmax of the raw row (within 1e-5 of one computed in
// double). Needs a GPU: skips without one.
#include "kernels/cuda/sampling.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/exp.hpp"
#include "kernels/cpu/sampling.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using cpu::sampling_row;
using testing::device_array;

constexpr float nan = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();

TEST(cuda_sampling, nothing_to_do_enqueues_nothing) {
  // No device needed: these return before any launch.
  EXPECT_TRUE(sample_rows(nullptr, 0, 8, nullptr, nullptr, nullptr, nullptr).ok());
  EXPECT_FALSE(sample_rows(nullptr, 1, 0, nullptr, nullptr, nullptr, nullptr).ok());
  EXPECT_FALSE(sample_rows(nullptr, 1, int64_t{1} << 23, nullptr, nullptr, nullptr, nullptr).ok());
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

// -- sample_rows --

struct batch {
  int64_t cols;
  std::vector<float> logits;  // [rows][cols]
  std::vector<sampling_row> params;
  std::vector<std::string> names;  // for failure messages

  int64_t rows() const { return static_cast<int64_t>(params.size()); }
  const float* row(int64_t r) const { return logits.data() + r * cols; }
  void add(std::string name, const std::vector<float>& row, const sampling_row& p) {
    logits.insert(logits.end(), row.begin(), row.end());
    params.push_back(p);
    names.push_back(std::move(name));
  }
};

struct gpu_result {
  std::vector<float> tokens;
  std::vector<float> logprobs;
};

// argmax_rows, then sample_rows, as the backend runs them.
gpu_result run_on_gpu(const batch& b) {
  const int64_t rows = b.rows();
  device_array<float> dlogits(b.logits), dgreedy(rows), dout(2 * rows);
  device_array<sampling_row> dparams(b.params);
  EXPECT_TRUE(argmax_rows(dlogits.get(), rows, b.cols, dgreedy.get(), nullptr).ok());
  EXPECT_TRUE(
      sample_rows(dlogits.get(), rows, b.cols, dparams.get(), dgreedy.get(), dout.get(), nullptr)
          .ok());
  const auto out = dout.to_host();
  return {{out.begin(), out.begin() + rows}, {out.begin() + rows, out.end()}};
}

// The CPU's token: sample_row's, or the argmax for a greedy row or one it draws nothing from.
int32_t cpu_token(const float* row, int64_t cols, const sampling_row& p) {
  int32_t token = -1;
  if (!(p.temperature < cpu::greedy_temperature)) token = cpu::sample_row(row, cols, p);
  if (token < 0) token = static_cast<int32_t>(cpu::argmax(row, cols));
  return token;
}

// runtime::log_softmax_at in double: NaN for a row holding a NaN; log_sum_exp of a row without a
// finite logit is its max.
double reference_logprob(const float* row, int64_t cols, int32_t token) {
  double m = -INFINITY;
  for (int64_t i = 0; i < cols; ++i) {
    if (std::isnan(row[i])) return NAN;
    m = std::max(m, static_cast<double>(row[i]));
  }
  double lse = m;
  if (std::isfinite(m)) {
    double sum = 0.0;
    for (int64_t i = 0; i < cols; ++i)
      sum += std::exp(static_cast<double>(row[i]) - m);
    lse = m + std::log(sum);
  }
  return row[token] - lse;
}

// Checks every row of `got` against the CPU; returns how many drew a token other than the argmax.
int expect_matches_cpu(const batch& b, const gpu_result& got) {
  int not_argmax = 0;
  for (int64_t r = 0; r < b.rows(); ++r) {
    const sampling_row& p = b.params[r];
    const int32_t want = cpu_token(b.row(r), b.cols, p);
    const std::string where =
        b.names[r] + " (row " + std::to_string(r) + ", cols " + std::to_string(b.cols) + ")";
    EXPECT_EQ(got.tokens[r], static_cast<float>(want)) << where;
    if (want != static_cast<int32_t>(cpu::argmax(b.row(r), b.cols))) ++not_argmax;
    if (p.want_logprob == 0) {
      EXPECT_EQ(std::bit_cast<uint32_t>(got.logprobs[r]), 0u) << where;
      continue;
    }
    const double ref = reference_logprob(b.row(r), b.cols, want);
    if (std::isnan(ref))
      EXPECT_TRUE(std::isnan(got.logprobs[r])) << where << ": " << got.logprobs[r];
    else
      EXPECT_NEAR(got.logprobs[r], ref, 1e-5) << where;
  }
  return not_argmax;
}

std::vector<float> normal_row(int64_t cols, float scale, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> row(cols);
  for (auto& v : row)
    v = dist(rng);
  return row;
}

sampling_row params(float temperature, int32_t top_k, float top_p, float min_p, uint64_t random,
                    bool want_logprob) {
  sampling_row p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.random_lo = static_cast<uint32_t>(random);
  p.random_hi = static_cast<uint32_t>(random >> 32);
  p.want_logprob = want_logprob ? 1 : 0;
  return p;
}

// Random rows with every combination of cuts cycling through, then the rows that break naive
// kernels: ties, flat rows, NaN and infinite logits, cuts that meet.
batch varied_rows(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::mt19937_64 bits(seed);
  const auto k = static_cast<int32_t>(cols);
  const float temperatures[] = {0.3f, 0.7f, 1.0f, 1.5f, 2.0f};
  const int32_t top_ks[] = {0, 1, 5, 50, k - 1, k + 3};
  const float top_ps[] = {1.0f, 0.9f, 0.5f, 1e-6f};
  const float min_ps[] = {0.0f, 0.05f, 0.5f};
  const float scales[] = {1.0f, 3.0f, 8.0f};
  batch b{cols, {}, {}, {}};
  for (int i = 0; i < 36; ++i) {
    const auto p = params(temperatures[i % 5], top_ks[i / 2 % 6], top_ps[i / 3 % 4],
                          min_ps[i / 4 % 3], bits(), i % 3 == 0);
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

// Llama-3's vocabulary: segments of 4032 ids narrowed to 128 before the walk, deep radix selects.
TEST(cuda_sampling, llama_vocabulary_rows_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t cols = 128256;
  std::mt19937 rng(9);
  std::mt19937_64 bits(10);
  batch b{cols, {}, {}, {}};
  b.add("top_p 0.9", normal_row(cols, 3.0f, rng), params(0.7f, 0, 0.9f, 0.0f, bits(), true));
  b.add("top_k 50", normal_row(cols, 3.0f, rng), params(1.0f, 50, 1.0f, 0.0f, bits(), false));
  b.add("no cut", normal_row(cols, 1.0f, rng), params(1.0f, 0, 1.0f, 0.0f, bits(), false));
  b.add("every cut", normal_row(cols, 2.0f, rng), params(1.2f, 5000, 0.8f, 0.01f, bits(), true));
  const auto got = run_on_gpu(b);
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
  batch b{cols, {}, {}, {}};
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
