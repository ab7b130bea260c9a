#pragma once
// Turns one generation's engine events into the bytes of its HTTP response: a JSON completion,
// or a stream of server-sent events (one chunk per event with new text, the finish reason on the
// last, an optional usage chunk, then [DONE]).
//
// The response head is deferred to the first event, so an engine error reported first becomes a
// plain JSON error with the engine's status instead of a stream; an error after the stream has
// started becomes a `data: {"error": ...}` event followed by [DONE].
//
// With n > 1 the events of the choices interleave, each tagged with its index: the JSON
// completion lists one choice per index once every choice has finished; a stream's chunks carry
// their choice's index and [DONE] follows the last choice's end. Usage counts the completion
// tokens of all choices; with responder_options::prompt_tokens_details it also reports the prompt
// tokens served from the prefix cache (vLLM: only when non-zero). Prompt logprobs (a request's
// prompt_logprobs, or echo with logprobs) arrive on each choice's first event: the JSON choice
// lists them as vLLM's prompt_logprobs, and echo puts them before the generated tokens' logprobs.
// A stream sends a chunk for every event with tokens, as vLLM does, even when its text is held
// back (a possible stop string, an incomplete character).
//
// Thread: not thread-safe; the owning HTTP session calls it from its strand only.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "http/openai_json.hpp"
#include "http/request_metrics.hpp"

namespace troupe::http {

struct responder_options {
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool keep_alive = true;      // what the client asked for
  // false for HTTP/1.0 clients: a stream is then sent unframed and ends by closing.
  bool chunked = true;
  int32_t n = 1;  // choices per prompt
  // --enable-request-id-headers: the response's X-Request-Id header (empty: none).
  std::string request_id;
  // A batched request's prompts: events carry index 0 .. num_prompts * n - 1, prompt p's choices
  // from p * n on; usage adds up the prompts' tokens.
  int32_t num_prompts = 1;
  int32_t logprobs = -1;  // the request's logprobs: -1 = none, else top-N per token
  // Decodes the logprobs' token texts; required when logprobs >= 0, outlives the responder.
  const runtime::tokenizer* tokenizer = nullptr;
  // server_options::enable_prompt_tokens_details: usage reports cached prompt tokens.
  bool prompt_tokens_details = false;
  // "echo": each choice's text starts with its prompt's echo_texts entry (the prompt, decoded
  // with special tokens when given as token ids; none: empty) and its logprobs with the prompt's
  // (events' prompt_logprobs); echo_only (max_tokens 0): the generated token is left out of text
  // and logprobs (vLLM).
  bool echo = false;
  bool echo_only = false;
  std::vector<std::string> echo_texts;
  // vLLM's return_tokens_as_token_ids: logprobs name tokens "token_id:<id>".
  bool tokens_as_ids = false;
  // server_options::enable_per_request_metrics: the body, or a stream's usage chunk, carries
  // vLLM's "metrics" (http/request_metrics.hpp has where and when).
  bool request_metrics = false;
  // The request asked for prompt logprobs (events' prompt_logprobs): the JSON choices list them.
  bool prompt_logprobs = false;
  // vLLM's return_token_ids: choices (and chunks) carry their token_ids, and the prompt's ids
  // (events' prompt_token_ids) on a choice, or a choice's first chunk; a stream's echo sends the
  // prompt's ids on the choice's first chunk too.
  bool return_token_ids = false;
  // stream_options.continuous_usage_stats: every chunk carries its choice's usage so far.
  bool continuous_usage = false;
};

// Takes an event's prompt counts into `usage`: prompt_tokens from every event; with
// `prompt_tokens_details`, cached_tokens from the first event that reports any (the choices of
// one request report the same number).
void count_prompt_tokens(completion_usage& usage, const actors::generation_event& event,
                         bool prompt_tokens_details);

class completion_responder {
 public:
  completion_responder(completion_meta meta, responder_options options);

  // Consumes the next event and returns the bytes to send (possibly empty). The terminal event
  // (finished, or an error) completes the response; later events are ignored.
  std::string on_event(const actors::generation_event& event);

  bool done() const { return done_; }
  // Whether the connection may serve another request after this response.
  bool keep_alive() const;
  int status() const { return status_; }  // 0 until the head has been produced
  const std::string& finish_reason() const { return finish_reason_; }
  const completion_usage& usage() const { return usage_; }
  const completion_meta& meta() const { return meta_; }

 private:
  std::string on_complete_event(const actors::generation_event& event);
  std::string on_stream_event(const actors::generation_event& event);
  std::string stream_head();
  std::string stream_end();
  std::string frame(std::string_view bytes) const;
  std::string error_response(const actors::generation_event& event);
  // Records the event in its choice; false for an index out of range.
  bool record(const actors::generation_event& event);
  // The text and logprobs this event adds to its choice (echo: the prompt's first); the
  // logprobs' offsets start at `text_offset`.
  completion_choice new_output(const actors::generation_event& event, int32_t text_offset);
  bool all_finished() const { return num_finished_ == static_cast<int32_t>(choices_.size()); }
  // The response's metrics inputs (http/request_metrics.hpp).
  response_timing timing() const;
  // The prompt of choice `index` (0 .. num_prompts - 1).
  int32_t prompt_of(int32_t index) const;
  // Takes the event's prompt counts into the usage (a batch: summed over its prompts).
  void count_prompt(const actors::generation_event& event);

  struct choice_state {
    completion_choice choice;       // non-streaming: accumulated text and logprobs
    int32_t num_output_tokens = 0;  // so far
    int32_t next_text_offset = 0;   // a stream's next logprobs' (after the tokens reported)
    bool echoed = false;            // its prompt went out (echo)
    bool prompt_ids_sent = false;   // its prompt_token_ids went out (return_token_ids)
    bool finished = false;
  };

  completion_meta meta_;
  responder_options options_;
  completion_usage usage_;
  std::vector<completion_usage> prompt_usage_;  // a batch: each prompt's prompt counts
  std::vector<choice_state> choices_;
  int32_t num_finished_ = 0;
  std::string finish_reason_;
  std::optional<actors::request_timing> timing_;  // the last one reported
  int status_ = 0;
  bool done_ = false;
};

}  // namespace troupe::http
