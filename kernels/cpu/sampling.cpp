// sample_row: one token from one row of logits (contract: sampling.hpp).
#include "kernels/cpu/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {

namespace {

// A candidate of the nucleus: its rank key and integer weight.
struct ranked {
  uint64_t key;
  uint64_t q;
};

// Per-thread scratch, reused row after row (a 128k row's arrays are about 3 MB).
struct scratch {
  std::vector<uint64_t> keys, selected;
  std::vector<float> w;
  std::vector<uint64_t> q;
  std::vector<ranked> items;
};

// The key of the last candidate of the smallest best-ranked prefix of `items` whose mass reaches
// `need` (keep_nucleus of the contract), or 0 when even all of it stays below. A weighted
// quickselect, linear on average: each round splits the range around a pivot key and goes on in
// the side that holds the crossing.
uint64_t nucleus_threshold(std::vector<ranked>& items, double need) {
  auto reaches = [need](uint64_t mass) { return static_cast<double>(mass) >= need; };
  auto higher = [](const ranked& a, const ranked& b) { return a.key > b.key; };
  size_t lo = 0, hi = items.size();
  uint64_t before = 0;  // the mass of every candidate ranked above items[lo, hi)
  while (hi - lo > 32) {
    // Median of three as the pivot, moved to the end of the range.
    ranked* r = items.data();
    const size_t mid = lo + (hi - lo) / 2;
    if (higher(r[mid], r[lo])) std::swap(r[mid], r[lo]);
    if (higher(r[hi - 1], r[lo])) std::swap(r[hi - 1], r[lo]);
    if (higher(r[mid], r[hi - 1])) std::swap(r[mid], r[hi - 1]);
    const ranked pivot = r[hi - 1];
    const auto split = static_cast<size_t>(
        std::partition(r + lo, r + hi - 1, [&](const ranked& x) { return x.key > pivot.key; }) - r);
    uint64_t upper = 0;
    for (size_t i = lo; i < split; ++i)
      upper += r[i].q;
    if (split > lo && reaches(before + upper)) {
      hi = split;
      continue;
    }
    before += upper + pivot.q;
    if (reaches(before)) return pivot.key;
    std::swap(r[split], r[hi - 1]);
    lo = split + 1;
  }
  std::sort(items.begin() + static_cast<std::ptrdiff_t>(lo),
            items.begin() + static_cast<std::ptrdiff_t>(hi), higher);
  for (size_t i = lo; i < hi; ++i) {
    before += items[i].q;
    if (reaches(before)) return items[i].key;
  }
  return 0;
}

}  // namespace

float apply_edit(float logit, const logit_edit& edit) {
  if (edit.flags & edit_mask) logit = -INFINITY;
  if (edit.flags & edit_bias) logit = logit + edit.bias;
  if (edit.flags & edit_repetition) {
    logit = logit > 0.0f ? logit / edit.repetition_penalty : logit * edit.repetition_penalty;
  }
  if (edit.flags & edit_subtract) logit = logit - edit.subtract;
  return logit;
}

float penalty_subtrahend(float frequency_penalty, int32_t count, float presence_penalty) {
  return frequency_penalty * static_cast<float>(count) + presence_penalty;
}

namespace {

// The largest non-NaN x[i] (-inf when none), in 16 independent lanes that the compiler
// vectorizes (v > m is false for a NaN v, which is skipped; one running maximum with a NaN test
// stays scalar).
float max_skipping_nan(const float* x, int64_t n) {
  constexpr int lanes = 16;
  float m[lanes];
  std::fill(m, m + lanes, -INFINITY);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (int j = 0; j < lanes; ++j)
      m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  }
  for (int j = 0; i < n; ++i, ++j)
    m[j] = x[i] > m[j] ? x[i] : m[j];
  float max_x = -INFINITY;
  for (float v : m)
    max_x = v > max_x ? v : max_x;
  return max_x;
}

}  // namespace

double log_sum_exp(const float* x, int64_t n) {
  const float max_x = max_skipping_nan(x, n);
  if (!std::isfinite(max_x)) return max_x;
  // x - max is exact in f32 for every term that matters (Sterbenz) and <= 0: nothing overflows.
  thread_local std::vector<float> terms;
  terms.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    terms[i] = std::isnan(x[i]) ? -INFINITY : x[i] - max_x;
  exp_values(terms.data(), n, terms.data());
  // 16 running sums in double, joined in a fixed order: the same bits on every call, and a loop
  // the compiler vectorizes (one running sum is a chain of dependent adds, 4 cycles each).
  constexpr int lanes = 16;
  double partial[lanes] = {};
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (int j = 0; j < lanes; ++j)
      partial[j] += static_cast<double>(terms[static_cast<size_t>(i + j)]);
  }
  for (int j = 0; i < n; ++i, ++j)
    partial[j] += static_cast<double>(terms[static_cast<size_t>(i)]);
  double sum = 0.0;
  for (double p : partial)
    sum += p;
  return max_x + std::log(sum);
}

float log_softmax_at(const float* x, int64_t n, int32_t token) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(x[i])) return NAN;
  return static_cast<float>(x[token] - log_sum_exp(x, n));
}

float log_softmax_at(const float* x, int64_t n, int32_t token, double lse) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(x[i])) return NAN;
  return static_cast<float>(x[token] - lse);
}

