#pragma once
// A chat request's tool_choice and parallel_tool_calls, validated as vLLM 0.32's
// ChatCompletionRequest validates them (check_tool_usage, check_structured_outputs_count), and
// the grammar vLLM's tool parsers hold a forced call to (ToolParser.adjust_request with
// get_json_schema_from_tools), which replaces any structured-outputs constraint:
//
//   named     the function's `parameters` schema ({"type": "object", "properties": {}} when
//             absent or empty)
//   required  {"type": "array", "minItems": 1, ("maxItems": 1 when parallel_tool_calls is
//             false,) "items": {"type": "object", "anyOf": [per tool {"properties": {"name":
//             {"type": "string", "enum": [NAME]}, "parameters": PARAMS}, "required": ["name",
//             "parameters"]}]}, "$defs": every tool's `$defs`, moved up}
//
// Internal to http/: it exposes rapidjson.
#include "http/request_fields.hpp"
#include "http/structured_outputs_config.hpp"
#include "http/tool_calls.hpp"
#include "http/tool_parsers.hpp"
#include "runtime/sampling_params.hpp"

namespace troupe::http {

// Reads tool_choice (and parallel_tool_calls) of a chat body into `mode`; for a forced call sets
// `sampling.grammar`. Expects `tools`, when present, to be checked already (http/chat_messages).
// 400s with vLLM's messages and params: `tools` an empty list; tool_choice without tools, of an
// unknown value, naming no function or one not in `tools`; a named choice with a
// structured_outputs json/regex/choice constraint; and a tool schema that does not convert to a
// grammar (or two tools with different `$defs` of one name). The schema's grammar follows the
// server's structured-outputs settings (`server`), as vLLM's backend does.
// `server_parser` (the server's --enable-auto-tool-choice --tool-call-parser): "auto", or no
// tool_choice with tools, sets mode.parse_auto; without one "auto" is a 400 with vLLM's message.
// With hermes a forced call is held to hermes' own format instead (vLLM's structural tag) and
// sets mode.parser_format: the answer is read back by that parser; parallel_tool_calls false
// makes "required" one call. Under hermes "auto" (or tool_choice absent) is held to that format
// as vLLM 0.32 holds it by default (VLLM_ENFORCE_STRICT_TOOL_CALLING): when a tool has "strict":
// true, `strict_level` is above automatic or parallel_tool_calls is false, any text may come,
// and a "<tool_call>" in it begins a call that must be whole (with parallel_tool_calls false the
// answer ends after it); with a structured output as well, the answer is either calls only or
// that output. Under llama3_json the same requests are held to xgrammar's builtin "llama" tag
// (http/llama_tool_tag.hpp), forced calls too (mode.parser_format). pythonic holds "auto" to
// nothing (vLLM has no tag for it).
parse_error read_tool_choice(const Value& body, const structured_outputs_config& server,
                             std::optional<tool_parser_kind> server_parser, tool_choice_mode& mode,
                             runtime::sampling_params& sampling,
                             tool_strict_level strict_level = tool_strict_level::automatic);

}  // namespace troupe::http
