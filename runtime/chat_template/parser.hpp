#pragma once
// Recursive-descent parser from tokens to statement trees, following jinja2's grammar and
// operator precedence (or < and < not < comparisons < + - < ~ < * / // % < ** < unary <
// postfix . [] () < filters | and tests `is`). Internal to troupe_chat_template.
#include <vector>

#include "base/result.hpp"
#include "runtime/chat_template/ast.hpp"
#include "runtime/chat_template/lexer.hpp"

namespace troupe::runtime::jinja {

// Nesting deeper than this (expressions or blocks) is rejected rather than risking the stack.
inline constexpr int max_parse_depth = 128;
// Expression trees deeper than this (e.g. a chain of 10000 `~`) are rejected: evaluating and
// destroying them recurses.
inline constexpr int max_expr_depth = 200;

result<stmt_list> parse_template(const std::vector<token>& tokens);

}  // namespace troupe::runtime::jinja
