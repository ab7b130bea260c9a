// sample_row: one token from one row of logits (contract: sampling.hpp).
#include "kernels/cpu/sampling.hpp"

#include <algorithm>
#include <cmath>
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

double log_sum_exp(const float* x, int64_t n) {
  float max_x = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isnan(x[i])) max_x = std::max(max_x, x[i]);
  if (!std::isfinite(max_x)) return max_x;
  // x - max is exact in f32 for every term that matters (Sterbenz) and <= 0: nothing overflows.
  thread_local std::vector<float> terms;
  terms.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    terms[i] = std::isnan(x[i]) ? -INFINITY : x[i] - max_x;
  exp_values(terms.data(), n, terms.data());
  double sum = 0.0;
  for (float t : terms)
    sum += t;
  return max_x + std::log(sum);
}

float log_softmax_at(const float* x, int64_t n, int32_t token) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(x[i])) return NAN;
  return static_cast<float>(x[token] - log_sum_exp(x, n));
}

int32_t logprob_rank(const float* x, int64_t n, int32_t token, double lse) {
  const auto logprob = static_cast<float>(x[token] - lse);
  int32_t rank = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) return 0;
    rank += static_cast<float>(x[i] - lse) >= logprob ? 1 : 0;
  }
  return rank;
}

int32_t top_logprobs(const float* x, int64_t cols, int32_t n, int32_t* ids, float* logprobs) {
  thread_local std::vector<uint64_t> keys;
  keys.clear();
  for (int64_t i = 0; i < cols; ++i)
    if (!std::isnan(x[i])) keys.push_back(sampling_key(x[i], static_cast<uint32_t>(i)));
  const auto count = std::min<size_t>(static_cast<size_t>(std::max(n, 0)), keys.size());
  if (count == 0) return 0;
  std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(count), keys.end(),
                    std::greater<>());
  const double lse = log_sum_exp(x, cols);
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
