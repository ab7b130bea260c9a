#pragma once
// A chat answer's reasoning, content and auto tool calls, as vLLM 0.32's
// DelegatingParser (parser/abstract_parser.py) composes a reasoning parser and a tool parser
// for one choice: the reasoning parser first, then the tool parser on what is left.
//
// Whole answer (parse): the reasoning parser's extract(text) -> {reasoning, content}; then the tool
// parser's extract(content or ""): with calls, their list and its content (null when blank);
// without, the content unchanged (where both parsers are engine parsers or absent and the tool
// parser is one, tool_parser::engine_based(): the extraction's content, null when empty).
// include_reasoning false drops the reasoning (vLLM's serving does it after parse; the reasoning
// tokens are still counted).
//
// Stream (parse_delta), one call per engine output:
//   1. first call with the prompt ids: the reasoning phase is skipped when the prompt already
//      ends after the reasoning (reasoning_parser::is_reasoning_end(prompt), e.g. Qwen3's
//      template with enable_thinking false writes "<think>\n\n</think>\n\n").
//   2. reasoning phase: extract_streaming on the delta. It ends when the delta holds the end
//      (deepseek_r1: </think> in the delta ids; qwen3: the engine saw </think> or <tool_call>).
//      That delta's content is the text after </think> plus what an engine parser still held
//      back: sent as content without a tool parser, else handed to it as below.
//   3. after it, without a tool parser: each delta's text is content as it comes. With one
//      (vLLM's tool phase): its first call gets current_text = delta_text = the transition
//      delta's content (or the delta, when the prompt ended the reasoning) and previous text
//      "", later calls accumulate from there (each delta alone where the tool parser and the
//      reasoning parser, if any, are engine parsers); the transition delta's reasoning is kept
//      beside the tool parser's delta.
//   4. finished: the last call delta gets the tool parser's unsent arguments appended, and an
//      engine parser still in its reasoning phase flushes what it holds back.
//   include_reasoning false: reasoning is set to null, and a delta left with no content and no
//   calls is none.
// The tool parser is for tool_choice "auto" or absent with tools (and a forced call the parser
// reads itself: mistral); other "required" and named choices parse the content with
// http/tool_calls.hpp (vLLM runs the same reasoning phase first for every tool_choice, so a forced
// call's JSON is read from the content after </think>, and its grammar starts after the reasoning).
// tool_choice "none" with --enable-auto-tool-choice: vLLM sends a delta's text as content but no
// delta for an empty text (text_tool_phase).
//
// Not thread-safe: one object per choice, called from its session's strand.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/reasoning_parsers.hpp"
#include "http/tool_calls.hpp"
#include "http/tool_parsers.hpp"

namespace troupe::http {

// A whole answer's message parts; nullopt: null.
struct chat_output {
  std::optional<std::string> reasoning;
  std::optional<std::string> content;
  std::vector<tool_call> tool_calls;  // auto tool calls found in the content
};

// One stream delta (vLLM's DeltaMessage): each text field unset, null or text.
struct chat_output_delta {
  delta_text_field reasoning;
  delta_text_field content;
  std::vector<tool_call_delta> tool_calls;
};

class chat_output_parser {
 public:
  // `reasoning`: nullptr, no reasoning phase. `tools`: nullptr, no tool phase (make one only
  // for tool_choice "auto" or absent, with tools).
  // `text_tool_phase`: the server has a tool parser but this request does not parse calls
  // (tool_choice "none"): vLLM's tool phase then sends nothing for a delta without text.
  chat_output_parser(std::unique_ptr<reasoning_parser> reasoning,
                     std::unique_ptr<tool_parser> tools, bool include_reasoning,
                     bool text_tool_phase = false);

  // A whole answer.
  chat_output parse(std::string_view text);

  // The next engine output of a stream: its text and ids; `prompt_ids` on the first call (later
  // ones are ignored); `finished` on the last. nullopt: nothing to send.
  std::optional<chat_output_delta> parse_delta(std::string_view delta_text,
                                               std::span<const int32_t> delta_ids,
                                               std::optional<std::span<const int32_t>> prompt_ids,
                                               bool finished);

  // usage.completion_tokens_details.reasoning_tokens for the choice's generated ids.
  int32_t count_reasoning_tokens(std::span<const int32_t> ids) const;

 private:
  struct step;
  // Both parsers are engine parsers (or absent): vLLM's DelegatingParser._engine_based.
  bool engine_based() const;
  void reasoning_phase(step& s);
  void tool_phase(step& s);
  void finish(std::optional<chat_output_delta>& delta);

  std::unique_ptr<reasoning_parser> reasoning_;
  std::unique_ptr<tool_parser> tools_;
  bool include_reasoning_;
  bool text_tool_phase_;
  bool prompt_checked_ = false;
  bool reasoning_ended_ = false;
  bool tool_text_started_ = false;
  std::string previous_text_;
  std::vector<int32_t> previous_ids_;
};

}  // namespace troupe::http
