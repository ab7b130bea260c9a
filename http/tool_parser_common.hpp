#pragma once
// Helpers the auto tool parsers share (http/tool_parsers.hpp): Python's string operations on
// UTF-8 text (Python counts code points, these count the same way) and the JSON readers of
// vLLM's tool_parsers/utils.py. Internal to http/tool_parser_*.cpp. Pure functions.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/python_json.hpp"
#include "http/python_slices.hpp"
#include "http/tool_parsers.hpp"

namespace troupe::http::tool_parsing {

// The part of `text` past its first py_len(sent) code points (vLLM's `args[len(sent):]`).
inline std::string_view past_sent(std::string_view text, std::string_view sent) {
  return py_drop(text, py_len(sent));
}

// str.isspace() of one code point.
bool py_isspace(uint32_t cp);
// The bytes of the whitespace code point that begins `s` (0: none), for regex `\s`.
size_t py_space_length(std::string_view s);
// str.strip() / str.lstrip() / str.rstrip() with no argument.
std::string_view py_strip(std::string_view s);
std::string_view py_lstrip(std::string_view s);
std::string_view py_rstrip(std::string_view s);

// utils.partial_tag_overlap: the longest proper prefix of `tag` (ASCII) that ends `text`.
size_t partial_tag_overlap(std::string_view text, std::string_view tag);
// utils.find_common_prefix, on whole code points.
std::string_view common_prefix(std::string_view a, std::string_view b);

// bool(value) in Python.
bool py_truthy(const python_value& v);

// utils.is_complete_json: json.loads succeeds.
inline bool is_complete_json(std::string_view s) {
  return parse_python_json(s).has_value();
}

// A JSON value read from the front of a text and the byte offset just past it.
struct json_prefix {
  python_value value;
  size_t end = 0;
};

// json.JSONDecoder().raw_decode(text): one value at text[0] (no leading whitespace), text may
// go on after it; nullopt where it raises.
std::optional<json_prefix> raw_decode(std::string_view text);

// utils.partial_json_loads(text, flags) as vLLM's llama3_json parser calls it: a JSON value cut
// anywhere is completed as partial_json_parser completes it (a cut number keeps its valid
// prefix, a cut literal its word, a member or element cut before its value is dropped, a cut
// string is kept when `allow_partial_strings` and else dropped with its member or element);
// a value followed by more text falls back to raw_decode. nullopt where vLLM's call raises.
std::optional<json_prefix> partial_json_loads(std::string_view text, bool allow_partial_strings);

// The call's first streamed delta as vLLM's hermes and llama3_json parsers send it: id, type,
// index and name, no arguments.
tool_call_delta name_delta(int32_t index, std::string name);
// A later delta: index and an arguments piece.
tool_call_delta arguments_delta(int32_t index, std::string arguments);

// The parsers, one per file.
std::unique_ptr<tool_parser> make_hermes_parser();
std::unique_ptr<tool_parser> make_llama3_json_parser();
// `forced_call`: tool_parser_options::forced_call.
std::unique_ptr<tool_parser> make_mistral_parser(bool forced_call);
std::unique_ptr<tool_parser> make_pythonic_parser();

}  // namespace troupe::http::tool_parsing
