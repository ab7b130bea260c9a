#pragma once
// The seam between scheduling and model execution: one step of a flattened batch in, one sampled
// token per sampling sequence out. Implemented by the CPU llama runner (and later by GPU ones);
// the executor actor owns one and calls it from its own thread.
//
// A step mixes prompt chunks and decode tokens. Sequence s contributes `num_tokens` consecutive
// tokens at positions [start_pos, start_pos + num_tokens); its KV lives in the blocks of
// `block_table` (token at position p is slot p % block_size of block block_table[p / block_size]).
//
//   token_ids: | s0: prompt chunk (start_pos 0, 5 tokens) | s1: decode (1) | s2: decode (1) |
//
// The executor builds each step's batch from its per-sequence state (runtime/sequence_states.hpp)
// and a step_delta; the batch views that state, so it is valid only until the state changes.
//
// Sequences may share blocks (prefix caching): a later sequence of a step may attend to
// positions that an earlier sequence of the same step writes (its start_pos lies past a block the
// earlier one fills in this step). A runner therefore writes a layer's K/V for every token of the
// batch before that layer's attention reads the cache. No two sequences write the same slot.
//
// Draft tokens (speculative decoding): a sampling sequence's last `num_draft_tokens` tokens may be
// guesses of its next outputs. The runner samples a token after its last known token and after
// each draft, each as if the drafts before it were the request's outputs (output index, history,
// grammar), and keeps them in order until one differs from the draft it stands for:
//
//   tokens   | t (sampled last step) | d0 | d1 | d2 |
//   sampled  |  s0 = d0              | s1 = d1 | s2 != d2 | (s3 not used)
//   result   s0 s1 s2: d0 and d1 accepted, d2 rejected, s2 the correction
//
// Each kept token is exactly what sampling one token per step would have drawn (the counter-based
// draws depend on the output index only, and the forward is batch invariant), so drafts change
// how many steps a generation takes, never its tokens. The rejected drafts' K/V stays in the cache
// past the sequence's computed tokens and is overwritten by later steps.
//
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "runtime/sampling_params.hpp"

namespace troupe::runtime::grammar {
class token_matcher;
}

namespace troupe::runtime {

struct seq_step {
  uint64_t seq_id = 0;
  int32_t num_tokens = 0;  // tokens of this sequence in this step (>= 1)
  int32_t start_pos = 0;   // position of the first of them (= tokens already in the KV cache)
  std::vector<int32_t> block_table;  // covers positions [0, start_pos + num_tokens)
  bool sample = false;  // true when the last token's logits produce a new token this step
  sampling_params sampling;
  // With `sample`: the index of the token to be sampled among the request's outputs (else the
  // outputs among this step's tokens, 0 for prompt chunks).
  int32_t output_index = 0;
  // With `sample`: how many of the last tokens are drafts; the runner samples num_draft_tokens + 1
  // rows, the first at output_index (see "Draft tokens"). token_history then runs through the
  // drafts too (prompt, output_index outputs, the drafts).
  int32_t num_draft_tokens = 0;
  // Set on sampling sequences whose request has penalties, bad words or a grammar: the request's
  // tokens so far (prompt, then its `output_index` outputs); empty otherwise. A view of the
  // executor's state.
  std::span<const int32_t> token_history;
  // Set on sampling sequences with a grammar (sampling_params::grammar): its matcher, fed every
  // output so far, whose allowed() tokens alone may be sampled. The executor's state.
  grammar::token_matcher* grammar = nullptr;
  // With sampling.num_prompt_logprobs >= 0: the prompt tokens that the first
  // prompt_logprob_targets.size() tokens of this step predict (those at start_pos + 1, ...), each
  // scored by its row's logits; empty otherwise. A view of the executor's state.
  std::span<const int32_t> prompt_logprob_targets;
};

struct step_batch {
  std::vector<int32_t> token_ids;  // all sequences' tokens, concatenated in `seqs` order
  std::vector<seq_step> seqs;
};

struct sampled_token {
  uint64_t seq_id = 0;
  int32_t token_id = 0;
  float logprob = 0.0f;  // natural-log probability of token_id under the (unmodified) logits
  // The sampling.num_top_logprobs most likely tokens under the unmodified logits with their
  // logprobs, most likely first (lowest id first on ties).
  std::vector<std::pair<int32_t, float>> top_logprobs;
  // A prompt logprob instead of a sampled token (sampling_params::num_prompt_logprobs): token_id
  // is the prompt's token at this position (>= 1), scored by the logits of the position before;
  // rank is kernels::cpu::logprob_rank there, top_logprobs that row's num_prompt_logprobs best.
  // -1 for a sampled token.
  int32_t prompt_position = -1;
  int32_t rank = 0;
};

// How many of the tokens sampled after a sequence's last known token and after each of its
// `drafts` (sampled.size() == drafts.size() + 1) it keeps: those up to the first that differs
// from the draft it stands for, that one included, or all of them (see "Draft tokens").
inline int32_t accept_draft_tokens(std::span<const int32_t> drafts,
                                   std::span<const int32_t> sampled) {
  size_t kept = 1;
  while (kept < sampled.size() && sampled[kept - 1] == drafts[kept - 1])
    ++kept;
  return static_cast<int32_t>(kept);
}

class model_runner {
 public:
  virtual ~model_runner() = default;

  // Runs the forward for every token of `batch` (writing their K/V into the cache) and samples one
  // token for each sequence with `sample` set, in `seqs` order (a sequence with drafts: its
  // accepted drafts' tokens and the one after them, 1 to num_draft_tokens + 1 entries in output
  // order, accept_draft_tokens); then come the prompt logprobs
  // (sampled_token::prompt_position >= 0) of every sequence's prompt_logprob_targets, in `seqs`
  // order, position order within a sequence.
  virtual std::vector<sampled_token> execute(const step_batch& batch) = 0;
  // The executor refused this step's delta, so execute() is not called for it: a runner that
  // exchanges a step's data with other ranks (a pipeline stage) keeps them in step (consumes
  // its input, tells the ranks after it). Must not throw.
  virtual void skip_step() {}
  // Pipeline parallelism: the seconds this rank's steps have waited so far for their input from
  // the stage before it (a stage idle for want of work); 0 elsewhere. Same thread as execute().
  virtual double input_wait_seconds() const { return 0.0; }

  virtual int32_t vocab_size() const = 0;
  virtual int32_t block_size() const = 0;
  virtual int32_t num_kv_blocks() const = 0;
};

}  // namespace troupe::runtime
