#pragma once
// vLLM 0.32's "auto" tool-call parsers (`--enable-auto-tool-choice --tool-call-parser NAME`):
// with tools given and tool_choice "auto" or absent, the generated text is searched for tool
// calls, whole (a response) or piece by piece (a stream).
//
//   hermes        {"name": N, "arguments": {...}} between <tool_call> and </tool_call>; the text
//                 before the first <tool_call> is the content
//   llama3_json   the output is {"name": N, "arguments"|"parameters": {...}} objects ("; "
//   (llama4_json)  between them in a stream), optionally after <|python_tag|>; no content
//   pythonic      the output is a Python list of calls with keyword arguments, e.g.
//                 [get_weather(city='Paris', days=[1, -2]), get_time()]; no content. Its stream
//                 sends a call's first delta with id, name and the arguments so far, later ones
//                 as {"id": null, "index", "function": {"arguments"}}
//   mistral       pre-v11 Mistral tokenizers (no [ARGS] token): [TOOL_CALLS] (a special token,
//                 kept in the text) then a JSON array of {"name": N, "arguments": {...}} or one
//                 such object; the text before it is the content. Where the request forces a
//                 call (tool_choice "required" or named), an answer without [TOOL_CALLS] is read
//                 as that array (vLLM's guided bare array). Ids are make_mistral_tool_call_id().
//                 Whole: JSONDecoder.raw_decode of the first non-blank text after a marker (or
//                 the regex \[{.*}\] of it), entries that are not call objects skipped, a
//                 missing or non-string name "", string arguments kept as they are, null or
//                 absent ones "{}"; no call found: tools_called false and the content is that
//                 stripped JSON text. Stream: vLLM's ijson state machine (http/json_events.hpp),
//                 its deltas {["id",] "type", "index", "function": {["name",] ["arguments"]}}
//                 (tool_call_delta::mistral_shape); the arguments object streams as raw text
//                 cut after each '}', and the text after the array is content.
//
// Arguments are written as vLLM writes them: json.dumps(value, ensure_ascii=False) of the parsed
// value (http/python_json.hpp). Text offsets follow Python's, which counts code points.
//
// Differences from vLLM, all on inputs models rarely produce: JSON is read by pydantic's rules
// (parse_python_json), so a lone surrogate escape or nesting deeper than 201 levels, which
// Python's json.loads takes, make the text content; in a llama3_json stream a high-surrogate
// escape cut at the end of the text is held back (vLLM sends an empty arguments piece for it
// and the character with the next one).
//
// pythonic reads Python with http/python_literal.hpp, which refuses some Python that vLLM's
// ast.parse takes; vLLM could use none of it but a call's positional arguments (which it
// drops), so where vLLM would still find calls troupe finds none (whole: the text is content;
// stream: nothing is sent for that step): operators, subscripts, comprehensions, starred or **
// arguments, walrus, bytes and complex literals or `...` as positional arguments; f-strings
// with braces, \N{...} escapes, surrogate \u escapes and non-ASCII identifiers anywhere; a
// statement other than an expression after the list (vLLM takes "[f()]\nx = 1"). A brace-free
// f-string is read as a plain string even as a dict key (vLLM refuses that key). The whole-answer
// gate regex counts every non-ASCII character as \w and uses str.isspace() for \s.
//
// mistral's whole answer is JSON that vLLM reads with Python's json module (not pydantic); troupe's
// reader differs on a lone surrogate escape anywhere in it and nesting deeper than 201 levels
// (vLLM goes to Python's recursion limit), which make the text content, and on an integer of more
// than 4300 digits, which troupe reads where vLLM's extraction raises (the request fails). Its
// stream reads JSON as ijson does (http/json_events.hpp) and latches on "[TOOL_CALLS]" in the
// delta's text, where vLLM also looks for the token id in the delta's ids (the two differ only
// where the token's text arrives in a later delta than its id, or is not in the text at all). vLLM
// serves it through an adapter whose own prev_tool_call_arr stays empty, so
// remaining_unstreamed_args() is always "" for it; has_parsed_calls() follows the MistralParser's
// list (a call object has begun).
//
// Not thread-safe per object; one parser per choice, called from that choice's strand.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/tool_calls.hpp"

