#pragma once
// The executor's side of the step protocol (runtime/step_delta.hpp): the state of every sequence
// it runs, built from the deltas the scheduler sends, and the step_batch each delta turns into.
//
//   seq 7  sampling (by value), prompt 5 tokens, computed 9
//          block table [12 | 3 | 40]      <- appended to by each chunk's new_block_ids
//          history     [t0 .. t8]         <- with penalties, bad words or a grammar only:
//                                            cached tokens, then every token the steps fed it
//          grammar     matcher after t5..t8 <- with a grammar only: fed the outputs of the
//                                            history before each sampling step (those after
//                                            grammar_after_token when it is set)
//          prompt      [t0 .. t4]         <- with prompt logprobs only: the rows of its prompt
//                                            chunks are scored on the next prompt token
//
// The scheduler mirrors it: the sequences held are the running ones plus those released since
// the last delta, so after a release they are exactly the running ones.
//
// Thread: not thread-safe; one owner (the executor actor, or a test).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "runtime/grammar/token_matcher.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/sampling_params.hpp"
#include "runtime/step_delta.hpp"

namespace troupe::runtime {

class sequence_states {
 public:
  struct state {
    sampling_params sampling;
    int32_t num_prompt_tokens = 0;
    int32_t num_computed_tokens = 0;  // positions the applied steps cover
    std::vector<int32_t> block_table;
    std::vector<int32_t> token_history;  // needs_token_history(): tokens [0, num_computed_tokens)
    // With prompt logprobs, until its outputs began (seq_admission::prompt_token_ids).
    std::vector<int32_t> prompt_token_ids;
    // The token its last applied step sampled (record_sampled), which a placeholder_token in the
    // next delta stands for; -1 when that step sampled nothing for it or has not returned.
    int32_t last_sampled = -1;
    // The drafts its last applied chunk ended in (speculative decoding): record_sampled takes the
    // rejected ones back.
    int32_t last_num_drafts = 0;
    // With sampling.grammar: where the outputs so far leave it.
    std::unique_ptr<grammar::token_matcher> grammar;
    // With sampling.grammar_after_token: the number of outputs searched for it so far, and the
    // index of the first output the grammar holds (-1 until the token is seen).
    int32_t grammar_outputs_searched = 0;
    int32_t grammar_first_output = -1;
  };

  // `vocabulary` (the tokenizer's token bytes) is what grammars of structured outputs are matched
  // against; without one, a sequence with a grammar is refused.
  explicit sequence_states(std::shared_ptr<const grammar::token_vocabulary> vocabulary = nullptr)
      : vocabulary_(std::move(vocabulary)) {}

  // Forgets delta.released, then applies the rest and returns the runner's batch. The batch
  // views this object's histories: it is valid until the next apply or release.
  // Errors (nothing but the release applied): a sequence admitted twice or while held, cached
  // tokens that do not match num_computed_tokens (needs_token_history) or none expected, prompt
  // tokens other than none or num_prompt_tokens of them (with prompt logprobs), a chunk of a
  // sequence neither held nor admitted or scheduled twice, an admission not scheduled, a chunk
  // of no tokens or that samples inside its prompt, drafts in a chunk that does not sample or
  // of no other token, token_ids not the chunks' sum, a
  // placeholder_token other than a held sequence's only token right after a step that sampled
  // for it (the placeholder becomes that token), a grammar that does not compile or without a
  // vocabulary. After a failed step (record_failed_step) a
  // placeholder without its token becomes token 0 instead: the scheduler fails the step after a
  // failed one anyway, and every tensor-parallel rank must run it alike (a rank whose step failed
  // after its last collective has no token where the others have one).
  result<step_batch> apply(const step_delta& delta);

  // The tokens the runner sampled for the last applied delta, for placeholders in the next one;
  // a sequence whose chunk ended in drafts loses the rejected ones (those past the drafts its
  // sampled tokens accepted) from its computed tokens and history. Sequences it does not hold,
  // and prompt logprobs, are ignored.
  void record_sampled(std::span<const sampled_token> tokens);
  // The last delta's step failed (refused, or the runner threw): it sampled nothing.
  void record_failed_step() { previous_step_failed_ = true; }

  // Forgets these sequences; ids it does not hold are ignored (a request aborted while waiting).
  void release(std::span<const uint64_t> seq_ids);

  int32_t num_sequences() const { return static_cast<int32_t>(states_.size()); }
  const state* find(uint64_t seq_id) const;

 private:
  status check(const step_delta& delta) const;
  status check_placeholders(const seq_chunk& chunk, int64_t offset,
                            std::span<const int32_t> token_ids) const;
  seq_step advance(state& s, const seq_chunk& chunk, std::span<int32_t> tokens);
  // The compiled grammar and its masks, shared by every sequence of the same grammar text; kept
  // while used, and up to max_idle_grammars more.
  result<std::shared_ptr<grammar::grammar_masks>> grammar_for(const std::string& text);
  // The index of the first output `s`'s grammar holds (0 without grammar_after_token), or -1
  // while the outputs do not contain that token yet.
  static int32_t grammar_first_output(state& s, std::span<const int32_t> outputs);
  static constexpr size_t max_idle_grammars = 16;

  std::shared_ptr<const grammar::token_vocabulary> vocabulary_;
  std::unordered_map<std::string, std::shared_ptr<grammar::grammar_masks>> grammars_;
  std::unordered_map<uint64_t, state> states_;
  bool previous_step_failed_ = false;
};

}  // namespace troupe::runtime
