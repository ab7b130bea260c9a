#pragma once
// The checks a Llama runner makes before it trusts its inputs: weights against their hparams
// (once, at creation) and every step batch against the cache (before each step).
#include <cstdint>

#include "base/result.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::runtime {

// Positive sizes, head counts that divide, an even head_dim, sane RoPE and window; every tensor
// of `weights` sized as llama_weights.hpp says (biases only with attention_bias; a random
// matrix in a format that can be generated: weight_matrix.hpp's has_shape); KV-cache scales
// finite and positive.
status check_llama_weights(const llama_weights& weights);

// Whether `batch` is well formed for a cache of `num_blocks` blocks of `block_size` and a vocab
// of `vocab_size`: token counts add up, every sequence has num_tokens >= 1 and start_pos >= 0,
// block tables cover [0, start_pos + num_tokens) with block ids in [0, num_blocks), no sequence
// is longer than the whole cache, token ids and prompt logprob targets are in [0, vocab_size)
// (at most num_tokens targets a sequence).
status validate_step_batch(const step_batch& batch, int32_t block_size, int32_t num_blocks,
                           int32_t vocab_size);

}  // namespace troupe::runtime
