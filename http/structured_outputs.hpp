#pragma once
// vLLM's structured outputs, read from a request body into sampling_params::grammar: the text of
// a grammar (runtime/grammar/grammar.hpp) the output must match, checked to compile here so the
// engine never meets a bad one. Internal to http/.
//
//   response_format     {"type": "json_object"} | {"type": "json_schema", "json_schema":
//                       {"name": ..., "schema": {...}}} | {"type": "text"} (none) |
//                       {"type": "structural_tag", "format": {...}} or {"type":
//                       "structural_tag", "structures": [...], "triggers": [...]}
//   structured_outputs  {"json": schema | "regex": str | "choice": [str] | "grammar": str |
//                       "json_object": true | "structural_tag": str (the JSON of a structural
//                       tag), "disable_any_whitespace": bool,
//                       "disable_additional_properties": bool}
//   (structural tags: runtime/grammar/structural_tag_grammar.hpp; their JSON schemas ignore the
//   server's whitespace settings, as vLLM's xgrammar backend compiles them)
//   guided_json, guided_regex, guided_choice, guided_grammar   (vLLM before 0.11; still read)
//
// response_format overrides structured_outputs' constraint of the same kind, as vLLM's
// structured_outputs_from_response_format does; two different kinds are a 400.
#include "http/request_fields.hpp"
#include "http/structured_outputs_config.hpp"
#include "runtime/sampling_params.hpp"

namespace troupe::http {

// 400 for two constraints, a constraint of the wrong type, an unsupported one
// (whitespace_pattern, structural tag formats troupe does not read), a schema, regex, grammar or
// structural tag that does not convert or compile. JSON schemas
// start from the server's settings (`server`).
parse_error read_structured_outputs(const Value& body, const structured_outputs_config& server,
                                    runtime::sampling_params& out);

}  // namespace troupe::http
