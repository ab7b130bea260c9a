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
  if (params.has_penalties() || !params.allowed_token_ids.empty()) return true;
  return !params.logit_bias.empty() || !params.bad_words_token_ids.empty() ||
         (output_index < params.min_tokens && !params.min_tokens_stop_ids.empty());
}

bool bad_word_applies(std::span<const int32_t> word, std::span<const int32_t> output) {
  if (word.empty() || word.size() - 1 > output.size()) return false;
  const auto prefix = word.first(word.size() - 1);
  return std::equal(prefix.begin(), prefix.end(),
                    output.end() - static_cast<std::ptrdiff_t>(prefix.size()));
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

bool append_logit_edits(const sampling_params& params, int32_t output_index,
                        std::span<const int32_t> prompt, std::span<const int32_t> output,
                        int32_t row, int32_t vocab_size, std::vector<kernels::cpu::logit_edit>& out,
                        const std::vector<uint64_t>* grammar_allowed) {
  namespace k = kernels::cpu;
  // Each token's edit is found through a per-thread table indexed by token (stamped per call, so
  // it is never cleared): linear in the history, which a repetition penalty reads whole every
  // step.
  thread_local std::vector<uint32_t> stamp;
  thread_local std::vector<int32_t> slot;
  thread_local std::vector<int32_t> output_counts;  // per new edit
  thread_local uint32_t call = 0;
  if (++call == 0) {  // wrapped: forget every stamp
    std::fill(stamp.begin(), stamp.end(), 0u);
    call = 1;
  }
  const size_t first = out.size();
  output_counts.clear();
  auto edit_of = [&](int32_t id) -> k::logit_edit* {
    if (id < 0 || id >= vocab_size) return nullptr;
    const auto i = static_cast<size_t>(id);
    if (i >= stamp.size()) {
      stamp.resize(i + 1, 0u);
      slot.resize(i + 1, 0);
    }
    if (stamp[i] != call) {
      stamp[i] = call;
      slot[i] = static_cast<int32_t>(out.size() - first);
      k::logit_edit& e = out.emplace_back();
      e.row = row;
      e.id = id;
      output_counts.push_back(0);
    }
    return &out[first + static_cast<size_t>(slot[i])];
  };
  for (int32_t id : params.allowed_token_ids)
    if (auto* e = edit_of(id)) e->flags |= k::edit_allow;
  bool allowed_only = !params.allowed_token_ids.empty();
  if (grammar_allowed != nullptr) {
    const auto& mask = *grammar_allowed;
    auto in_grammar = [&](int32_t id) {
      const auto word = static_cast<size_t>(id) >> 6;
      return word < mask.size() && ((mask[word] >> (id & 63)) & 1) != 0;
    };
    if (allowed_only) {
      for (int32_t id : params.allowed_token_ids)
        if (!in_grammar(id))
          if (auto* e = edit_of(id)) e->flags |= k::edit_mask;
    } else {
      int64_t num_allowed = 0;
      for (int32_t id = 0; id < vocab_size; ++id)
        num_allowed += in_grammar(id) ? 1 : 0;
      allowed_only = 2 * num_allowed <= vocab_size;
      for (int32_t id = 0; id < vocab_size; ++id) {
        if (in_grammar(id) == allowed_only)
          edit_of(id)->flags |= allowed_only ? k::edit_allow : k::edit_mask;
      }
    }
  }
  for (const auto& word : params.bad_words_token_ids) {
    if (!bad_word_applies(word, output)) continue;
    if (auto* e = edit_of(word.back())) e->flags |= k::edit_mask;
  }
  if (output_index < params.min_tokens) {
    for (int32_t id : params.min_tokens_stop_ids)
      if (auto* e = edit_of(id)) e->flags |= k::edit_mask;
  }
  // A token listed twice adds its biases up first, in list order.
  for (auto [id, bias] : params.logit_bias) {
    if (auto* e = edit_of(id)) {
      e->bias = (e->flags & k::edit_bias) ? e->bias + bias : bias;
      e->flags |= k::edit_bias;
    }
  }
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool subtract = params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
  if (repetition) {
    for (int32_t id : prompt) {
      if (auto* e = edit_of(id)) {
        e->flags |= k::edit_repetition;
        e->repetition_penalty = params.repetition_penalty;
      }
    }
  }
  if (repetition || subtract) {
    for (int32_t id : output) {
      auto* e = edit_of(id);
      if (e == nullptr) continue;
      if (repetition) {
        e->flags |= k::edit_repetition;
        e->repetition_penalty = params.repetition_penalty;
      }
      if (subtract) ++output_counts[static_cast<size_t>(e - out.data()) - first];
    }
  }
  for (size_t j = 0; j < output_counts.size(); ++j) {
    if (output_counts[j] == 0) continue;
    k::logit_edit& e = out[first + j];
    e.flags |= k::edit_subtract;
    e.subtract =
        k::penalty_subtrahend(params.frequency_penalty, output_counts[j], params.presence_penalty);
  }
  // An allowed-only row: a token edited for another reason but not allowed stays -inf.
  if (allowed_only) {
    for (size_t j = first; j < out.size(); ++j)
      if ((out[j].flags & k::edit_allow) == 0) out[j].flags |= k::edit_mask;
  }
  return allowed_only;
}

void apply_logits_processors(std::span<float> logits, const sampling_params& params,
                             int32_t output_index, std::span<const int32_t> prompt,
                             std::span<const int32_t> output) {
  thread_local std::vector<kernels::cpu::logit_edit> edits;
  edits.clear();
  (void)append_logit_edits(params, output_index, prompt, output, 0,
                           static_cast<int32_t>(logits.size()), edits);
  if (!params.allowed_token_ids.empty()) {
    // Only the allowed tokens (each has an edit) keep a logit.
    thread_local std::vector<float> kept;
    kept.assign(logits.size(), -std::numeric_limits<float>::infinity());
    for (const auto& e : edits)
      kept[e.id] = kernels::cpu::apply_edit(logits[e.id], e);
    std::copy(kept.begin(), kept.end(), logits.begin());
    return;
  }
  for (const auto& e : edits)
    logits[e.id] = kernels::cpu::apply_edit(logits[e.id], e);
}

double log_sum_exp(std::span<const float> logits) {
  return kernels::cpu::log_sum_exp(logits.data(), static_cast<int64_t>(logits.size()));
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int32_t n) {
  const auto capacity =
      static_cast<size_t>(std::clamp<int64_t>(n, 0, static_cast<int64_t>(logits.size())));
  std::vector<int32_t> ids(capacity);
  std::vector<float> values(capacity);
  const int32_t count = kernels::cpu::top_logprobs(
      logits.data(), static_cast<int64_t>(logits.size()), n, ids.data(), values.data());
  std::vector<std::pair<int32_t, float>> top;
  top.reserve(static_cast<size_t>(count));
  for (int32_t j = 0; j < count; ++j)
    top.emplace_back(ids[j], values[j]);
  return top;
}

}  // namespace troupe::runtime
