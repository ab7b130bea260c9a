#pragma once
// JSON as vLLM's Python side reads and writes it, for the tool calls of a "required" tool choice:
// vLLM parses the answer with pydantic (validate_json of list[FunctionDefinition]) and writes each
// call's `parameters` back with json.dumps(value, ensure_ascii=False). The round trip changes the
// text, and clients see the changed text as `arguments`:
//
//   {"n":1E2,"s":"\u00e9","a":[1,-0],"n":2}   ->   {"n": 2, "s": "é", "a": [1, 0]}
//
//   - separators ", " and ": ", no other whitespace;
//   - integers keep every digit ("-0" becomes 0); other numbers are floats written as Python's
//     repr writes them (100.0, 1e+16, 1e-05; too large: Infinity);
//   - strings: only `"`, `\` and control characters escaped (\n \r \t \b \f, else \u00XX),
//     everything else as UTF-8;
//   - a key given twice keeps its first place and its last value (a Python dict).
//
// Pure functions: any thread may call them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::http {

// A JSON value as Python holds it after parsing.
struct python_value {
  enum class kind : uint8_t { null, boolean, integer, floating, string, array, object };
  kind type = kind::null;
  // boolean: "true" or "false"; integer, floating: the number's JSON text; string: its UTF-8.
  std::string text;
  std::vector<python_value> items;                            // array
  std::vector<std::pair<std::string, python_value>> members;  // object, each key once
};

// The deepest nesting of arrays and objects pydantic's JSON parser takes.
inline constexpr int python_json_max_depth = 201;

// One JSON document (whitespace around it allowed; NaN, Infinity and -Infinity taken as pydantic
// takes them), or nullopt where pydantic's parser fails: not JSON, invalid UTF-8, a raw control
// character or a lone surrogate escape in a string, an integer of more than 4300 digits, nesting
// deeper than python_json_max_depth.
std::optional<python_value> parse_python_json(std::string_view text);

// json.dumps(value, ensure_ascii=False); with `ensure_ascii`, json.dumps(value): every
// character above U+007F as \uXXXX (a surrogate pair above U+FFFF).
std::string python_json_dumps(const python_value& value, bool ensure_ascii = false);

// Python's repr of a finite float (100.0, 1e+16, 1e-05, -0.0).
std::string python_float_repr(double d);

}  // namespace troupe::http
