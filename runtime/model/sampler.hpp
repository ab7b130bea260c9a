#pragma once
// Token sampling from one row of logits: a pure function of (logits, params, output_index).
//
//   temperature < 1e-5  -> greedy argmax (ties -> lowest id)
//   otherwise           -> logits / temperature -> keep top_k -> keep the nucleus (smallest set
//                          of most likely tokens whose mass reaches top_p, at least one)
//                          -> draw with u = uniform(seed, output_index)
//
// The draw comes from a counter-based generator (splitmix64 over seed and output index), so a
// seeded request samples the same tokens whatever batch it runs in and whatever ran before.
// The returned logprob is log_softmax of the raw (unscaled, unfiltered) logits at the token.
#include <cstdint>
#include <span>

#include "runtime/sampling_params.hpp"

namespace troupe::runtime {

struct sample_result {
  int32_t token_id = 0;
  float logprob = 0.0f;
};

// requires: logits non-empty. NaN logits never win and never crash; an all-NaN row yields 0.
sample_result sample_token(std::span<const float> logits, const sampling_params& params,
                           int32_t output_index);

// Greedy choice: the highest logit, lowest id on ties.
int32_t argmax(std::span<const float> logits);

// log_softmax(logits)[token], accumulated in double in id order.
float log_softmax_at(std::span<const float> logits, int32_t token);

// The uniform draw in [0, 1) for token `output_index` of a request seeded with `seed`.
double uniform_draw(uint64_t seed, int32_t output_index);

}  // namespace troupe::runtime
