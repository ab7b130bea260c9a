#include "runtime/model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "runtime/model/logits_processors.hpp"

namespace troupe::runtime {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t random_bits(uint64_t seed, int32_t output_index) {
  return splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(output_index));
}

kernels::cpu::sampling_row sampling_row_for(const sampling_params& params, int32_t output_index) {
  kernels::cpu::sampling_row row;
  row.temperature = params.temperature;
  row.top_k = params.top_k;
  row.top_p = params.top_p;
  row.min_p = params.min_p;
  row.set_random(random_bits(params.seed, output_index));
  row.want_logprob = params.logprobs || params.num_top_logprobs > 0 ? 1 : 0;
  row.num_top_logprobs = params.num_top_logprobs;
  return row;
}

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(
      kernels::cpu::argmax(logits.data(), static_cast<int64_t>(logits.size())));
}

float log_softmax_at(std::span<const float> logits, int32_t token) {
  return kernels::cpu::log_softmax_at(logits.data(), static_cast<int64_t>(logits.size()), token);
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
  if (params.temperature >= kernels::cpu::greedy_temperature) {
    token = kernels::cpu::sample_row(row.data(), static_cast<int64_t>(row.size()),
                                     sampling_row_for(params, output_index));
  }
  if (token < 0) token = argmax(row);  // greedy, or a row of inf/NaN
  const bool wants_logprob = params.logprobs || params.num_top_logprobs > 0;
  sample_result result{token, wants_logprob ? log_softmax_at(logits, token) : 0.0f, {}};
  if (params.num_top_logprobs > 0)
    result.top_logprobs = top_logprobs(logits, params.num_top_logprobs);
  return result;
}

}  // namespace troupe::runtime
