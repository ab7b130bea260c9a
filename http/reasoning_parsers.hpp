#pragma once
// vLLM 0.32's reasoning parsers (`--reasoning-parser NAME`): they split a chat answer into the
// reasoning (between <think> and </think>) and the content. Pure: std only, no tokenizer; the
// caller looks the marker tokens up in the vocabulary (reasoning_tokens).
//
// deepseek_r1  vLLM's DeepSeekR1ReasoningParser (BaseThinkingReasoningParser). Text-based when
//              whole: drop up to the first "<think>", reasoning up to the first "</think>", the
//              rest content (null when empty); no "</think>": all reasoning. Streamed: decided by
//              the token ids (previous/delta), the delta's text split at "</think>". A missing
//              <think> or </think> token is a startup error in vLLM:
//                TypeError: --reasoning-parser deepseek_r1 cannot be used with the tokenizer of
//                'MODEL': DeepSeekR1ReasoningParser reasoning parser could not locate think
//                start/end tokens in the tokenizer!
//              so make() requires both ids.
// qwen3        vLLM's Qwen3Parser engine (parser/qwen3.py) through its reasoning adapter, tool
//              parsing skipped: starts in reasoning (chat_template_kwargs.enable_thinking, default
//              true; false: everything is content), a "<think>" is dropped, "</think>" ends the
//              reasoning and is dropped (as is any later one), "<tool_call>" ends it implicitly
//              and stays in the content; the tokenizer's other special tokens are dropped.
//              Whole answers are lexed as text; streamed deltas by their token ids (a marker
//              spelled as plain text is then content), with vLLM's hold-back of text that may
//              begin a marker. Missing marker tokens are no error in vLLM (text matching only).
//
// Strings are UTF-8; every split lands on the character where Python's would (markers are
// ASCII). Not thread-safe per object: one parser per choice, called from its session's strand.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::http {

enum class reasoning_parser_kind : uint8_t { deepseek_r1, qwen3 };

// The parser named as vLLM names it (`--reasoning-parser`), or nullopt.
std::optional<reasoning_parser_kind> find_reasoning_parser(std::string_view name);
// The supported names, ", "-separated (for an error message).
std::string reasoning_parser_names();

// A special token of the vocabulary: id and text.
struct special_token {
  int32_t id = -1;
  std::string text;
};

// Token ids the parsers match, looked up by the caller; -1: not in the vocabulary.
struct reasoning_tokens {
  int32_t start_id = -1;  // "<think>"
  int32_t end_id = -1;    // "</think>"
  // qwen3 only:
  int32_t tool_start_id = -1;              // "<tool_call>": an implicit end of the reasoning
  int32_t tool_end_id = -1;                // "</tool_call>"
  std::vector<int32_t> turn_boundary_ids;  // "<|im_start|>", "<|im_end|>" (is_reasoning_end)
  // The tokenizer's special tokens (all_special_tokens) other than the markers above: dropped
  // from reasoning and content (vLLM's DROP terminal), matched by id when streaming, by text
  // when whole.
  std::vector<special_token> dropped;
};

// A whole answer's parts; nullopt: null in the response (vLLM returns None for an empty part).
struct reasoning_extraction {
  std::optional<std::string> reasoning;
  std::optional<std::string> content;
};

// A field of vLLM's DeltaMessage as model_dump_json(exclude_unset=True) sees it: unset (outer
// nullopt), set to None (inner nullopt), or text (possibly "").
using delta_text_field = std::optional<std::optional<std::string>>;

// One delta's parts (vLLM's DeltaMessage).
struct reasoning_delta {
  delta_text_field reasoning;
  delta_text_field content;
};

// One choice's reasoning parser; stateful for a stream. Token id spans are the generated ids
// (prompt_ids only where named).
class reasoning_parser {
 public:
  // nullptr when `kind` needs a token `tokens` lacks (deepseek_r1: start_id and end_id, the
  // startup error above). `enable_thinking`: the request's chat_template_kwargs (qwen3 only).
  static std::unique_ptr<reasoning_parser> make(reasoning_parser_kind kind,
                                                const reasoning_tokens& tokens,
                                                bool enable_thinking = true);
  virtual ~reasoning_parser() = default;

  // A whole answer (vLLM's extract_reasoning; the prompt plays no part).
  virtual reasoning_extraction extract(std::string_view model_output) = 0;

  // The next delta of a stream (vLLM's extract_reasoning_streaming): current = previous +
  // delta, for text and ids. nullopt: nothing to send for it.
  virtual std::optional<reasoning_delta> extract_streaming(std::string_view previous_text,
                                                           std::string_view current_text,
                                                           std::string_view delta_text,
                                                           std::span<const int32_t> previous_ids,
                                                           std::span<const int32_t> current_ids,
                                                           std::span<const int32_t> delta_ids) = 0;

  // Whether `ids` (the prompt, or output so far) end after the reasoning.
  virtual bool is_reasoning_end(std::span<const int32_t> ids) const = 0;
  // Whether the reasoning ends in this decode step (non-engine parsers' stream transition).
  virtual bool is_reasoning_end_streaming(std::span<const int32_t> ids,
                                          std::span<const int32_t> delta_ids) const;
  // The ids of the content once the reasoning has ended (vLLM's extract_content_ids).
  virtual std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const = 0;
  // vLLM's usage.completion_tokens_details.reasoning_tokens for these generated ids.
  virtual int32_t count_reasoning_tokens(std::span<const int32_t> ids) const = 0;

  // Engine-based parsers (qwen3): the stream's reasoning ended as the engine saw it, and the
  // text it still holds back, flushed. Others: false and nullopt.
  virtual bool engine_based() const { return false; }
  virtual bool engine_reasoning_ended() const { return false; }
  virtual std::optional<reasoning_delta> finish_streaming() { return std::nullopt; }
};

}  // namespace troupe::http
