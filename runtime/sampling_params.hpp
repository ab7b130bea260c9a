#pragma once
// Per-request sampling settings, as the OpenAI/vLLM API names them.
//
// A plain value: it crosses to the executor once per admitted sequence (runtime/step_delta.hpp),
// not every step. The token counts the penalties need are not here: the executor keeps each
// sequence's token history (runtime/sequence_states.hpp) and hands it to the runner.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace troupe::runtime {

struct sampling_params {
  float temperature = 1.0f;  // 0 = greedy (argmax)
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  int32_t top_k = -1;        // -1 or 0 = disabled
  float min_p = 0.0f;        // keep tokens with prob >= min_p * max prob; 0 = disabled
  // Penalties, vLLM semantics: repetition (> 0, 1 = off) divides positive / multiplies negative
  // logits of tokens in the prompt or output; presence subtracts once per token present in the
  // output, frequency once per occurrence in the output. Presence/frequency in [-2, 2].
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  // No stop token (min_tokens_stop_ids) can be sampled before this many outputs.
  int32_t min_tokens = 0;
  // Whether the sampled token's logprob is wanted (the request asked for logprobs); computing it
  // costs an exp() per vocabulary entry, so sampled_token::logprob is 0 otherwise.
  bool logprobs = false;
  // Top-N raw logprobs the runner reports with each sampled token (0 = none).
  int32_t num_top_logprobs = 0;
  // vLLM's prompt_logprobs: >= 0, the runner also scores every prompt token after the first (its
  // logprob given the tokens before it, its rank, and this many top logprobs of that position);
  // -1, none.
  int32_t num_prompt_logprobs = -1;
  // Seed of the request's random stream. Token i of a request draws from a stream derived only
  // from (seed, i), so a seeded request samples the same tokens alone or inside any batch.
  uint64_t seed = 0;
  // Token id -> additive bias on the logit, each bias clamped to [-100, 100] (vLLM's range).
  // Sorted by id, one entry per id.
  std::vector<std::pair<int32_t, float>> logit_bias;
  // Tokens masked to -inf while fewer than `min_tokens` tokens were generated: the request's stop
  // token ids and the end-of-generation tokens.
  std::vector<int32_t> min_tokens_stop_ids;
  // vLLM's allowed_token_ids: when non-empty, every other token is masked to -inf. Sorted, one
  // entry per id.
  std::vector<int32_t> allowed_token_ids;
  // vLLM's bad_words, tokenized (each word alone and after a space): a word's last token is
  // masked to -inf when the outputs so far end with the rest of it (a one-token word always).
  std::vector<std::vector<int32_t>> bad_words_token_ids;
  // Structured outputs (vLLM's structured_outputs / response_format): grammar text
  // (runtime/grammar/grammar.hpp) the output must match, already checked to compile; every token
  // that would leave it is masked to -inf, and the end-of-generation tokens only pass where it
  // may end. Empty = none.
  std::string grammar;
  // With a grammar and >= 0: the grammar holds only the outputs after the first one equal to
  // this token (a reasoning parser's end of reasoning, e.g. </think>: vLLM constrains the
  // answer, not the reasoning); the outputs up to and including it are free. -1: from the first.
  int32_t grammar_after_token = -1;

  bool has_penalties() const {
    return presence_penalty != 0.0f || frequency_penalty != 0.0f || repetition_penalty != 1.0f;
  }
  // Whether sampling reads the token history (runtime/sequence_states.hpp keeps it).
  bool needs_token_history() const {
    return has_penalties() || !bad_words_token_ids.empty() || !grammar.empty();
  }
  bool operator==(const sampling_params&) const = default;
};

}  // namespace troupe::runtime
