#include "runtime/model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace troupe::runtime {

namespace {

constexpr float greedy_temperature = 1e-5f;  // vLLM's _SAMPLING_EPS

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Candidates in sampling order: by logit descending, lowest id first on ties. Only the top_k
// (when set) are sorted; the rest are dropped.
std::vector<int32_t> ranked_candidates(std::span<const float> logits, int32_t top_k) {
  const auto vocab = static_cast<int32_t>(logits.size());
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  auto better = [&](int32_t a, int32_t b) {
    if (std::isnan(logits[b])) return !std::isnan(logits[a]) || a < b;
    if (std::isnan(logits[a])) return false;
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  const int32_t keep = top_k > 0 && top_k < vocab ? top_k : vocab;
  std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(), better);
  ids.resize(keep);
  return ids;
}

// Picks among `ids` (or returns -1 for a degenerate row) with weights exp((logit - max) /
// temperature), cut to the nucleus (which assumes `ids` ranked; without top_p any order works).
int32_t draw(std::span<const float> logits, const std::vector<int32_t>& ids, double max_logit,
             const sampling_params& params, double u) {
  std::vector<double> weights(ids.size());
  double total = 0.0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const double l = logits[ids[i]];
    weights[i] = std::isnan(l) ? 0.0 : std::exp((l - max_logit) / params.temperature);
    total += weights[i];
  }
  if (!(total > 0.0) || !std::isfinite(total)) return -1;  // inf/NaN row: caller falls back
  size_t kept = ids.size();
  if (params.top_p < 1.0f) {
    double mass = 0.0;
    for (size_t i = 0; i < ids.size(); ++i) {
      mass += weights[i];
      if (mass >= params.top_p * total) {
        kept = i + 1;
        break;
      }
    }
    total = std::accumulate(weights.begin(), weights.begin() + kept, 0.0);
  }
  const double target = u * total;
  double cumulative = 0.0;
  for (size_t i = 0; i < kept; ++i) {
    cumulative += weights[i];
    if (target < cumulative) return ids[i];
  }
  return ids[kept - 1];  // u * total rounded up to the total
}

}  // namespace

double uniform_draw(uint64_t seed, int32_t output_index) {
  const uint64_t bits = splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(output_index));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (int32_t i = 1; i < static_cast<int32_t>(logits.size()); ++i)
    if (logits[i] > logits[best] || std::isnan(logits[best])) best = i;
  return best;
}

float log_softmax_at(std::span<const float> logits, int32_t token) {
  double max_logit = -INFINITY;
  for (float l : logits)
    max_logit = std::max<double>(max_logit, l);
  double sum = 0.0;
  for (float l : logits)
    sum += std::exp(static_cast<double>(l) - max_logit);
  return static_cast<float>(logits[token] - max_logit - std::log(sum));
}

sample_result sample_token(std::span<const float> logits, const sampling_params& params,
                           int32_t output_index) {
  int32_t token = 0;
  if (params.temperature < greedy_temperature) {
    token = argmax(logits);
  } else if (params.top_k <= 0 && params.top_p >= 1.0f) {
    // Unfiltered: no ranking needed; walk the vocabulary in id order.
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    token =
        draw(logits, ids, logits[argmax(logits)], params, uniform_draw(params.seed, output_index));
  } else {
    auto ids = ranked_candidates(logits, params.top_k);
    token = draw(logits, ids, logits[ids.front()], params, uniform_draw(params.seed, output_index));
  }
  if (token < 0) token = argmax(logits);
  return {token, log_softmax_at(logits, token)};
}

}  // namespace troupe::runtime
