#pragma once
// vLLM's Anthropic Messages API in front of chat completions, answer side: the chat responder's
// answer (run bare: http/chat_responder.hpp) read back and rewritten as vLLM's
// AnthropicServingMessages rewrites it.
//
// A complete answer becomes {"id" (the chat completion's), "type": "message", "role":
// "assistant", "content": [blocks], "model", "stop_reason", "stop_sequence" (only when a stop
// string ended it), "usage": {"input_tokens", "output_tokens", "cache_read_input_tokens" when
// prompt_tokens_details reports cached tokens}}; the blocks are a "thinking" block (the reasoning,
// with a random "signature"), a "text" block (the content), then one "tool_use" block a tool
// call ({"id", "name", "input": the arguments as JSON}); no block at all gives one empty text
// block. stop_reason: "max_tokens" for "length"; "tool_use" when tool calls came; a stop string
// gives "stop_sequence" with the string; else "end_turn".
//
// A stream becomes Anthropic's events, each "event: <type>\ndata: <json>\n\n": message_start
// (from the chat stream's first chunk), then per content block content_block_start, its deltas
// (text_delta, thinking_delta, input_json_delta; a thinking block ends with a signature_delta)
// and content_block_stop; message_delta (stop_reason, stop_sequence, usage) from the usage chunk,
// message_stop from [DONE]. Text that arrives inside a tool_use block is held and sent as a text
// block after it. A streamed call whose arguments are not complete JSON when a stop string ends
// the answer keeps stop_reason "stop_sequence" (the call must not run).
//
// Errors keep their status: a refusal before the answer starts is {"type": "error", "error":
// {"type", "message"}} (anthropic_error_json); one during a stream is an "error" event, and the
// stream ends there.
//
// Thread: not thread-safe; the owning HTTP session calls it from its strand only.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/engine.hpp"
#include "http/chat_responder.hpp"
#include "http/chat_rewrite.hpp"

namespace troupe::http {

class anthropic_responder {
 public:
  // `options` as for the chat request the Anthropic one became (bare is set here).
  anthropic_responder(completion_meta meta, chat_responder_options options);

  // Consumes the next event and returns the bytes to send (possibly empty).
  std::string on_event(const actors::generation_event& event);

  bool done() const { return chat_.done(); }
  bool keep_alive() const { return chat_.keep_alive(); }
  int status() const { return status_ != 0 ? status_ : chat_.status(); }
  const std::string& finish_reason() const { return chat_.finish_reason(); }
  const completion_usage& usage() const { return chat_.usage(); }
  const completion_meta& meta() const { return chat_.meta(); }

 private:
  std::string complete(const std::string& body);
  // The events of one chat stream's "data: " payload.
  std::string convert(std::string_view data);
  std::string convert_chunk(std::string_view json);

  // The content block being streamed (vLLM's _ActiveBlockState).
  struct stream_state {
    int32_t next_index = 0;  // the index of the next block to start
    std::string block_type;  // "" when no block is open
    int32_t block_index = 0;
    std::string signature;  // a thinking block's, sent before it stops
    std::string tool_use_id;
    std::vector<std::string> pending_text;  // text that came inside a tool_use block
  };
  std::string start_block(std::string_view block_json, std::string_view type,
                          std::string_view tool_use_id = {});
  std::string stop_block();
  std::string stop_and_flush();
  std::string delta_event(std::string_view delta_type, std::string_view key,
                          std::string_view value) const;

  chat_responder chat_;
  bool stream_ = false;
  std::string request_id_;
  rewritten_stream wire_;
  int status_ = 0;       // when the answer was refused after the chat's 200
  bool failed_ = false;  // a stream's error event went out: nothing follows
  bool first_chunk_ = true;
  stream_state state_;
  std::string finish_reason_;
  std::optional<std::string> stop_sequence_;
  bool tool_used_ = false;
  std::string last_tool_args_;               // the arguments of the latest tool_use block
  std::map<int64_t, std::string> tool_ids_;  // a chat tool call's index -> its id
};

}  // namespace troupe::http
