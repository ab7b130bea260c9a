#pragma once
// vLLM's server-wide structured-outputs settings (`--structured-outputs-config '{...}'`): what
// every request's JSON schemas start from. troupe has one grammar engine, so the backend names
// vLLM knows are accepted and change nothing.
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace troupe::http {

struct structured_outputs_config {
  // No whitespace between JSON tokens in every schema's grammar (a request's
  // structured_outputs.disable_any_whitespace asks for it too).
  bool disable_any_whitespace = false;
  // An object with `properties` and no `additionalProperties` takes no other members.
  bool disable_additional_properties = false;
  // Under a reasoning parser, constrain the reasoning too (the grammar starts at the first
  // output token instead of after the reasoning).
  bool enable_in_reasoning = false;
  // vLLM's other way of naming --reasoning-parser (http/reasoning_parsers.hpp); "" = none.
  std::string reasoning_parser;
};

// Parses the flag's JSON object. Keys (vLLM's StructuredOutputsConfig): backend ("auto",
// "xgrammar", "guidance", "outlines", "lm-format-enforcer"), disable_fallback,
// disable_any_whitespace, disable_additional_properties, enable_in_reasoning (booleans),
// reasoning_parser (a name --reasoning-parser takes, or ""), reasoning_parser_plugin (only "").
// Errors: not a JSON object, an unknown key, a value of the wrong type or not supported.
result<structured_outputs_config> parse_structured_outputs_config(std::string_view json);

}  // namespace troupe::http