int32_t logprob_rank(const float* x, int64_t n, int32_t token, double lse) {
  const auto logprob = static_cast<float>(x[token] - lse);
  if (std::isnan(logprob)) return 0;
  // float(v - lse) grows with v, so the entries counted are those from a threshold on: the
  // smallest float whose logprob rounds to at least the token's, found by bisecting the floats
  // from -inf to x[token] in their order (32 steps at most).
  auto order = [](float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  };
  auto from_order = [](uint32_t o) {
    const uint32_t bits = (o & 0x80000000u) ? (o & 0x7fffffffu) : ~o;
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  };
  uint32_t lo = order(-INFINITY), hi = order(x[token]);
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (static_cast<float>(from_order(mid) - lse) >= logprob) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const float threshold = from_order(hi);
  // No early exit: the loop vectorizes.
  int32_t rank = 0;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    nan |= std::isnan(x[i]);
    rank += x[i] >= threshold ? 1 : 0;
  }
  return nan ? 0 : rank;
}

int32_t top_logprobs(const float* x, int64_t cols, int32_t n, int32_t* ids, float* logprobs) {
  if (n <= 0) return 0;
  return top_logprobs(x, cols, n, log_sum_exp(x, cols), ids, logprobs);
}

int32_t top_logprobs(const float* x, int64_t cols, int32_t n, double lse, int32_t* ids,
                     float* logprobs) {
  if (n <= 0) return 0;
  // The n best keys so far, best first, in one pass. Once there are n, an entry below the worst
  // one's value cannot enter (an equal value may: ties rank by id), so most entries cost one
  // comparison.
  thread_local std::vector<uint64_t> keys;
  keys.clear();
  const auto capacity = static_cast<size_t>(n);
  float worst = -INFINITY;
  auto offer = [&](int64_t i) {
    const float v = x[i];
    if (std::isnan(v) || (keys.size() == capacity && v < worst)) return;
    const uint64_t key = sampling_key(v, static_cast<uint32_t>(i));
    if (keys.size() == capacity) {
      if (key <= keys.back()) return;
      keys.pop_back();
    }
    keys.insert(std::upper_bound(keys.begin(), keys.end(), key, std::greater<>()), key);
    if (keys.size() == capacity) worst = x[0xffffffffu - static_cast<uint32_t>(keys.back())];
  };
  // Blocks of 16 whose largest entry (a vectorized maximum, NaN skipped) is below the worst kept
  // one are passed whole. The maximum is written out here: max_skipping_nan called per block
  // measured slower (2360-2529 against 2567-2604 scored tokens/s, tools/bench_loglikelihood.py).
  constexpr int block = 16;
  int64_t i = 0;
  for (; i + block <= cols; i += block) {
    float top = -INFINITY;
    for (int j = 0; j < block; ++j)
      top = x[i + j] > top ? x[i + j] : top;
    if (keys.size() == capacity && top < worst) continue;
    for (int j = 0; j < block; ++j)
      offer(i + j);
  }
  for (; i < cols; ++i)
    offer(i);
  const size_t count = keys.size();
  for (size_t j = 0; j < count; ++j) {
    ids[j] = static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(keys[j]));
    logprobs[j] = static_cast<float>(x[ids[j]] - lse);
  }
  return static_cast<int32_t>(count);
}

int32_t sample_row(const float* logits, int64_t cols, const sampling_row& row) {
  float best = -INFINITY;
  for (int64_t i = 0; i < cols; ++i)
    if (!std::isnan(logits[i])) best = std::max(best, logits[i]);
  if (!std::isfinite(best)) return -1;

  thread_local scratch s;
  const auto n = static_cast<size_t>(cols);
  const bool cut_k = row.top_k > 0 && row.top_k < cols;
  const bool cut_p = row.top_p < 1.0f;
  // Rank keys only where a cut ranks; the top_k-th largest by selection on a copy.
  uint64_t k_threshold = 0;
  if (cut_k || cut_p) {
    s.keys.resize(n);
    for (size_t i = 0; i < n; ++i)
      s.keys[i] = sampling_key(logits[i], static_cast<uint32_t>(i));
  }
  if (cut_k) {
    s.selected.assign(s.keys.begin(), s.keys.end());
    std::nth_element(s.selected.begin(), s.selected.begin() + (row.top_k - 1), s.selected.end(),
                     std::greater<>());
    k_threshold = s.selected[static_cast<size_t>(row.top_k - 1)];
  }
  // The weights through the vectorized exp (exp_value's bits); an id outside the top_k, or with
  // a NaN logit, weighs 0, as does one below min_p: q = 0 is never drawn nor part of a nucleus
  // (weights fall with the rank, so the zero weights rank last).
  s.w.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float l = logits[i];
    const bool member = !std::isnan(l) && (!cut_k || s.keys[i] >= k_threshold);
    s.w[i] = member ? (l - best) / row.temperature : -INFINITY;
  }
  exp_values(s.w.data(), cols, s.w.data());
  s.q.resize(n);
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const float w = s.w[i];
    s.q[i] = w < row.min_p ? 0 : static_cast<uint64_t>(w * sampling_weight_scale);
    total += s.q[i];
  }
  if (total == 0) return -1;  // min_p above 1 left nothing
  if (cut_p) {
    s.items.clear();
    for (size_t i = 0; i < n; ++i)
      if (s.q[i] != 0) s.items.push_back({s.keys[i], s.q[i]});
    const double need = static_cast<double>(row.top_p) * static_cast<double>(total);
    const uint64_t p_threshold = nucleus_threshold(s.items, need);
    total = 0;
    for (size_t i = 0; i < n; ++i) {
      if (s.keys[i] < p_threshold) s.q[i] = 0;
      total += s.q[i];
    }
  }
  // The draw: the first id whose running sum of q exceeds r = u * total (rounded down).
  const auto r = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(row.random() & ~uint64_t{0x7ff}) * total) >> 64);
  uint64_t running = 0;
  for (size_t i = 0; i < n; ++i) {
    running += s.q[i];
    if (running > r) return static_cast<int32_t>(i);
  }
  return -1;  // unreachable: r < total
}

}  // namespace troupe::kernels::cpu
