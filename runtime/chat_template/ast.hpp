#pragma once
// The parsed form of a template: expression and statement trees. Internal to
// troupe_chat_template.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/chat_template/value.hpp"

namespace troupe::runtime::jinja {

struct expr;
using expr_ptr = std::unique_ptr<expr>;

struct expr {
  enum class kind {
    literal,  // lit
    name,     // name
    list,     // args
    dict,     // args: key, value, key, value, ...
    attr,     // args[0].name
    item,     // args[0][args[1]]
    slice,    // args[0][args[1]:args[2]:args[3]] (null parts allowed)
    call,     // args[0](args[1..], kwargs)
    filter,   // args[0] | name(args[1..], kwargs)
    test,     // args[0] is [not] name(args[1..]); negated
    unary,    // name in {"-", "+", "not"}; args[0]
    binary,   // name is the operator; args[0], args[1]
    compare,  // args[0] ops[0] args[1] ops[1] args[2] ...
    cond,     // args[1] if args[0] else args[2] (args[2] may be null)
  };
  kind k;
  int line = 0;
  std::string name;
  value lit;
  std::vector<expr_ptr> args;
  std::vector<std::pair<std::string, expr_ptr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
  int depth = 1;  // of this subtree, bounded by the parser
};

struct stmt;
using stmt_list = std::vector<std::unique_ptr<stmt>>;

struct stmt {
  enum class kind {
    text,        // text
    output,      // {{ exprs[0] }}
    if_chain,    // exprs[i] guards bodies[i]; bodies.size() may be exprs.size() + 1 (else)
    for_loop,    // for names in exprs[0] [if exprs[1]]: bodies[0], else bodies[1]
    set,         // names = exprs[0]; or names[0].attr = exprs[0] when attr is set
    set_block,   // names[0] = rendered bodies[0]
    macro,       // macro names[0](params, defaults): bodies[0]
    call_block,  // {% call(params) exprs[0] %} bodies[0]
    break_loop,
    continue_loop,
  };
  kind k;
  int line = 0;
  std::string text;
  std::string attr;
  std::vector<std::string> names;
  std::vector<std::string> params;
  std::vector<expr_ptr> defaults;  // one per param, null where none
  std::vector<expr_ptr> exprs;
  std::vector<stmt_list> bodies;
};

}  // namespace troupe::runtime::jinja
