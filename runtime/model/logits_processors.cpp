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
      logits[outputs[i]] -= kernels::cpu::penalty_subtrahend(
          params.frequency_penalty, static_cast<int32_t>(end - i), params.presence_penalty);
    }
    i = end;
  }
}

void append_logit_edits(const sampling_params& params, int32_t output_index,
                        std::span<const int32_t> prompt, std::span<const int32_t> output,
                        int32_t row, int32_t vocab_size,
                        std::vector<kernels::cpu::logit_edit>& out) {
  namespace k = kernels::cpu;
  // Every (token, what happens to it), sorted by token: each run becomes one edit.
  struct touch {
    int32_t id;
    uint32_t flag;
    float bias;
  };
  thread_local std::vector<touch> touches;
  touches.clear();
  auto add = [&](int32_t id, uint32_t flag, float bias = 0.0f) {
    if (id >= 0 && id < vocab_size) touches.push_back({id, flag, bias});
  };
  if (output_index < params.min_tokens) {
    for (int32_t id : params.min_tokens_stop_ids)
      add(id, k::edit_mask);
  }
  for (auto [id, bias] : params.logit_bias)
    add(id, k::edit_bias, bias);
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool subtract = params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
  if (repetition) {
    for (int32_t id : prompt)
      add(id, k::edit_repetition);
  }
  if (repetition || subtract) {
    for (int32_t id : output)
      add(id, (repetition ? k::edit_repetition : 0) | (subtract ? k::edit_subtract : 0));
  }
  // Stable: the biases of one token add up in logit_bias order.
  std::stable_sort(touches.begin(), touches.end(),
                   [](const touch& a, const touch& b) { return a.id < b.id; });
  for (size_t i = 0; i < touches.size();) {
    k::logit_edit e;
    e.row = row;
    e.id = touches[i].id;
    int32_t outputs = 0;  // occurrences in the output (the frequency penalty's count)
    bool first_bias = true;
    size_t end = i;
    for (; end < touches.size() && touches[end].id == e.id; ++end) {
      const touch& t = touches[end];
      e.flags |= t.flag & ~k::edit_subtract;
      if (t.flag & k::edit_bias) {
        e.bias = first_bias ? t.bias : e.bias + t.bias;
        first_bias = false;
      }
      if (t.flag & k::edit_subtract) ++outputs;
    }
    if (outputs > 0) {
      e.flags |= k::edit_subtract;
      e.subtract =
          k::penalty_subtrahend(params.frequency_penalty, outputs, params.presence_penalty);
    }
    if (e.flags & k::edit_repetition) e.repetition_penalty = params.repetition_penalty;
    out.push_back(e);
    i = end;
  }
}

void apply_logits_processors(std::span<float> logits, const sampling_params& params,
                             int32_t output_index, std::span<const int32_t> prompt,
                             std::span<const int32_t> output) {
  thread_local std::vector<kernels::cpu::logit_edit> edits;
  edits.clear();
  append_logit_edits(params, output_index, prompt, output, 0, static_cast<int32_t>(logits.size()),
                     edits);
  for (const auto& e : edits)
    logits[e.id] = kernels::cpu::apply_edit(logits[e.id], e);
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
