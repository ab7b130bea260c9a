#include "runtime/model/logits_processors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/cpu/sampling.hpp"

namespace troupe::runtime {

namespace {

bool in_row(std::span<const float> logits, int32_t id) {
  return id >= 0 && id < static_cast<int32_t>(logits.size());
}

// Sorted copy: occurrences of one token become a run, so counting needs no hash map.
std::vector<int32_t> sorted(std::span<const int32_t> tokens) {
  std::vector<int32_t> v(tokens.begin(), tokens.end());
  std::sort(v.begin(), v.end());
  return v;
}

float repetition(float logit, float penalty) {
  return logit > 0.0f ? logit / penalty : logit * penalty;
}

}  // namespace

bool has_logits_processors(const sampling_params& params, int32_t output_index) {
  if (params.has_penalties()) return true;
  return !params.logit_bias.empty() ||
         (output_index < params.min_tokens && !params.min_tokens_stop_ids.empty());
}

void apply_min_tokens(std::span<float> logits, const sampling_params& params,
                      int32_t output_index) {
  if (output_index >= params.min_tokens) return;
  for (int32_t id : params.min_tokens_stop_ids)
    if (in_row(logits, id)) logits[id] = -std::numeric_limits<float>::infinity();
}

void apply_logit_bias(std::span<float> logits, const sampling_params& params) {
  for (auto [id, bias] : params.logit_bias)
    if (in_row(logits, id)) logits[id] += bias;
}

void apply_penalties(std::span<float> logits, const sampling_params& params,
                     std::span<const int32_t> prompt, std::span<const int32_t> output) {
  if (!params.has_penalties()) return;
  const auto outputs = sorted(output);
  if (params.repetition_penalty != 1.0f) {
    auto seen = sorted(prompt);
    seen.insert(seen.end(), outputs.begin(), outputs.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen)
      if (in_row(logits, id)) logits[id] = repetition(logits[id], params.repetition_penalty);
  }
  for (size_t i = 0; i < outputs.size();) {
    size_t end = i;
    while (end < outputs.size() && outputs[end] == outputs[i])
      ++end;
    if (in_row(logits, outputs[i])) {
      logits[outputs[i]] -=
          params.frequency_penalty * static_cast<float>(end - i) + params.presence_penalty;
    }
    i = end;
  }
}

void apply_logits_processors(std::span<float> logits, const sampling_params& params,
                             int32_t output_index, std::span<const int32_t> prompt,
                             std::span<const int32_t> output) {
  apply_min_tokens(logits, params, output_index);
  apply_logit_bias(logits, params);
  apply_penalties(logits, params, prompt, output);
}

double log_sum_exp(std::span<const float> logits) {
  return kernels::cpu::log_sum_exp(logits.data(), static_cast<int64_t>(logits.size()));
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int32_t n) {
  std::vector<int32_t> ids;
  ids.reserve(logits.size());
  for (int32_t i = 0; i < static_cast<int32_t>(logits.size()); ++i)
    if (!std::isnan(logits[i])) ids.push_back(i);
  const auto count = std::min<size_t>(static_cast<size_t>(std::max(n, 0)), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + count, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  const double lse = log_sum_exp(logits);
  std::vector<std::pair<int32_t, float>> top;
  top.reserve(count);
  for (size_t i = 0; i < count; ++i)
    top.emplace_back(ids[i], static_cast<float>(logits[ids[i]] - lse));
  return top;
}

}  // namespace troupe::runtime
