#pragma once
// Token sampling from one row of logits: a pure function of (logits, params, output_index,
// token history), in vLLM v1's order:
//
//   logits processors (logits_processors.hpp: min_tokens masking, logit_bias, penalties)
//   temperature < 1e-5  -> greedy argmax of the processed row (ties -> lowest id)
//   otherwise           -> kernels::cpu::sample_row (kernels/cpu/sampling.hpp): / temperature,
//                          top_k, min_p (prob >= min_p * max prob), the nucleus (smallest set of
//                          most likely tokens whose mass reaches top_p of what is left, at least
//                          one), then a draw by the row's random bits; the CUDA backend's
//                          sample_rows draws the same token from the same logits
//
// The random bits come from a counter-based generator (splitmix64 over seed and output index), so
// a seeded request samples the same tokens whatever batch it runs in and whatever ran before.
// The returned logprobs are log_softmax of the raw logits (before processors, temperature and
// filters): vLLM v1's default "raw_logprobs".
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/cpu/sampling.hpp"
#include "runtime/sampling_params.hpp"

namespace troupe::runtime {

struct sample_result {
  int32_t token_id = 0;
  float logprob = 0.0f;  // 0 unless params.logprobs or params.num_top_logprobs > 0
  std::vector<std::pair<int32_t, float>> top_logprobs;  // params.num_top_logprobs of them
};

// requires: logits non-empty. NaN logits never win and never crash; an all-NaN row yields its last
// id. `token_history` (needed only with penalties or bad words) is the request's prompt followed by
// its `output_index` outputs; a shorter history counts as all output.
sample_result sample_token(std::span<const float> logits, const sampling_params& params,
                           int32_t output_index, std::span<const int32_t> token_history = {});

// Greedy choice: the highest logit, lowest id on ties (kernels::cpu::argmax; a backend's
// argmax_rows gives the same).
int32_t argmax(std::span<const float> logits);

// log_softmax(logits)[token], accumulated in double in id order.
float log_softmax_at(std::span<const float> logits, int32_t token);

// The 64 random bits of token `output_index` of a request seeded with `seed`.
uint64_t random_bits(uint64_t seed, int32_t output_index);

// The sampling kernels' parameters of token `output_index` of a request with `params` (its
// random bits, want_logprob when it asks for logprobs, its top logprobs). Logits processors are
// not part of them: they go as edits (append_logit_edits).
kernels::cpu::sampling_row sampling_row_for(const sampling_params& params, int32_t output_index);

}  // namespace troupe::runtime
