// kernels/cuda/sampling.cu against the CPU reference: the edited rows of apply_logit_edits as
// kernels::cpu::apply_edit's (bit for bit), the same token as kernels::cpu::sample_row on the row
// the token comes from (the edited row where the row has edits; bit for bit, with
// kernels::cpu::argmax's index where it draws nothing), the same weights as
// kernels::cpu::exp_value, the log-softmax of the raw row (within 1e-5 of one computed in
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

namespace troupe::kernels::cuda {
namespace {

using cpu::logit_edit;
using cpu::sampling_row;
using testing::device_array;

constexpr float nan = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();

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

// -- apply_logit_edits --

std::vector<float> normal_row(int64_t cols, float scale, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> row(cols);
  for (auto& v : row)
    v = dist(rng);
  return row;
}

// The same float: equal bits, or both NaN (the GPU's arithmetic makes the canonical NaN where the
// host keeps an operand's payload and sign).
bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// Every special logit under every flag combination with every kind of parameter (signed zeros,
// infinities and NaN among them), then random logits and edits; rows without edits keep what
// `processed` held.
TEST(cuda_sampling, apply_logit_edits_match_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t rows = 24, cols = 3001;  // a partial last slice of each row
  const std::vector<float> specials = {
      nan,          inf,           -inf,    -0.0f,    0.0f,    FLT_MAX, -FLT_MAX,
      FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN, -FLT_MIN, 1.0f,    -1.0f,   0.5f,
      -0.5f,        3.3f,          -3.3f,   1e-30f,   -1e-30f, 1e30f,   -1e30f};
  const std::vector<float> biases = {0.0f, -0.0f, 2.5f, -inf, inf, nan};
  const std::vector<float> subtracts = {0.0f, -0.0f, cpu::penalty_subtrahend(0.5f, 3, 0.3f),
                                        cpu::penalty_subtrahend(-0.3f, 7, 1.5f)};
  const std::vector<float> penalties = {1.3f, 0.7f};
  const std::vector<size_t> dims = {specials.size(), 16, biases.size(), subtracts.size(),
                                    penalties.size()};
  const int64_t num_combinations =
      std::accumulate(dims.begin(), dims.end(), int64_t{1}, std::multiplies<>());

  std::mt19937 rng(21);
  std::vector<float> logits;
  for (int64_t r = 0; r < rows; ++r) {
    auto row = normal_row(cols, 4.0f, rng);
    std::copy(specials.begin(), specials.end(), row.begin());  // unedited rows have them too
    logits.insert(logits.end(), row.begin(), row.end());
  }
  std::vector<sampling_row> params(rows);
  std::vector<int64_t> edited_rows;
  for (int64_t r = 0; r < rows; ++r) {
    params[r].edited = r % 3 != 1 ? 1 : 0;  // 16 edited rows, the first and last among them
    if (params[r].edited != 0) edited_rows.push_back(r);
  }
  ASSERT_GE(static_cast<int64_t>(edited_rows.size()) * cols, num_combinations);

  // The combinations fill the first edited rows (an edit at every id), one a slot; the rest of
  // the ids are random, one in five edited with random flags and parameters.
  std::vector<logit_edit> edits;
  std::uniform_real_distribution<float> any_bias(-10.0f, 10.0f), any_penalty(0.5f, 2.0f),
      any_frequency(-2.0f, 2.0f);
  std::uniform_int_distribution<int32_t> any_count(1, 50);
  for (size_t j = 0; j < edited_rows.size(); ++j) {
    const int64_t r = edited_rows[j];
    for (int64_t c = 0; c < cols; ++c) {
      logit_edit e;
      e.row = static_cast<int32_t>(r);
      e.id = static_cast<int32_t>(c);
      int64_t t = static_cast<int64_t>(j) * cols + c;
      if (t < num_combinations) {
        logits[r * cols + c] = specials[t % dims[0]];
        t /= static_cast<int64_t>(dims[0]);
        e.flags = static_cast<uint32_t>(t % 16);
        t /= 16;
        e.bias = biases[t % dims[2]];
        t /= static_cast<int64_t>(dims[2]);
        e.subtract = subtracts[t % dims[3]];
        t /= static_cast<int64_t>(dims[3]);
        e.repetition_penalty = penalties[t % dims[4]];
      } else {
        if (rng() % 5 != 0) continue;
        e.flags = rng() % 16;
        e.bias = any_bias(rng);
        e.repetition_penalty = any_penalty(rng);
        e.subtract = cpu::penalty_subtrahend(any_frequency(rng), any_count(rng), any_bias(rng));
      }
      edits.push_back(e);
    }
  }
  // An edit naming a row without the flag: that row of `processed` is not the kernel's to write.
  logit_edit stray;
  stray.row = 1;
  stray.id = 7;
  stray.flags = cpu::edit_mask;
  edits.push_back(stray);
  std::shuffle(edits.begin(), edits.end(), rng);  // the kernel must not depend on their order

  const float sentinel = std::bit_cast<float>(0xdeadbeefu);
  std::vector<float> want(logits.size(), sentinel);
  for (int64_t r : edited_rows)
    std::copy(logits.begin() + r * cols, logits.begin() + (r + 1) * cols, want.begin() + r * cols);
  int negative_zeros = 0;  // -0 results, which an addition of -x in place of x - ... would lose
  for (const logit_edit& e : edits) {
    if (params[e.row].edited == 0) continue;
    const int64_t at = e.row * cols + e.id;
    want[at] = cpu::apply_edit(logits[at], e);
    negative_zeros += e.flags != 0 && std::bit_cast<uint32_t>(want[at]) == 0x80000000u ? 1 : 0;
  }

  device_array<float> dlogits(logits), dprocessed(want.size());
  dprocessed.upload(std::vector<float>(want.size(), sentinel));
  device_array<sampling_row> dparams(params);
  device_array<logit_edit> dedits(edits);
  ASSERT_TRUE(apply_logit_edits(dlogits.get(), rows, cols, dparams.get(), dedits.get(),
                                static_cast<int64_t>(edits.size()), dprocessed.get(), nullptr)
                  .ok());
  const auto got = dprocessed.to_host();
  int mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t at = r * cols + c;
      if (same_float(got[at], want[at])) continue;
      ADD_FAILURE() << "row " << r << " id " << c << " (logit " << logits[at] << "): got "
                    << got[at] << ", want " << want[at];
      if (++mismatches == 20) return;
    }
  }
  // The test means something only if the edits changed many logits, to special values too.
  int changed = 0, nans = 0, infinities = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == sentinel || same_float(want[i], logits[i])) continue;
    ++changed;
    nans += std::isnan(want[i]) ? 1 : 0;
    infinities += std::isinf(want[i]) ? 1 : 0;
  }
  EXPECT_GE(changed, 15000);
  EXPECT_GE(nans, 1000);
  EXPECT_GE(infinities, 1000);
  EXPECT_GE(negative_zeros, 20);
}

