#pragma once
// What the scheduler sends the executor each step: what changed since the last one. The executor
// keeps the state of every sequence it runs (runtime/sequence_states.hpp) and rebuilds the
// runner's step_batch from it, so a decode step costs a few bytes per sequence whatever its
// context length. Every field is a value (nothing is shared between the two sides), so the
// message can cross to another process or node unchanged.
//
//   field      scheduler sends                          executor does
//   released   sequences it ran that finished, were     forgets them (their blocks are freed)
//              aborted or failed since the last step,
//              or were preempted in this one
//   admitted   (re)admitted sequences: sampling,        starts each with an empty table, at
//              prompt length, tokens already cached     num_computed_tokens, its history the
//              (prefix hits), with penalties those      cached tokens
//              tokens, with prompt logprobs the prompt
//   seqs       every scheduled sequence in batch        appends new_block_ids to its table and
//              order: its tokens this step, whether it  its tokens to its history; start_pos =
//              samples, blocks new to its table (an     tokens before, output_index derived
//              admitted one's whole table)
//   token_ids  this step's tokens, in seqs order        -> step_batch::token_ids
//
// A sequence's life on the executor: admitted -> scheduled in some steps -> released. Preemption
// releases it (its KV is gone); a readmission starts it again from its new table.
//
// Async scheduling (--async-scheduling): the scheduler sends step N+1 before step N's tokens are
// back, so a sequence that samples in step N and decodes in step N+1 has no token id to send yet.
// Its one token in step N+1 is placeholder_token, which the executor replaces with the token it
// sampled for that sequence in step N (sequence_states::record_sampled).
//
// Speculative decoding (runtime/sched/speculative.hpp): a decoding sequence's chunk may end in
// num_draft_tokens drafts after its last sampled token. The executor samples a token after each
// of them and keeps the drafts up to the first its model disagrees with (model_runner.hpp, "Draft
// tokens"); both sides then take the rejected drafts back from the sequence's computed tokens.
// Under pipeline parallelism only the last stage samples: the others take them back when the
// sequence's next chunk says where it starts (seq_chunk::start).
#include <cstdint>
#include <vector>

#include "runtime/sampling_params.hpp"

namespace troupe::runtime {

// In step_delta::token_ids: "the token this sequence sampled in its previous step".
inline constexpr int32_t placeholder_token = -1;

// A sequence the executor holds no state for: first admission, or readmission after preemption.
// It is scheduled in the same step.
struct seq_admission {
  uint64_t seq_id = 0;
  sampling_params sampling;
  int32_t num_prompt_tokens = 0;
  // Tokens already in the KV cache (prefix-cache hits): its first step starts here.
  int32_t num_computed_tokens = 0;
  // With penalties or bad words (needs_token_history): its first num_computed_tokens tokens, which
  // no step feeds the executor; empty otherwise.
  std::vector<int32_t> cached_token_ids;
  // With prompt logprobs (sampling.num_prompt_logprobs >= 0) and no output yet: the whole
  // prompt, whose next token each prompt row is scored on; empty otherwise.
  std::vector<int32_t> prompt_token_ids;

  bool operator==(const seq_admission&) const = default;
};

// One sequence's share of a step: tokens [start, start + num_tokens) with start = the tokens the
// executor has for it (its num_computed_tokens at admission plus every earlier chunk).
struct seq_chunk {
  uint64_t seq_id = 0;
  int32_t num_tokens = 0;              // >= 1
  bool sample = false;                 // the last token's logits produce a new token
  std::vector<int32_t> new_block_ids;  // appended to its block table (after admission: all)
  // With sample: the chunk's last tokens that are drafts (speculative decoding), else 0.
  int32_t num_draft_tokens = 0;
  // Pipeline parallelism: the tokens before this chunk as the scheduler counts them, else -1.
  // The stages before the last never learn how many of a step's drafts were accepted; a rank that
  // holds more tokens than this takes the excess back (at most its last step's drafts).
  int32_t start = -1;

  bool operator==(const seq_chunk&) const = default;
};

struct step_delta {
  std::vector<uint64_t> released;       // forgotten first
  std::vector<seq_admission> admitted;  // then started, in order
  std::vector<seq_chunk> seqs;          // the batch: running sequences first, then admitted
  std::vector<int32_t> token_ids;       // every chunk's tokens, concatenated in `seqs` order

  bool operator==(const step_delta&) const = default;
};

}  // namespace troupe::runtime
