#pragma once
// vLLM's structural tags (xgrammar's StructuralTag, which vLLM 0.32 compiles for
// `response_format: {"type": "structural_tag", ...}` and `structured_outputs.structural_tag`) as
// grammar text whose start rule is `root`.
//
// Two spellings, as vLLM reads them:
//   legacy  {"structures": [{"begin", "schema", "end"}, ...], "triggers": [...]}: any text in
//           which a trigger begins one of the structures (begin, a JSON value of its schema,
//           end), then any text again; what xgrammar's from_legacy_structural_tag makes of it
//   format  {"type": "structural_tag", "format": F}, F one of xgrammar's formats:
//             const_string {value}          json_schema {json_schema} (style "json")
//             grammar {grammar}             regex {pattern}
//             any_text {excludes}           sequence {elements}   or {elements}
//             tag {begin, content, end: string or strings}
//             triggered_tags {triggers, tags, at_least_one, stop_after_first, excludes}
//             tags_with_separator {tags, separator, at_least_one, stop_after_first}
//             optional / plus / star {content}   repeat {min, max (-1: unbounded), content}
//           The token-level formats (token, exclude_token, any_tokens, token_triggered_tags,
//           token_dispatch), dispatch, qwen_xml_parameter, json_schema's other styles and
//           options, and any_text's max_tokens/max_chars are refused with a message naming them.
//
// Free text (any_text; triggered_tags' text) is written as an automaton over the strings that
// matter to it (Aho-Corasick over triggers, excludes and ends): an excluded string cannot occur;
// a trigger dispatches to the tags whose begin starts with it (xgrammar's TagDispatch); and as
// the last part of a tag's content the text runs until one of the tag's ends, which it may not
// contain (elsewhere any_text is free text followed by whatever comes next). With
// at_least_one the output starts with a tag; with stop_after_first nothing follows the first
// tag. Checked against xgrammar's matcher by tools/compare_structural_tag_grammar.py.
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"

namespace troupe::runtime::grammar {

// Structural tags deeper than this are refused (the builder recurses once per level).
inline constexpr int max_structural_tag_depth = 64;

// `json`: the structural tag as JSON text, either spelling. An error (message for a 400
// response) for invalid JSON, a malformed tag, or a format troupe does not support.
result<std::string> structural_tag_to_grammar(std::string_view json,
                                              const json_schema_options& options = {});

}  // namespace troupe::runtime::grammar
