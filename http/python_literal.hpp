#pragma once
// The part of Python's ast.parse that vLLM's "pythonic" tool parser relies on: a module whose
// first statement is an expression built of literals, names, attribute access, calls, unary
// +/-, lists, tuples, sets and dicts, e.g. `[get_weather(city='Paris', days=(1, -2))]`.
//
// Read as Python 3.11 reads it: strings in every quote form (single, double, triple; prefixes
// r, u, f and their case and order variants), with implicit concatenation and all escapes
// except \N{...}; ints (decimal, 0x, 0o, 0b, underscores) and floats (1., .5, 1e5); comments
// and newlines inside brackets; `\r\n` and `\r` read as `\n`.
//
// What Python takes but this reader refuses (nullopt), all of which vLLM's tool parser could
// only partly use: any other expression (operators, subscripts, comprehensions, lambda,
// starred or ** arguments, walrus), bytes and complex literals, `...`, f-strings holding a
// brace, \N{...} escapes, \u/\U escapes of surrogates, non-ASCII identifiers, ints of more
// than 4300 decimal digits, more than 200 nested brackets, and statements other than
// expression statements after the first one.
//
// Pure functions: any thread may call them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/python_json.hpp"

namespace troupe::http {

// One node of the expression (an ast.expr).
struct python_expr {
  enum class kind : uint8_t {
    constant,     // value: null (None), boolean, integer, floating or string
    name,         // id
    attribute,    // target[0].id
    call,         // target[0](items..., keywords...)
    list,         // items
    tuple,        // items
    set,          // items
    dict,         // keys[i]: items[i]
    unary_minus,  // -target[0]
    unary_plus,   // +target[0]
  };
  kind type = kind::constant;
  python_value value;
  std::string id;
  std::vector<python_expr> target;  // one node, where the kind has one
  std::vector<python_expr> items;
  std::vector<python_expr> keys;
  // call, in order; a name may come twice (ast.parse takes that, the compiler would not)
  std::vector<std::pair<std::string, python_expr>> keywords;
};

// ast.parse(text) where the first statement is an expression statement.
struct python_module {
  python_expr first;     // module.body[0].value
  bool has_set = false;  // an ast.Set anywhere in the module
};

std::optional<python_module> parse_python_module(std::string_view text);

}  // namespace troupe::http
