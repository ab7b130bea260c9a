#pragma once
// vLLM's beam search (`use_beam_search`, its serving layer's algorithm) over an engine: each of
// max_tokens rounds asks the engine for one token of every beam, with the 2 * beam_width most
// likely next tokens and their logprobs (the raw logits' log-softmax), as ordinary one-token
// requests whose prompts are the beams (the prefix cache holds what they share), then keeps the
// beam_width best continuations by cumulative logprob. A continuation by the tokenizer's EOS
// (unless ignore_eos) completes a beam. After the last round the completed and the live beams are
// ranked by cumulative logprob / (tokens, prompt included, EOS not) ^ length_penalty, and the best
// beam_width become the choices, best first: one final event each, with its text (decoded
// without the EOS), its tokens (the EOS only with include_stop_str_in_output), finish_reason
// "stop" with the EOS as stop_token_id, or "length". With the request's logprobs each token
// carries its round's dictionary (token_logprob::whole_dictionary), as vLLM's beams do.
//
// Every round goes to the data-parallel engine the request's first round would (engine::route),
// where the prefix cache holds the beams' shared tokens (vLLM routes each beam on its own).
//
// As in vLLM, nothing else of the request applies (stop strings, penalties, logit_bias,
// structured outputs, top-k/top-p/min-p): the rounds sample at `temperature`, which moves only
// the sampled token offered beside the most likely ones.
//
// Thread: start() from any thread; the rounds go on from the engine's sink callbacks; abort()
// from any thread.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "actors/engine.hpp"

namespace troupe::actors {

struct beam_search_params {
  int32_t beam_width = 1;  // the request's n
  double length_penalty = 1.0;
  float temperature = 0.0f;
  bool include_stop_str_in_output = false;
};

class beam_search : public std::enable_shared_from_this<beam_search> {
 public:
  // Searches for `request`'s prompt (text or token ids, tokenized as the engine tokenizes any
  // request; its cache_salt kept) for request.max_tokens tokens (<= 0: up to the model's
  // length), with request.ignore_eos and request.skip_special_tokens. `sink` gets one final
  // event per choice, index 0 up, or one error event (a round's error, or a prompt with no room
  // for max_tokens: the engine's 400). With request.return_prompt_token_ids the first event
  // carries the prompt's ids.
  static std::shared_ptr<beam_search> start(engine& eng, generation_request request,
                                            const beam_search_params& params,
                                            std::shared_ptr<generation_sink> sink);

  // Stops the rounds in flight; the sink gets "abort" events. Idempotent.
  void abort();

  struct beam {
    std::vector<int32_t> tokens;  // the prompt, then the beam's tokens
    double cum_logprob = 0.0;
    bool stopped = false;  // completed by EOS
    // With the request's logprobs: each step's token with its step's dictionary (one more than
    // the tokens when an EOS completed the beam without joining them, as in vLLM).
    std::vector<token_logprob> logprobs;
  };

  // The ranking key vLLM sorts finished beams by (get_beam_search_score).
  static double score(const beam& b, int32_t eos_token_id, double length_penalty);

  beam_search(engine& eng, generation_request request, const beam_search_params& params,
              std::shared_ptr<generation_sink> sink);  // use start()

 private:
  class round_sink;

  void submit_round();
  void on_result(size_t beam_index, generation_event event);
  // Keeps the best continuations of this round's results; false when none is left.
  bool advance();
  void finish(const char* reason);
  void fail(generation_event event);

  engine& engine_;
  generation_request request_;
  beam_search_params params_;
  std::shared_ptr<generation_sink> sink_;
  int32_t eos_token_id_ = -1;

  std::mutex mu_;
  int32_t num_prompt_tokens_ = -1;  // known once the first round has tokenized it
  int32_t rounds_left_ = 0;
  std::vector<beam> beams_;
  std::vector<beam> completed_;
  std::vector<generation_event> results_;  // this round's, by beam
  std::vector<uint64_t> in_flight_;        // this round's engine ids
  size_t num_pending_ = 0;
  bool aborted_ = false;
  bool done_ = false;
};

}  // namespace troupe::actors
