#include "runtime/model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/exp.hpp"
#include "runtime/model/logits_processors.hpp"

namespace troupe::runtime {

namespace {

constexpr float greedy_temperature = 1e-5f;  // vLLM's _SAMPLING_EPS

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The tokens still in the running, with their unnormalized probabilities.
struct candidates {
  std::vector<int32_t> ids;
  std::vector<double> weights;  // exp((logit - max) / temperature), NaN logits -> 0
};

// Ranking order: logit descending, lowest id first on ties, NaN last.
auto ranks_before(std::span<const float> logits) {
  return [logits](int32_t a, int32_t b) {
    if (std::isnan(logits[b])) return !std::isnan(logits[a]) || a < b;
    if (std::isnan(logits[a])) return false;
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
}

// All tokens, or the top_k best (in no particular order) when top_k is set.
std::vector<int32_t> top_k_ids(std::span<const float> logits, int32_t top_k) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  if (top_k > 0 && top_k < static_cast<int32_t>(ids.size())) {
    std::nth_element(ids.begin(), ids.begin() + top_k, ids.end(), ranks_before(logits));
    ids.resize(top_k);
  }
  return ids;
}

// The weights in f32 through kernels/cpu/exp.hpp's vectorized exp (within 3e-7 of e^x; a whole
// vocabulary of libm double exp() took about half a millisecond per sampled token), summed in
// double by the callers. A row without a finite maximum gets no weight at all, so draw() falls
// back to argmax as it did with the NaN weights of infinities.
candidates weigh(std::span<const float> logits, std::vector<int32_t> ids, float temperature) {
  float max_logit = -INFINITY;
  for (int32_t id : ids)
    if (!std::isnan(logits[id])) max_logit = std::max(max_logit, logits[id]);
  candidates c{std::move(ids), {}};
  const size_t n = c.ids.size();
  c.weights.assign(n, 0.0);
  if (!std::isfinite(max_logit)) return c;
  thread_local std::vector<float> scaled;
  scaled.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float l = logits[c.ids[i]];
    scaled[i] = std::isnan(l) ? -INFINITY : (l - max_logit) / temperature;
  }
  kernels::cpu::exp_values(scaled.data(), static_cast<int64_t>(n), scaled.data());
  for (size_t i = 0; i < n; ++i)
    c.weights[i] = scaled[i];
  return c;
}

// vLLM's min_p: drops tokens whose probability is below min_p times the largest. Weights are
// relative to the largest (which weighs 1), so the threshold is min_p itself.
void keep_min_p(candidates& c, float min_p) {
  candidates kept;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    if (c.weights[i] < min_p) continue;
    kept.ids.push_back(c.ids[i]);
    kept.weights.push_back(c.weights[i]);
  }
  c = std::move(kept);
}

// Keeps the smallest ranked prefix whose mass reaches top_p of the total (at least one token).
// Ranks only as many tokens as needed: the nucleus is usually a few dozen of a large vocabulary.
void keep_nucleus(std::span<const float> logits, candidates& c, float top_p) {
  const double total = std::accumulate(c.weights.begin(), c.weights.end(), 0.0);
  std::vector<size_t> order(c.ids.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto before = ranks_before(logits);
  auto by_rank = [&](size_t a, size_t b) { return before(c.ids[a], c.ids[b]); };
  size_t kept = order.size();
  for (size_t k = std::min<size_t>(64, order.size());; k = std::min(2 * k, order.size())) {
    std::partial_sort(order.begin(), order.begin() + k, order.end(), by_rank);
    double mass = 0.0;
    size_t i = 0;
    while (i < k && mass < top_p * total)
      mass += c.weights[order[i++]];
    if (mass >= top_p * total || k == order.size()) {
      kept = std::max<size_t>(i, 1);
      break;
    }
  }
  candidates nucleus;
  for (size_t i = 0; i < kept; ++i) {
    nucleus.ids.push_back(c.ids[order[i]]);
    nucleus.weights.push_back(c.weights[order[i]]);
  }
  c = std::move(nucleus);
}

// The candidate where u (in [0, 1)) falls on the cumulative weights; -1 for a degenerate row.
int32_t draw(const candidates& c, double u) {
  const double total = std::accumulate(c.weights.begin(), c.weights.end(), 0.0);
  if (!(total > 0.0) || !std::isfinite(total)) return -1;
  const double target = u * total;
  double cumulative = 0.0;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    cumulative += c.weights[i];
    if (target < cumulative) return c.ids[i];
  }
  for (size_t i = c.ids.size(); i-- > 0;)  // u * total rounded up to the total
    if (c.weights[i] > 0.0) return c.ids[i];
  return -1;
}

}  // namespace

double uniform_draw(uint64_t seed, int32_t output_index) {
  const uint64_t bits = splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(output_index));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

bool is_plain_greedy(const sampling_params& params, int32_t output_index) {
  return params.temperature < greedy_temperature && !params.logprobs &&
         params.num_top_logprobs == 0 && !has_logits_processors(params, output_index);
}

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(
      kernels::cpu::argmax(logits.data(), static_cast<int64_t>(logits.size())));
}

float log_softmax_at(std::span<const float> logits, int32_t token) {
  // A NaN anywhere makes every log-probability NaN (log_sum_exp itself skips NaN entries).
  for (float l : logits)
    if (std::isnan(l)) return NAN;
  return static_cast<float>(logits[token] - log_sum_exp(logits));
}

sample_result sample_token(std::span<const float> logits, const sampling_params& params,
                           int32_t output_index, std::span<const int32_t> token_history) {
  std::vector<float> processed;
  std::span<const float> row = logits;
  if (has_logits_processors(params, output_index)) {
    processed.assign(logits.begin(), logits.end());
    const size_t num_outputs = std::min(token_history.size(), static_cast<size_t>(output_index));
    const auto prompt = token_history.first(token_history.size() - num_outputs);
    apply_logits_processors(processed, params, output_index, prompt,
                            token_history.last(num_outputs));
    row = processed;
  }
  int32_t token = -1;
  if (params.temperature >= greedy_temperature) {
    auto c = weigh(row, top_k_ids(row, params.top_k), params.temperature);
    if (params.min_p > 0.0f) keep_min_p(c, params.min_p);
    if (params.top_p < 1.0f) keep_nucleus(row, c, params.top_p);
    token = draw(c, uniform_draw(params.seed, output_index));
  }
  if (token < 0) token = argmax(row);  // greedy, or a row of inf/NaN
  const bool wants_logprob = params.logprobs || params.num_top_logprobs > 0;
  sample_result result{token, wants_logprob ? log_softmax_at(logits, token) : 0.0f, {}};
  if (params.num_top_logprobs > 0)
    result.top_logprobs = top_logprobs(logits, params.num_top_logprobs);
  return result;
}

}  // namespace troupe::runtime
