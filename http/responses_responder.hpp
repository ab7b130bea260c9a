#pragma once
// vLLM's OpenAI Responses API in front of chat completions, answer side: the chat responder's
// answer (run bare: http/chat_responder.hpp) read back and written as vLLM 0.32's response object
// or its event stream.
//
// The response object: {"id", "created_at", "incomplete_details" ({"reason":
// "max_output_tokens"} when the answer was cut), "instructions", "metadata", "model", "object":
// "response", "output": [items], "parallel_tool_calls", "temperature", "tool_choice", "tools",
// "top_p", "background", "max_output_tokens" (the sampling's: the request's, at most what the
// model's length leaves after the prompt), ..., "status" ("completed" or "incomplete"), "text",
// "top_logprobs", "truncation", "usage" (input and output tokens with their details: cached
// prompt tokens, reasoning tokens), "user", the penalties and vLLM's null extras}: every field,
// null when unset, in vLLM's order (http/responses_json.hpp). Items: a "reasoning" item (the
// reasoning under --reasoning-parser), a "message" item with one output_text part (logprobs when
// the request included them), then one "function_call" item a tool call; ids "rs_", "msg_",
// "fc_" + 16 hex digits, call ids the chat's.
//
// A stream is "event: <type>\ndata: <json>\n\n" events numbered by sequence_number:
// response.created and response.in_progress (the response with no output yet), then per item
// output_item.added, its parts and deltas (content_part.added, output_text.delta with the
// token logprobs, output_text.done, content_part.done; reasoning_text.delta / done;
// function_call_arguments.delta / done) and output_item.done, and last response.completed with
// the whole response (a cut answer too: status "incomplete"). An error during the stream is an
// "error" event that ends it; one before it is the chat path's JSON error with its status.
//
// Thread: not thread-safe; the owning HTTP session calls it from its strand only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/engine.hpp"
#include "http/chat_responder.hpp"
#include "http/chat_rewrite.hpp"
#include "http/responses_json.hpp"
#include "http/responses_request.hpp"

namespace troupe::http {

struct responses_responder_options {
  responses_echo echo;
  int32_t max_model_len = 0;
  int64_t created_at = 0;  // unix seconds
  // The server parses answers (a reasoning or tool-call parser): an answer without text has no
  // message item (vLLM's parser path); without one it has a message item with no parts.
  bool answer_parser = false;
  // The prompt's length when known before the first event (a background response's queued
  // object resolves max_output_tokens with it).
  int64_t prompt_tokens = 0;
};

class responses_responder {
 public:
  // `options`: as for the chat request the Responses one became (bare is set here).
  responses_responder(completion_meta meta, chat_responder_options options,
                      responses_responder_options responses);

  // Consumes the next event and returns the bytes to send (possibly empty).
  std::string on_event(const actors::generation_event& event);

  bool done() const { return chat_.done(); }
  bool keep_alive() const { return chat_.keep_alive(); }
  int status() const { return chat_.status(); }
  const std::string& finish_reason() const { return chat_.finish_reason(); }
  const completion_usage& usage() const { return chat_.usage(); }
  const completion_meta& meta() const { return chat_.meta(); }
  // Once done with a 200: the final response object and its output items (JSON), for the store.
  const std::string& response_json() const { return response_json_; }
  const std::string& output_json() const { return output_json_; }
  // The response object at `status` with no output and no usage (queued, cancelled, failed).
  std::string response_at(std::string_view status) const {
    return response(status, "[]", std::nullopt);
  }

 private:
  std::string complete(const std::string& body);
  std::string convert(std::string_view data);
  std::string convert_chunk(std::string_view json);
  // The response object at `status` over `output` (raw JSON array), with `usage` when known.
  std::string response(std::string_view status, std::string_view output,
                       const std::optional<responses_usage>& usage) const;
  // One numbered event of `type` whose other fields are `body` (and the two tails).
  std::string event(std::string_view type, std::string_view body,
                    std::string_view after_sequence = {}, std::string_view after_type = {});
  // -- the stream's item being written (vLLM's SimpleStreamingState) --
  enum class item_kind { none, message, reasoning, call };
  std::string open_item(item_kind kind, std::string_view call_id = {},
                        std::string_view call_name = {}, int64_t call_index = -1);
  std::string close_item();

  chat_responder chat_;
  responses_responder_options responses_;
  bool stream_ = false;
  std::string request_id_;
  rewritten_stream wire_;
  bool failed_ = false;
  bool started_ = false;  // response.created went out
  int64_t sequence_ = 0;
  int64_t prompt_tokens_ = 0;
  std::string response_json_, output_json_;
  // The stream's items so far and the open one.
  std::string items_;  // the done items, comma-separated
  item_kind kind_ = item_kind::none;
  int32_t output_index_ = 0;
  std::string item_id_, text_, call_id_, call_name_;
  int64_t call_index_ = -1;
  std::string logprobs_;  // the open message's logprobs, comma-separated
  std::string finish_reason_;
  std::optional<responses_usage> usage_;
};

}  // namespace troupe::http