// -- sample_rows --

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
const float unwritten = std::bit_cast<float>(0xdeadbeefu);

// argmax_rows, apply_logit_edits (when some row has edits), then sample_rows, as the backend runs
// them. `processed` starts as NaN: a row read from it without being edited draws nothing.
gpu_result run_on_gpu(const batch& b, int32_t max_top = 0) {
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

// A top logprob against the CPU's: both NaN, the same infinity, or within 1e-6.
bool close_logprob(float got, float want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= 1e-6f;
}

// Row r's top slots of `got` against cpu::top_logprobs of the raw row: the same ids in the same
// order, the values within 1e-6, then -1 and 0 (bitwise) to max_top. Returns the count.
int32_t expect_tops_match_cpu(const batch& b, const gpu_result& got, int64_t r,
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
int expect_matches_cpu(const batch& b, const gpu_result& got) {
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

sampling_row params(float temperature, int32_t top_k, float top_p, float min_p, uint64_t random,
                    bool want_logprob) {
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
sampling_row cycled_params(int i, int64_t cols, uint64_t random, bool want_logprob) {
  const auto k = static_cast<int32_t>(cols);
  const float temperatures[] = {0.3f, 0.7f, 1.0f, 1.5f, 2.0f};
  const int32_t top_ks[] = {0, 1, 5, 50, k - 1, k + 3};
  const float top_ps[] = {1.0f, 0.9f, 0.5f, 1e-6f};
  const float min_ps[] = {0.0f, 0.05f, 0.5f};
  return params(temperatures[i % 5], top_ks[i / 2 % 6], top_ps[i / 3 % 4], min_ps[i / 4 % 3],
                random, want_logprob);
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

logit_edit edit_at(int32_t id, uint32_t flags, float bias = 0.0f, float penalty = 1.0f,
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
std::vector<logit_edit> history_edits(int64_t cols, int64_t seen, float penalty,
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
