#pragma once
// JSON schemas (vLLM's response_format json_schema, structured_outputs.json) and vLLM's
// json_object as grammar text in the GBNF dialect of runtime/grammar/grammar.hpp (start rule
// `root`). The language is the one vLLM 0.32 gets from its default backend, xgrammar 0.2.8
// (compile_json_schema with strict_mode), as tools/compare_json_schema_grammar.py checks; the
// few deliberate differences are listed below. Pure functions: any thread may call them.
//
// What a schema means here (as in xgrammar):
//   - No whitespace before or after the value. Between tokens, `[ \t\n\r]*` when any_whitespace,
//     none otherwise (separators "," and ":").
//   - Object members appear in the order of `properties`; any subset that holds the `required`
//     ones (names missing from `properties` are ignored). Other members only when
//     `additionalProperties` (else `unevaluatedProperties`) allows them, after the listed ones,
//     with keys that are none of the listed names. Strict mode: not said means not allowed.
//     `{"type": "object"}` with only annotations (title, description, default, examples,
//     deprecated, readOnly, writeOnly, $comment, $schema) is any object, likewise for arrays.
//   - Arrays: `prefixItems` in order, then `items` (a schema or a boolean); minItems, maxItems.
//   - Strings: JSON strings (escapes \" \\ \/ \b \f \n \r \t \uXXXX, no raw control characters).
//     With minLength/maxLength: that many characters, none of them `"`, `\` or a control
//     character (xgrammar counts characters and does not allow escapes there). `format`: the
//     14 formats xgrammar knows (date-time, date, time, duration, email, hostname, ipv4, ipv6,
//     uuid, uri, uri-reference, uri-template, json-pointer, relative-json-pointer).
//   - Integers: no leading zeros, no "-0"; numbers: JSON numbers. With minimum, maximum,
//     exclusiveMinimum or exclusiveMaximum, exactly the values in range; a bounded number has
//     no exponent and at most six fraction digits.
//   - `const` and `enum`: exactly the compact JSON text of a value (no whitespace inside).
//   - Keyword precedence: $ref, const, enum, anyOf, oneOf (same as anyOf), allOf (one schema),
//     type (a string or a list of types); with no type, `properties`/`additionalProperties`/
//     `unevaluatedProperties` mean an object, `items`/`prefixItems`/`unevaluatedItems` an array,
//     anything else any JSON value. Other keywords (not, if, nullable, dependentRequired,
//     additionalItems, ...) are ignored, as xgrammar ignores them.
//   - `$ref`: "#" or a JSON pointer "#/..." into the document; recursion is fine as long as an
//     object or array opens before the schema reaches itself again.
// Errors (each message suits a 400 response): text that is not JSON or not UTF-8, a schema that
// is not an object or `true`, malformed keywords (enum not an array, minItems not a non-negative
// integer, an empty range, ...), what vLLM refuses before xgrammar sees it (nesting deeper than
// 64 levels, multipleOf, uniqueItems/contains, allOf with several schemas, an unknown format,
// format or pattern with a length, ...), a $ref that does not resolve or is not local, a schema
// that reaches itself without an object or array between, more than 400 schemas nested (through
// $ref chains) to reach a value, and what troupe does not support: `pattern`,
// patternProperties, propertyNames, and minProperties/maxProperties on an object with
// `properties`.
//
// Deliberate differences from xgrammar 0.2.8 (see tools/compare_json_schema_grammar.py, KNOWN):
//   - Without any_whitespace, the items of a free-form value (any object, any array, a value of
//     `additionalProperties: true`) are separated by "," (xgrammar's builtin rules want ", ":
//     its bug #945, fixed after 0.2.8).
//   - What xgrammar would let through that is not JSON is refused: raw control characters in
//     strings with minLength/maxLength, a raw `"` in a json-pointer, a backslash before any
//     character in the quoted local part of an email.
//   - Numbers in `const`/`enum` keep their shortest text (0.1 stays "0.1"; xgrammar writes
//     "0.10000000000000001"), big integers keep all their digits.
//   - Required names that are not in `properties` are ignored (xgrammar 0.2.8 then sometimes
//     makes a listed property required).
//   - `{"allOf": [{"type": "object"}]}` is any object, as without allOf (xgrammar: only `{}`;
//     likewise for arrays).
//   - `$ref` pointers decode ~0 and ~1 (RFC 6901); integer bounds may exceed 64 bits.
//   - Errors instead of xgrammar's silent fallbacks: an empty anyOf/oneOf (xgrammar accepts
//     the empty string), a non-local $ref (xgrammar: any value), a schema that reaches itself
//     before any object or array (xgrammar: no value at all), and the unsupported keywords.
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace troupe::runtime::grammar {

struct json_schema_options {
  bool any_whitespace = true;  // vLLM's default; false = vLLM's disable_any_whitespace
  // vLLM's structured_outputs.disable_additional_properties: an object with `properties` and
  // no `additionalProperties` takes no other members even when `unevaluatedProperties` would
  // allow them (strict mode already refuses them otherwise).
  bool disable_additional_properties = false;
};

// A JSON schema (the text of a JSON object, or `true`) as grammar text whose start rule is
// `root`. An error (message for a 400 response) for invalid JSON or a schema feature not
// supported.
result<std::string> json_schema_to_grammar(std::string_view schema_json,
                                           const json_schema_options& options = {});

// vLLM's json_object: what vLLM 0.32 compiles for it, the schema {"type": "object"}, i.e. any
// JSON object (not an array: vLLM does not use xgrammar's builtin JSON grammar here).
std::string json_object_grammar(bool any_whitespace = true);

}  // namespace troupe::runtime::grammar
