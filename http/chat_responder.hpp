#pragma once
// Turns one chat generation's engine events into the bytes of its HTTP response: a
// "chat.completion" JSON body, or a stream of "chat.completion.chunk" server-sent events (per
// choice a first chunk with the assistant role, then content deltas, the finish reason on a
// choice's last chunk; an optional usage chunk, then [DONE]). Under a forced tool call
// (tool_choice "required" or named) each choice's text becomes message.tool_calls, or tool-call
// deltas in a stream (http/tool_calls.hpp).
//
// Events of n choices may interleave (generation_event::index); the response is complete when
// every choice has finished. As in completion_responder, the head waits for the first event, so
// an engine error reported first becomes a plain JSON error; a later one becomes a
// `data: {"error": ...}` event followed by [DONE].
//
// Thread: not thread-safe; the owning HTTP session calls it from its strand only.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "http/chat_json.hpp"
#include "http/chat_output_parser.hpp"
#include "http/completion_responder.hpp"
#include "http/request_metrics.hpp"

namespace troupe::http {

struct chat_responder_options {
  // stream, include_usage, continuous_usage, keep_alive, chunked, prompt_tokens_details,
  // request_metrics
  responder_options response;
  int32_t num_choices = 1;  // the request's n
  // The request's top_logprobs when it asked for logprobs, else -1; with the tokenizer that
  // decodes the logprob tokens (required when >= 0; must outlive the responder).
  chat_logprobs_format logprobs;
  // "echo": each choice's content starts with this (a stream sends it right after the role).
  std::string echo_text;
  // The message's (a stream's first delta's) role: chat_completion_request's.
  std::string role = "assistant";
  // tool_choice "required" or named: each choice's text becomes tool calls (http/tool_calls.hpp).
  tool_choice_mode tool_choice;
  // Under --reasoning-parser or an "auto" tool choice (http/chat_output_setup.hpp): makes a
  // choice's answer parser, which splits the reasoning off and finds "auto" tool calls; a forced
  // call is then read from the content after the reasoning. Empty: the answer is content.
  std::function<std::unique_ptr<chat_output_parser>()> make_parser;
  // The prompt's ids, for a stream's parsers (the prompt may have ended the reasoning already).
  std::vector<int32_t> prompt_token_ids;
  // A reasoning parser is set: usage reports completion_tokens_details.reasoning_tokens.
  bool reasoning_tokens_details = false;
  // include_reasoning false under a parser: vLLM sends no logprobs and no token_ids (they would
  // show the reasoning).
  bool hide_metadata = false;
  // vLLM's return_token_ids: choices and chunks carry their token_ids, and the response (a
  // stream's role chunks) the prompt's ids, from the first event (its prompt_token_ids).
  bool return_token_ids = false;
  // The request asked for prompt logprobs (events' prompt_logprobs): the response lists them.
  bool prompt_logprobs = false;
  // vLLM's return_prompt_text: the rendered prompt, for the response or the role chunks.
  std::optional<std::string> prompt_text;
  // The bytes are the body alone: no HTTP head and no chunk framing (a stream's events up to
  // [DONE], an error's JSON; status() tells an error from an answer). For a front end that
  // rewrites the chat answer into another API's (http/anthropic_responder.hpp).
  bool bare = false;
};

class chat_responder {
 public:
  chat_responder(completion_meta meta, chat_responder_options options);

  // Consumes the next event and returns the bytes to send (possibly empty). Later events than
  // the terminal one (the last choice finished, or an error) are ignored.
  std::string on_event(const actors::generation_event& event);

  bool done() const { return done_; }
  // Whether the connection may serve another request after this response.
  bool keep_alive() const;
  int status() const { return status_; }  // 0 until the head has been produced
  // The first choice's finish reason ("error" after an error), for the log line.
  const std::string& finish_reason() const { return finish_reason_; }
  const completion_usage& usage() const { return usage_; }
  const completion_meta& meta() const { return meta_; }

 private:
  // Records the event in its choice; false when it does not belong to an unfinished choice.
  bool record(const actors::generation_event& event);
  std::string on_complete_event();
  std::string on_stream_event(const actors::generation_event& event);
  std::string stream_head(const actors::generation_event& first);
  std::string stream_end();
  std::string frame(std::string_view bytes) const;
  std::string error_response(const actors::generation_event& event);
  // A complete response of `body` (status_), or the body alone when bare.
  std::string respond(std::string body) const;
  // A forced tool call: turns a complete choice's text into its tool calls.
  void make_tool_calls(chat_choice& choice) const;
  // Under a parser: splits a complete choice into reasoning, content and tool calls.
  void parse_choice(chat_choice& choice);
  // Under a parser: the event as a delta's keys in `delta`; false when there is nothing to send.
  bool make_parsed_delta(chat_choice& delta, const actors::generation_event& event);
  // Choices carry their token ids: return_token_ids, unless the reasoning is hidden.
  bool returns_token_ids() const { return options_.return_token_ids && !options_.hide_metadata; }
  // stream_options.continuous_usage_stats: choice `index`'s usage so far, for its chunk; else
  // none.
  std::optional<completion_usage> choice_usage(int32_t index) const;
  // Under a reasoning parser: the reasoning tokens of every choice so far.
  int32_t count_reasoning_tokens() const;
  // A forced tool call's stream: the event's text as tool-call deltas in `delta`; false when
  // there is nothing to send.
  bool make_tool_deltas(chat_choice& delta, const actors::generation_event& event);
  // The response's metrics inputs (http/request_metrics.hpp).
  response_timing timing() const;

  completion_meta meta_;
  chat_responder_options options_;
  std::vector<chat_choice> choices_;            // non-streaming: the accumulated choices
  std::vector<tool_call_stream> tool_streams_;  // streaming a forced tool call: per choice
  // Under a parser: per choice, its parser, generated ids, and whether a stream sent calls.
  std::vector<std::unique_ptr<chat_output_parser>> parsers_;
  std::vector<std::vector<int32_t>> output_ids_;
  std::vector<bool> calls_streamed_;
  // The response's prompt fields: the prompt logprobs (non-streaming), ids and text.
  chat_prompt_fields prompt_;
  std::vector<int32_t> num_output_tokens_;  // per choice
  std::vector<bool> finished_;              // per choice
  int32_t num_finished_ = 0;
  completion_usage usage_;
  std::string finish_reason_;
  std::optional<actors::request_timing> timing_;  // the last one reported
  int status_ = 0;
  bool done_ = false;
};

}  // namespace troupe::http
