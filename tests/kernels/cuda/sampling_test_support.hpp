// Shared pieces of the GPU sampling tests (sampling_test.cpp, logit_edits_test.cpp): random rows,
// batches of rows with their sampling parameters and edits, running a batch through argmax_rows,
// apply_logit_edits and sample_rows as the backend does, and comparing it with the CPU reference
// (kernels/cpu/sampling.hpp).
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/sampling.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/sampling.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"

namespace troupe::kernels::cuda::sampling_testing {

using cpu::logit_edit;
using cpu::sampling_row;
using testing::device_array;

inline constexpr float nan = std::numeric_limits<float>::quiet_NaN();
inline constexpr float inf = std::numeric_limits<float>::infinity();

inline std::vector<float> normal_row(int64_t cols, float scale, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> row(cols);
  for (auto& v : row)
    v = dist(rng);
  return row;
}

// The same float: equal bits, or both NaN (the GPU's arithmetic makes the canonical NaN where the
// host keeps an operand's payload and sign).
inline bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

struct batch {
  int64_t cols;
  std::vector<float> logits;  // [rows][cols]
  std::vector<sampling_row> params;
  std::vector<std::string> names;  // for failure messages
  std::vector<logit_edit> edits;   // every row's

  explicit batch(int64_t cols) : cols(cols) {}
  int64_t rows() const { return static_cast<int64_t>(params.size()); }
  const float* row(int64_t r) const { return logits.data() + r * cols; }
  // A row; with edits (their row set here), an edited one.
  void add(std::string name, const std::vector<float>& row, sampling_row p,
           std::vector<logit_edit> row_edits = {}) {
    p.edited = row_edits.empty() ? 0 : 1;
    for (logit_edit& e : row_edits) {
      e.row = static_cast<int32_t>(rows());
      edits.push_back(e);
    }
    logits.insert(logits.end(), row.begin(), row.end());
    params.push_back(p);
    names.push_back(std::move(name));
  }
  // The row the token comes from: row r with its edits applied.
  std::vector<float> processed(int64_t r) const {
    std::vector<float> x(row(r), row(r) + cols);
    for (const logit_edit& e : edits)
      if (e.row == r) x[e.id] = cpu::apply_edit(x[e.id], e);
    return x;
  }
};

struct gpu_result {
  int32_t max_top = 0;
  std::vector<float> tokens;
  std::vector<float> logprobs;
  std::vector<float> top_ids;       // [rows][max_top]
  std::vector<float> top_logprobs;  // [rows][max_top]
};

// A value no kernel writes: an output slot left unwritten keeps it.
inline const float unwritten = std::bit_cast<float>(0xdeadbeefu);

// argmax_rows, apply_logit_edits (when some row has edits), then sample_rows, as the backend runs
// them. `processed` starts as NaN: a row read from it without being edited draws nothing.
inline gpu_result run_on_gpu(const batch& b, int32_t max_top = 0) {
  const int64_t rows = b.rows();
  // Exactly the contract's size: a write past it is an error (the emulator's ASan run).
  const int64_t out_size = 2 * rows * (1 + max_top);
  device_array<float> dlogits(b.logits), dgreedy(rows),
      dout(std::vector<float>(out_size, unwritten));
  device_array<sampling_row> dparams(b.params);
  EXPECT_TRUE(argmax_rows(dlogits.get(), rows, b.cols, dgreedy.get(), nullptr).ok());
  std::unique_ptr<device_array<float>> dprocessed;
  std::unique_ptr<device_array<logit_edit>> dedits;
  if (!b.edits.empty()) {
    dprocessed = std::make_unique<device_array<float>>(std::vector<float>(b.logits.size(), nan));
    dedits = std::make_unique<device_array<logit_edit>>(b.edits);
    EXPECT_TRUE(apply_logit_edits(dlogits.get(), rows, b.cols, dparams.get(), dedits->get(),
                                  static_cast<int64_t>(b.edits.size()), dprocessed->get(), nullptr)
                    .ok());
  }
  EXPECT_TRUE(sample_rows(dlogits.get(), dprocessed ? dprocessed->get() : nullptr, rows, b.cols,
                          dparams.get(), max_top, dgreedy.get(), dout.get(), nullptr)
                  .ok());
  const auto out = dout.to_host();
  const auto at = [&](int64_t i) { return out.begin() + i; };
  const int64_t top = 2 * rows, tops = rows * max_top;
  return {max_top,
          {at(0), at(rows)},
          {at(rows), at(top)},
          {at(top), at(top + tops)},
          {at(top + tops), at(top + 2 * tops)}};
}

// The CPU's token: sample_row's, or the argmax for a greedy row or one it draws nothing from.
inline int32_t cpu_token(const float* row, int64_t cols, const sampling_row& p) {
  int32_t token = -1;
  if (!(p.temperature < cpu::greedy_temperature)) token = cpu::sample_row(row, cols, p);
  if (token < 0) token = static_cast<int32_t>(cpu::argmax(row, cols));
  return token;
}

// runtime::log_softmax_at in double: NaN for a row holding a NaN; log_sum_exp of a row without a
// finite logit is its max.
inline double reference_logprob(const float* row, int64_t cols, int32_t token) {
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

// A top logprob against the CPU's: both NaN, the same infinity, or within 1e-6.
inline bool close_logprob(float got, float want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= 1e-6f;
}

// Row r's top slots of `got` against cpu::top_logprobs of the raw row: the same ids in the same
// order, the values within 1e-6, then -1 and 0 (bitwise) to max_top. Returns the count.
inline int32_t expect_tops_match_cpu(const batch& b, const gpu_result& got, int64_t r,
                                     const std::string& where) {
  const int32_t n = b.params[r].num_top_logprobs;
  std::vector<int32_t> ids(std::max(n, 1));
  std::vector<float> logprobs(std::max(n, 1));
  const int32_t count = cpu::top_logprobs(b.row(r), b.cols, n, ids.data(), logprobs.data());
  for (int32_t j = 0; j < got.max_top; ++j) {
    const float id = got.top_ids[r * got.max_top + j];
    const float logprob = got.top_logprobs[r * got.max_top + j];
    if (j < count) {
      EXPECT_EQ(id, static_cast<float>(ids[j])) << where << ", top " << j;
      EXPECT_TRUE(close_logprob(logprob, logprobs[j]))
          << where << ", top " << j << " (id " << ids[j] << "): got " << logprob << ", want "
          << logprobs[j];
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(id), std::bit_cast<uint32_t>(-1.0f))
          << where << ", padding " << j << ": " << id;
      EXPECT_EQ(std::bit_cast<uint32_t>(logprob), 0u)
          << where << ", padding " << j << ": " << logprob;
    }
  }
  return count;
}

// Checks every row of `got` against the CPU: the token from the edited row, the logprob and the
// top logprobs from the raw one. Returns how many drew a token other than the argmax (of the row
// drawn from).
inline int expect_matches_cpu(const batch& b, const gpu_result& got) {
  int not_argmax = 0;
  for (int64_t r = 0; r < b.rows(); ++r) {
    const sampling_row& p = b.params[r];
    const std::vector<float> x = b.processed(r);
    const int32_t want = cpu_token(x.data(), b.cols, p);
    const std::string where =
        b.names[r] + " (row " + std::to_string(r) + ", cols " + std::to_string(b.cols) + ")";
    EXPECT_EQ(got.tokens[r], static_cast<float>(want)) << where;
    expect_tops_match_cpu(b, got, r, where);
    if (want != static_cast<int32_t>(cpu::argmax(x.data(), b.cols))) ++not_argmax;
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

inline sampling_row params(float temperature, int32_t top_k, float top_p, float min_p,
                           uint64_t random, bool want_logprob) {
  sampling_row p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.set_random(random);
  p.want_logprob = want_logprob ? 1 : 0;
  return p;
}

// Row i's parameters, cycling through every combination of temperatures and cuts.
inline sampling_row cycled_params(int i, int64_t cols, uint64_t random, bool want_logprob) {
  const auto k = static_cast<int32_t>(cols);
  const float temperatures[] = {0.3f, 0.7f, 1.0f, 1.5f, 2.0f};
  const int32_t top_ks[] = {0, 1, 5, 50, k - 1, k + 3};
  const float top_ps[] = {1.0f, 0.9f, 0.5f, 1e-6f};
  const float min_ps[] = {0.0f, 0.05f, 0.5f};
  return params(temperatures[i % 5], top_ks[i / 2 % 6], top_ps[i / 3 % 4], min_ps[i / 4 % 3],
                random, want_logprob);
}

inline logit_edit edit_at(int32_t id, uint32_t flags, float bias = 0.0f, float penalty = 1.0f,
                          float subtract = 0.0f) {
  logit_edit e;
  e.id = id;
  e.flags = flags;
  e.bias = bias;
  e.repetition_penalty = penalty;
  e.subtract = subtract;
  return e;
}

// The edits of a request whose output holds `seen` distinct random ids: the repetition penalty
// and the frequency and presence penalties on each, with logit_bias and min_tokens masking mixed
// in (every flag combination occurs).
inline std::vector<logit_edit> history_edits(int64_t cols, int64_t seen, float penalty,
                                             std::mt19937& rng) {
  std::vector<int32_t> ids(cols);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::uniform_int_distribution<int32_t> count(1, 20);
  std::uniform_real_distribution<float> bias(-4.0f, 4.0f);
  std::vector<logit_edit> edits;
  for (int64_t i = 0; i < seen; ++i) {
    uint32_t flags = cpu::edit_repetition | cpu::edit_subtract;
    if (i % 5 == 0) flags = static_cast<uint32_t>(i / 5 % 16);
    edits.push_back(edit_at(ids[i], flags, bias(rng), penalty,
                            cpu::penalty_subtrahend(0.4f, count(rng), 0.3f)));
  }
  return edits;
}

}  // namespace troupe::kernels::cuda::sampling_testing
