#pragma once
// vLLM's `--speculative-config JSON`, read into runtime::speculative_config. troupe implements
// only vLLM's "ngram" method (prompt lookup decoding, runtime/sched/speculative.hpp): no draft
// model, so every other method, and every option that would change what ngram does, is refused
// with a message naming it.
#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "runtime/sched/speculative.hpp"

namespace troupe::runtime {

// The most drafts a request may verify in one step: vLLM's rejection sampler's MAX_SPEC_LEN.
inline constexpr int32_t max_num_speculative_tokens = 128;

// vLLM's prompt_lookup_min / prompt_lookup_max when neither is given.
inline constexpr int32_t default_prompt_lookup = 5;

// Parses the flag's value as vLLM 0.32 does (SpeculativeConfig, pydantic's lax types: 3, 3.0
// and "3" are the same integer; keys may use '-' for '_'; a repeated key's last value counts):
//   "", "None" and JSON null: speculative decoding off (num_speculative_tokens = 0).
//   method        "ngram"; or absent/null with model "ngram" or "[ngram]". With method "ngram"
//                 a model is ignored, as vLLM ignores it. Any other method or model is an error.
//   num_speculative_tokens   required, in [1, max_num_speculative_tokens].
//   prompt_lookup_min, prompt_lookup_max   integers >= 1; neither given: both
//                 default_prompt_lookup; one given: both that; min > max is an error.
//   num_speculative_tokens_per_batch_size   vLLM's dynamic schedule: null, [], or
//                 [[first, last, k], ...] batch-size ranges (disjoint once sorted, the first
//                 starting at 1, k >= 0), into speculative_config::per_batch_size.
//   Keys that change nothing for ngram (draft-model, EAGLE, MTP and suffix-decoding options,
//   enforce_eager, disable_padded_drafter_batch, draft_sample_method, ...) are checked for
//   their type and ignored. Keys that would change what ngram does and troupe does not
//   implement (parallel_drafting, enable_adaptive_verification, rejection_sample_method other
//   than "standard", synthetic_acceptance_*), the keys
//   vLLM refuses with ngram (tensor_parallel_size, index_share_for_mtp_iteration,
//   use_heterogeneous_vocab), and unknown keys are errors.
// guarantees: pure; an error's message starts with "--speculative-config: ".
result<speculative_config> parse_speculative_config(std::string_view json);

}  // namespace troupe::runtime
