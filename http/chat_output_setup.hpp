#pragma once
// The server's chat answer parsers, from vLLM's flags: `--reasoning-parser NAME` (the answer's
// reasoning becomes message.reasoning) and `--enable-auto-tool-choice --tool-call-parser NAME`
// (with tools and tool_choice "auto" or absent, the answer's tool calls become
// message.tool_calls). Resolved once at startup against the served tokenizer: the marker tokens
// the parsers match by id are looked up there, and a parser the tokenizer cannot serve stops
// startup with vLLM's message. As in vLLM, --tool-call-parser without --enable-auto-tool-choice
// parses nothing ("required" and named tool choices do not need it in troupe:
// http/tool_choice.hpp), and --enable-auto-tool-choice without a parser is an error.
//
// Immutable after make_chat_output_setup: any thread may read it.
#include <cstdint>
#include <optional>
#include <string_view>

#include "actors/engine.hpp"
#include "base/result.hpp"
#include "http/chat_request.hpp"
#include "http/chat_responder.hpp"
#include "http/reasoning_parsers.hpp"
#include "http/tool_parsers.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::http {

struct chat_output_setup {
  std::optional<reasoning_parser_kind> reasoning_parser;
  reasoning_tokens reasoning_markers;
  std::optional<tool_parser_kind> tool_parser;  // only with --enable-auto-tool-choice
  bool engine_tool_parser = false;              // tool_parser is an engine parser (mistral)
  // --structured-outputs-config's enable_in_reasoning: a grammar holds the reasoning too.
  bool grammar_in_reasoning = false;
  // --tool-strict-level (http/tool_choice.hpp).
  tool_strict_level strict_tools = tool_strict_level::automatic;

  bool enable_auto_tool_choice() const { return tool_parser.has_value(); }
  bool any() const { return reasoning_parser || tool_parser; }
};

// Empty names: no parser. Errors: an unknown name, --enable-auto-tool-choice without a tool
// parser, a parser whose marker tokens the tokenizer lacks (vLLM's messages).
result<chat_output_setup> make_chat_output_setup(std::string_view reasoning_parser_name,
                                                 bool enable_auto_tool_choice,
                                                 std::string_view tool_parser_name,
                                                 const runtime::tokenizer& tokenizer);

// What the parsers change for one chat request (`chat` as parsed, `generation` its prompt
// rendered): the responder's parser factory and options; the generation's special tokens kept
// for a parser that needs them (hermes); under a reasoning parser the prompt as token ids (the
// parsers check whether it ended the reasoning) and a grammar that starts after the reasoning
// (vLLM constrains the answer, not the reasoning, unless include_reasoning is false or the
// prompt ended it).
void apply_chat_output_setup(const chat_output_setup& setup, const runtime::tokenizer& tokenizer,
                             const chat_completion_request& chat,
                             actors::generation_request& generation,
                             chat_responder_options& options);

// The id of the token whose text is exactly `text` (an added token such as "<think>"), or -1.
int32_t find_token_id(const runtime::tokenizer& tokenizer, std::string_view text);

}  // namespace troupe::http
