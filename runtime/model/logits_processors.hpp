#pragma once
// The logits processors of a sampling step, each a pure function applied in place to one row of
// logits. The sampler runs them in vLLM v1's order (vllm/v1/sample/sampler.py):
//
//   allowed_token_ids, bad_words -> min_tokens masking -> logit_bias
//   -> penalties (repetition, frequency, presence)
//   -> [greedy argmax here] -> temperature -> min_p -> top_k -> top_p -> draw
//
// (min_p and onwards live in sampler.cpp, on the candidate list.) Token ids outside the row are
// ignored everywhere: bad input never crashes.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/cpu/sampling.hpp"
#include "runtime/sampling_params.hpp"

namespace troupe::runtime {

// Whether any processor may change the row for this step (so the caller can skip copying it);
// a grammar's mask is not counted (append_logit_edits takes it).
bool has_logits_processors(const sampling_params& params, int32_t output_index);

// Whether a bad word's last token is masked after `output`: the outputs end with the rest of the
// word (vLLM's _apply_bad_words_single_batch; always for a one-token word).
bool bad_word_applies(std::span<const int32_t> word, std::span<const int32_t> output);

// While output_index < min_tokens: every id of min_tokens_stop_ids becomes -inf.
void apply_min_tokens(std::span<float> logits, const sampling_params& params, int32_t output_index);

// Adds logit_bias (already clamped) to the logits.
void apply_logit_bias(std::span<float> logits, const sampling_params& params);

// vLLM's apply_penalties: tokens in prompt or output get the repetition penalty (positive logits
// divided by it, others multiplied); each output token's logit loses frequency_penalty per
// occurrence and presence_penalty once.
void apply_penalties(std::span<float> logits, const sampling_params& params,
                     std::span<const int32_t> prompt, std::span<const int32_t> output);

// The three above, with allowed_token_ids (edit_allow on each allowed token: the row is
// allowed-only, sampling_row::allowed_only) and the bad words that apply (edit_mask), as per-token
// edits (kernels/cpu/sampling.hpp) of sampled row `row`, appended to `out`, one per token of the
// row that any of them changes, in no particular order (ids outside [0, vocab_size) are
// ignored); linear in the history. Applying them (kernels::cpu::apply_edit) gives
// apply_min_tokens, apply_logit_bias and apply_penalties' row bit for bit, except that the biases
// of a token listed twice are summed first (the HTTP layer never lists one twice); a backend
// applies them on the device. The masks come first in vLLM's order, and -inf stays -inf through
// the rest, so one edit a token holds them all.
//
// `grammar_allowed` (structured outputs: grammar::token_matcher::allowed()) masks every token
// whose bit is clear (ids past the mask included): with allowed_token_ids, the allowed ids
// outside it get edit_mask; otherwise, when it allows at most half of the row, its tokens get
// edit_allow (an allowed-only row: few edits for the usual few allowed tokens), and else the
// others get edit_mask. Returns whether the row is allowed-only (sampling_row::allowed_only).
bool append_logit_edits(const sampling_params& params, int32_t output_index,
                        std::span<const int32_t> prompt, std::span<const int32_t> output,
                        int32_t row, int32_t vocab_size, std::vector<kernels::cpu::logit_edit>& out,
                        const std::vector<uint64_t>* grammar_allowed = nullptr);

// Runs every processor in order (through append_logit_edits and apply_edit; with
// allowed_token_ids, every other token -inf).
void apply_logits_processors(std::span<float> logits, const sampling_params& params,
                             int32_t output_index, std::span<const int32_t> prompt,
                             std::span<const int32_t> output);

// log(sum(exp(logits))) in double, ignoring NaN; -inf for a row without a finite-or-inf value.
double log_sum_exp(std::span<const float> logits);

// The `n` highest logits as (id, log_softmax) pairs, most likely first, lowest id on ties, NaN
// never listed. n is capped to the row size.
std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int32_t n);

}  // namespace troupe::runtime
