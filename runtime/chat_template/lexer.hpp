#pragma once
// Splits a template into text and tag tokens the way jinja2's lexer does with
// trim_blocks=True and lstrip_blocks=True: `{%-`/`-%}` strip all adjacent whitespace, a block
// or comment tag alone on its line loses the line's leading spaces/tabs (unless `{%+`), and
// the first newline after a block or comment tag is dropped (unless `+%}`). Comments vanish.
// Internal to troupe_chat_template.
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime::jinja {

enum class token_kind {
  text,         // literal output
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,   // decoded (escapes applied)
  integer,  // text holds the digits
  floating,
  op,  // operator or punctuation: text holds it
  eof,
};

struct token {
  token_kind kind;
  std::string text;
  int line;
};

result<std::vector<token>> tokenize(const std::string& source);

}  // namespace troupe::runtime::jinja
