// sample_row: one token from one row of logits (contract: sampling.hpp).
#include "kernels/cpu/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/cpu/exp.hpp"

namespace troupe::kernels::cpu {

namespace {

// The ids taking part, in id order, with their rank keys and integer weights.
struct members {
  std::vector<int32_t> ids;
  std::vector<uint64_t> keys;
  std::vector<uint64_t> q;
};

// The key of the top_k-th best id: ids with a key at least this take part.
uint64_t top_k_threshold(const float* logits, int64_t cols, int32_t top_k) {
  thread_local std::vector<uint64_t> keys;
  keys.resize(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i)
    keys[i] = sampling_key(logits[i], static_cast<uint32_t>(i));
  std::nth_element(keys.begin(), keys.begin() + (top_k - 1), keys.end(), std::greater<>());
  return keys[top_k - 1];
}

// Keeps the smallest best-ranked prefix of `m` whose mass reaches top_p of the total (at least
// one id), in id order. Ranks only as many ids as needed: the nucleus is usually a few dozen.
void keep_nucleus(members& m, float top_p) {
  uint64_t total = 0;
  for (uint64_t q : m.q)
    total += q;
  const double need = static_cast<double>(top_p) * static_cast<double>(total);
  std::vector<size_t> order(m.ids.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  auto by_rank = [&m](size_t a, size_t b) { return m.keys[a] > m.keys[b]; };
  uint64_t threshold = 0;
  for (size_t k = std::min<size_t>(64, order.size());; k = std::min(2 * k, order.size())) {
    std::partial_sort(order.begin(), order.begin() + k, order.end(), by_rank);
    uint64_t mass = 0;
    size_t i = 0;
    while (i < k && !(static_cast<double>(mass) >= need))
      mass += m.q[order[i++]];
    if (static_cast<double>(mass) >= need) {
      threshold = m.keys[order[std::max<size_t>(i, 1) - 1]];
      break;
    }
    if (k == order.size()) return;  // never reached (top_p rounds above 1): everything stays
  }
  members kept;
  for (size_t i = 0; i < m.ids.size(); ++i) {
    if (m.keys[i] < threshold) continue;
    kept.ids.push_back(m.ids[i]);
    kept.keys.push_back(m.keys[i]);
    kept.q.push_back(m.q[i]);
  }
  m = std::move(kept);
}

// The draw over `m` in id order (contract: "draw").
int32_t draw(const members& m, uint64_t random) {
  uint64_t total = 0;
  for (uint64_t q : m.q)
    total += q;
  if (total == 0) return -1;
  const auto r = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(random & ~uint64_t{0x7ff}) * total) >> 64);
  uint64_t running = 0;
  for (size_t i = 0; i < m.ids.size(); ++i) {
    running += m.q[i];
    if (running > r) return m.ids[i];
  }
  return -1;  // unreachable: r < total
}

}  // namespace

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

int32_t sample_row(const float* logits, int64_t cols, const sampling_row& row) {
  float best = -INFINITY;
  for (int64_t i = 0; i < cols; ++i)
    if (!std::isnan(logits[i])) best = std::max(best, logits[i]);
  if (!std::isfinite(best)) return -1;

  const bool cut_k = row.top_k > 0 && row.top_k < cols;
  const uint64_t k_threshold = cut_k ? top_k_threshold(logits, cols, row.top_k) : 0;
  members m;
  for (int64_t i = 0; i < cols; ++i) {
    const uint64_t key = sampling_key(logits[i], static_cast<uint32_t>(i));
    if (key < k_threshold) continue;
    m.ids.push_back(static_cast<int32_t>(i));
    m.keys.push_back(key);
  }
  // The weights through the vectorized exp (same bits as exp_value), then min_p and q.
  thread_local std::vector<float> w;
  w.resize(m.ids.size());
  for (size_t j = 0; j < m.ids.size(); ++j) {
    const float l = logits[m.ids[j]];
    w[j] = std::isnan(l) ? -INFINITY : (l - best) / row.temperature;
  }
  exp_values(w.data(), static_cast<int64_t>(w.size()), w.data());
  size_t n = 0;
  m.q.resize(m.ids.size());
  for (size_t j = 0; j < m.ids.size(); ++j) {
    if (w[j] < row.min_p) continue;
    m.ids[n] = m.ids[j];
    m.keys[n] = m.keys[j];
    m.q[n] = static_cast<uint64_t>(w[j] * sampling_weight_scale);
    ++n;
  }
  m.ids.resize(n);
  m.keys.resize(n);
  m.q.resize(n);
  if (n == 0) return -1;  // min_p above 1 left nothing
  if (row.top_p < 1.0f) keep_nucleus(m, row.top_p);
  return draw(m, row.random());
}

}  // namespace troupe::kernels::cpu
