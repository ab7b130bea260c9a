#pragma once
// Speculative decoding by prompt lookup (vLLM's `--speculative-config '{"method": "ngram", ...}'`):
// each step, a decoding request whose tokens end in an n-gram seen earlier in them proposes the
// tokens that followed that earlier occurrence as drafts; the next step computes its last token
// and the drafts together, and the executor keeps the drafts the model itself samples (see
// runtime/model_runner.hpp, "Draft tokens"). No draft model, so nothing else to run or cache.
#include <cstdint>
#include <span>
#include <vector>

namespace troupe::runtime {

// vLLM's dynamic speculative decoding: the drafts a request gets after a step of
// [first_batch_size, last_batch_size] scheduled requests.
struct batch_size_drafts {
  int32_t first_batch_size = 1;
  int32_t last_batch_size = 1;
  int32_t num_speculative_tokens = 0;
  bool operator==(const batch_size_drafts&) const = default;
};

struct speculative_config {
  // Drafts proposed per step at most; 0 = speculative decoding off.
  int32_t num_speculative_tokens = 0;
  // The n-gram lengths matched (vLLM's prompt_lookup_min / prompt_lookup_max, inclusive).
  int32_t prompt_lookup_min = 0;
  int32_t prompt_lookup_max = 0;
  // vLLM's num_speculative_tokens_per_batch_size: ranges sorted, disjoint, the first starting at
  // 1; empty = num_speculative_tokens at every batch size.
  std::vector<batch_size_drafts> per_batch_size;

  bool enabled() const { return num_speculative_tokens > 0; }
  // The drafts after a step of `batch_size` requests: the range holding it, a batch size between
  // two ranges or past the last taking the range before it (vLLM's dense schedule), never more
  // than num_speculative_tokens.
  int32_t drafts_for_batch_size(int32_t batch_size) const;
  bool operator==(const speculative_config&) const = default;
};

// What the drafts came to, summed over steps (vLLM's SpecDecodingStats): drafts (steps in which a
// request verified any), draft tokens, accepted ones, and accepted ones by position in the draft.
struct spec_decode_stats {
  int64_t num_drafts = 0;
  int64_t num_draft_tokens = 0;
  int64_t num_accepted_tokens = 0;
  std::vector<int64_t> num_accepted_tokens_per_pos;  // num_speculative_tokens entries
};

// vLLM's n-gram proposer: the longest n in [min_n, max_n] such that the last n tokens occur
// earlier in `tokens` (an occurrence may overlap them, but must end before the last token), at
// its earliest such occurrence; the drafts are the up to k tokens that follow it, no more than
// max_model_len - tokens.size(). Empty when no such n-gram exists.
// requires: 1 <= min_n <= max_n, k >= 0.
std::vector<int32_t> propose_ngram_drafts(std::span<const int32_t> tokens, int32_t min_n,
                                          int32_t max_n, int32_t k, int32_t max_model_len);

}  // namespace troupe::runtime
