#pragma once
// Building blocks of the JSON-schema converter (runtime/grammar/json_schema_grammar.cpp):
// grammar text (GBNF literals, sequences, decimal ranges for `minimum` and `maximum`, the rules
// for "any key but these") in json_schema_grammar_rules.cpp; the JSON side (fixed rules for JSON
// values and string formats, the JSON text of `const`/`enum` values, JSON pointers, vLLM's
// pre-checks) in json_schema_grammar_json.cpp. Internal to runtime/grammar; pure functions.
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "base/result.hpp"

namespace troupe::runtime::grammar::json_schema_detail {

using json_value = rapidjson::Value;

// -- grammar text (json_schema_grammar_rules.cpp) ---------------------------------------------

// A GBNF string literal (with its quotes) matching exactly the UTF-8 text `s`.
std::string gbnf_literal(std::string_view s);

// A rule name from free text (a property name, a $ref segment): [a-zA-Z0-9_-], at most 32
// characters, never empty.
std::string sanitize(std::string_view text);

// The non-empty parts joined by spaces: a GBNF sequence.
std::string seq(std::initializer_list<std::string> parts);

// `x` (a sequence) repeated lo to hi times, no upper end when hi < 0: `( x )*`, `( x ){2,5}`;
// empty when hi == 0.
std::string repeat(const std::string& x, int64_t lo, int64_t hi);

// `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` of an integer schema as a grammar
// expression for the integers in range (decimal, no leading zeros, no "-0"), or nullopt when the
// schema has none of them. An error for a bound that is not a whole number or an empty range.
result<std::optional<std::string>> integer_range_expr(const json_value& schema);

// The same keywords for a number schema. Like xgrammar: a bounded number has no exponent and at
// most six fraction digits, and its value (exactly, as decimal) lies in the range.
result<std::optional<std::string>> number_range_expr(const json_value& schema);

// One rule of a generated set: `name ::= body`.
struct rule_text {
  std::string name;
  std::string body;
};

// Rules for the rest of a JSON string after its opening quote (its text and closing quote), for
// a string that is none of `excluded` (key texts as json_string_body gives them), compared on
// their text as written: one rule per node of a trie of the keys, node 0 the start, named by
// `rule_name(node)` (called once per node, in order). The bodies use the fixed rules
// `json-escape` and `json-string-rest` (json-char* "\"").
std::vector<rule_text> string_except_rules(const std::function<std::string(size_t)>& rule_name,
                                           const std::vector<std::string>& excluded);

// -- the JSON side (json_schema_grammar_json.cpp) --------------------------------------------

// `v` as compact JSON text, the way xgrammar writes `const` and `enum` values: no whitespace,
// members in their order, non-ASCII characters as themselves, control characters escaped, a
// whole-valued double as an integer ("1.0" -> "1").
std::string compact_json(const json_value& v);

// The text of a JSON string (`s` with quotes, escaped as compact_json does), without the quotes.
std::string json_string_body(std::string_view s);

// The shortest text of a JSON number that reads back as the same value ("0.1", "1e300").
std::string number_text(const json_value& v);

// Where a local $ref ("#/a/b", a JSON pointer) leads: the value and the decoded segments. An
// error when a segment does not resolve. Requires: uri starts with "#/".
struct pointer_target {
  const json_value* value;
  std::vector<std::string> segments;
};
result<pointer_target> resolve_pointer(const json_value& root, const std::string& uri);

// Whether `key` leaves `{"type": "object"}` (or "array") any object (array), as in xgrammar:
// "type" itself and annotations (title, description, default, examples, deprecated, readOnly,
// writeOnly, $comment, $schema).
bool is_annotation(std::string_view key);

// A rule that does not depend on the schema, emitted when used. The body writes the whitespace
// between tokens as `WS `, to be replaced by `ws ` or nothing; `uses` lists the fixed rules the
// body names.
struct fixed_rule {
  const char* name;
  const char* body;
  std::array<const char*, 4> uses;
};

// JSON values (json-value, json-object, json-array, json-string, json-string-rest, json-char,
// json-escape, json-number, json-integer, json-boolean), whitespace (ws) and string formats.
std::span<const fixed_rule> fixed_rules();

// The fixed rule for the text between the quotes of a string with this `format`, or nullptr
// for a format that xgrammar does not know.
const char* format_rule(std::string_view format);

// Checks that vLLM makes before it hands a schema to xgrammar (has_xgrammar_unsupported_json_
// features, check_json_nesting): a message about the first unsupported use found, or nullopt.
std::optional<std::string> vllm_rejection(const json_value& schema);

}  // namespace troupe::runtime::grammar::json_schema_detail
