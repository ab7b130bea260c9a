#pragma once
// vLLM's structured outputs, read from a request body into sampling_params::grammar: the text of
// a grammar (runtime/grammar/grammar.hpp) the output must match, checked to compile here so the
// engine never meets a bad one. Internal to http/.
//
//   response_format     {"type": "json_object"} | {"type": "json_schema", "json_schema":
//                       {"name": ..., "schema": {...}}} | {"type": "text"} (none)
//   structured_outputs  {"json": schema | "regex": str | "choice": [str] | "grammar": str |
//                       "json_object": true, "disable_any_whitespace": bool,
//                       "disable_additional_properties": bool}
//   guided_json, guided_regex, guided_choice, guided_grammar   (vLLM before 0.11; still read)
//
// response_format overrides structured_outputs' constraint of the same kind, as vLLM's
// structured_outputs_from_response_format does; two different kinds are a 400.
#include "http/request_fields.hpp"
#include "http/structured_outputs_config.hpp"
#include "runtime/sampling_params.hpp"

namespace troupe::http {

// 400 for two constraints, a constraint of the wrong type, an unsupported one (structural_tag,
// whitespace_pattern), a schema, regex or grammar that does not convert or compile. JSON schemas
// start from the server's settings (`server`).
parse_error read_structured_outputs(const Value& body, const structured_outputs_config& server,
                                    runtime::sampling_params& out);

}  // namespace troupe::http