namespace troupe::http {

enum class tool_parser_kind : uint8_t { hermes, llama3_json, mistral, pythonic };

// vLLM's registered names: "hermes", "llama3_json", "llama4_json" (the llama3_json parser),
// "mistral" and "pythonic"; nullopt for any other name.
std::optional<tool_parser_kind> find_tool_parser(std::string_view name);
// "hermes, llama3_json, llama4_json, mistral, pythonic", for error messages.
std::string tool_parser_names();

// Marker tokens the caller looks up in the vocabulary (-1: absent). None of these parsers reads
// token ids while parsing; vLLM's llama3_json and mistral parsers refuse to start without their
// marker in the vocabulary (see tool_parser_token_error).
struct tool_parser_tokens {
  int32_t python_tag = -1;  // "<|python_tag|>"
  int32_t tool_calls = -1;  // "[TOOL_CALLS]"
  // "[ARGS]" is in the vocabulary: a Mistral v11+ tokenizer, whose calls are
  // [TOOL_CALLS]name[ARGS]{...}.
  bool has_args_token = false;
};

// Empty when the parser can run with `tokens`, else the error to refuse it with. llama3_json:
// vLLM's RuntimeError("Llama3JsonToolParser could not locate the bot token '<|python_tag|>' in
// the tokenizer.") each time it is made without the token. mistral: vLLM's "Mistral parser could
// not locate the tool call token in the tokenizer!" without [TOOL_CALLS]; with [ARGS] troupe's
// own message (its mistral parser reads only the pre-v11 format).
std::string tool_parser_token_error(tool_parser_kind kind, const tool_parser_tokens& tokens);

// vLLM's adjust_request, as data. hermes and mistral: when tools are given and tool_choice !=
// "none", the request's skip_special_tokens becomes false (the parser needs <tool_call> or
// [TOOL_CALLS] kept in the text). llama3_json and pythonic change nothing of the sampling.
bool tool_parser_keeps_special_tokens(tool_parser_kind kind);

// What a parser needs to know of the request when it is made.
struct tool_parser_options {
  // tool_choice "required" or a named function with a parser that reads forced calls itself
  // (mistral): an answer without the parser's marker is read as the calls.
  bool forced_call = false;
};

// vLLM's ExtractedToolCallInformation. No calls: tools_called false and content the whole text.
struct tool_call_extraction {
  bool tools_called = false;
  std::vector<tool_call> calls;        // ids from make_tool_call_id() (mistral: its own)
  std::optional<std::string> content;  // nullopt: "content": null
};

// The part of vLLM's DeltaMessage these parsers fill. A delta may hold content and calls both
// (hermes: the text before <tool_call> and the call's first piece in one step).
struct tool_parser_delta {
  std::optional<std::string> content;
  std::vector<tool_call_delta> calls;
  // hermes sets DeltaMessage.content even to None: the chunk writes "content": null.
  bool content_set = false;
};

class tool_parser {
 public:
  static std::unique_ptr<tool_parser> make(tool_parser_kind kind, tool_parser_options options = {});
  virtual ~tool_parser() = default;

  // vLLM's extract_tool_calls for a whole answer. Does not touch the streaming state.
  virtual tool_call_extraction extract(std::string_view model_output) = 0;

  // vLLM's extract_tool_calls_streaming: `current_text` is the whole answer so far,
  // `delta_text` its newest piece (current_text ends with it). nullopt: send nothing for this
  // step. Each piece must end on a whole UTF-8 character, as the detokenizer's increments do.
  virtual std::optional<tool_parser_delta> extract_streaming(std::string_view current_text,
                                                             std::string_view delta_text) = 0;

  // Whether vLLM serves this parser through its parser-engine adapter (mistral). Its
  // DelegatingParser then treats the parser as it does engine parsers: a whole answer with no
  // call gets the extraction's content (null when empty) instead of the text, and the stream
  // hands both parsers only each delta.
  virtual bool engine_based() const { return false; }

  // vLLM's get_remaining_unstreamed_args: at the end of a stream, the arguments text the parser
  // has parsed for its last call but not sent; vLLM appends it to the last call delta of the
  // final step's message.
  std::string remaining_unstreamed_args() const;
  // Whether the parser's prev_tool_call_arr is non-empty (vLLM keys the streamed finish_reason
  // "tool_calls" on it).
  bool has_parsed_calls() const { return !prev_args_.empty(); }

 protected:
  // Per call, the arguments vLLM's prev_tool_call_arr holds, as the text
  // get_remaining_unstreamed_args compares ("{}" when it holds none), and what was sent.
  std::vector<std::string> prev_args_;
  std::vector<std::string> streamed_args_;
};

}  // namespace troupe::http
