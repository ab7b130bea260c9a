#pragma once
// One generation as the scheduler tracks it. There is no prefill or decode mode: the request has
// `num_tokens()` tokens (prompt + output so far) and `num_computed_tokens` of them are in the KV
// cache; each step schedules some of the rest.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/sampling_params.hpp"
#include "runtime/sched/block_hash.hpp"

namespace troupe::runtime {

enum class finish_reason : uint8_t { none, stop, length, abort };

// "stop", "length", "abort" (as the OpenAI API spells them); "" for none.
std::string_view to_string(finish_reason reason);

// What a client asks the scheduler for.
struct request_spec {
  uint64_t id = 0;
  std::vector<int32_t> prompt_token_ids;
  int32_t max_tokens = 16;  // output tokens at most; >= 1
  // End-of-generation tokens (ignored with ignore_eos): finish "stop" without a stop reason.
  std::vector<int32_t> stop_token_ids;
  // The request's own stop_token_ids (honoured with ignore_eos too): finish "stop" with the token
  // as the stop reason. Neither kind stops a request before sampling.min_tokens outputs.
  std::vector<int32_t> request_stop_token_ids;
  bool ignore_eos = false;
  bool return_logprobs = false;  // outputs carry each token's sampled_token (logprobs)
  sampling_params sampling;
  // Prefix caching: a request with cache_prefix shares the KV blocks of other such requests
  // with the same salt and leading tokens. `prompt_block_hashes` are the hashes of the prompt's
  // full blocks (block_hash.hpp; `cache_salt` is block 0's extra key), computed by the caller off
  // the step loop; the scheduler computes any that are missing and those of output blocks.
  bool cache_prefix = false;
  std::string cache_salt;
  std::vector<block_hash> prompt_block_hashes;
  // vLLM's request priority: under scheduling_policy::priority, lower values are admitted first
  // and preempted last (ties go by arrival). Ignored under FCFS, as vLLM ignores it.
  int64_t priority = 0;
};

struct sched_request {
  explicit sched_request(request_spec s);

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  int32_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  // Tokens once the steps in flight return: the known ones and the placeholders.
  int32_t num_tokens_with_placeholders() const { return num_tokens() + num_output_placeholders; }

  request_spec spec;               // prompt_token_ids moved out into token_ids
  std::vector<int32_t> token_ids;  // prompt, then output
  int32_t num_prompt_tokens = 0;
  int32_t num_computed_tokens = 0;
  // Outputs sampled by scheduled steps whose tokens have not come back: the scheduler counts
  // them as tokens. With async scheduling (two steps in flight) up to two; the next step feeds
  // the first as placeholder_token (runtime/step_delta.hpp).
  int32_t num_output_placeholders = 0;
  // Speculative decoding: the tokens proposed to follow token_ids, for its next step to verify.
  std::vector<int32_t> draft_token_ids;
  int32_t num_preemptions = 0;
  // With spec.cache_prefix: the hashes of every full block of token_ids.
  std::vector<block_hash> block_hashes;
  // Leading blocks whose hashes went to the allocator with a step that fills them. A block that
  // a placeholder fills has no hash yet: it goes with the next step (async scheduling).
  int32_t num_hashes_offered = 0;
  // Tokens found in the prefix cache when first admitted (vLLM's num_cached_tokens); -1 before.
  int32_t num_cached_tokens = -1;
  bool waiting_after_preemption = false;
  int32_t num_times_passed_over = 0;  // admission passed over it for requests behind it
  // The order requests reached the scheduler (vLLM's arrival_time): ties of priority go to the
  // earlier one, which keeps its place when preempted.
  uint64_t arrival = 0;
};

}  // namespace troupe::runtime
