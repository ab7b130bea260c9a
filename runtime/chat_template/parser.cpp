#include "runtime/chat_template/parser.hpp"

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

namespace troupe::runtime::jinja {
namespace {

class parser {
 public:
  explicit parser(const std::vector<token>& t) : t_(t) {}

  stmt_list parse_all() {
    std::string stopped_at;
    stmt_list body = parse_body({}, stopped_at);
    if (cur().kind != token_kind::eof) fail("unexpected tag");
    return body;
  }

 private:
  // -- token stream --
  const token& cur() const { return t_[pos_]; }
  const token& peek(size_t ahead = 1) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < t_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().kind == token_kind::op && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == token_kind::name && cur().text == n; }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool accept_name(const char* n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "'");
  }
  std::string expect_identifier() {
    if (cur().kind != token_kind::name) fail("expected a name");
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != token_kind::block_end) fail("expected end of statement block");
    advance();
  }
  [[noreturn]] void fail(const std::string& what) const {
    std::string near = cur().kind == token_kind::eof ? "end of template" : "'" + cur().text + "'";
    throw template_error("template syntax error (line " + std::to_string(cur().line) +
                         "): " + what + " near " + near);
  }
  struct depth_guard {
    explicit depth_guard(parser& p) : p_(p) {
      if (++p_.depth_ > max_parse_depth) p_.fail("nesting too deep");
    }
    ~depth_guard() { --p_.depth_; }
    parser& p_;
  };

  // -- statements --
  // Parses until a `{% name %}` whose name is in `stops` (left unconsumed after block_begin:
  // the name is the current token) or the end of the template.
  stmt_list parse_body(std::initializer_list<const char*> stops, std::string& stopped_at) {
    depth_guard guard(*this);
    stmt_list out;
    while (cur().kind != token_kind::eof) {
      if (cur().kind == token_kind::text) {
        auto s = make(stmt::kind::text);
        s->text = cur().text;
        out.push_back(std::move(s));
        advance();
      } else if (cur().kind == token_kind::var_begin) {
        advance();
        auto s = make(stmt::kind::output);
        s->exprs.push_back(parse_expression());
        if (cur().kind != token_kind::var_end) fail("expected end of print statement");
        advance();
        out.push_back(std::move(s));
      } else if (cur().kind == token_kind::block_begin) {
        advance();
        for (const char* stop : stops) {
          if (is_name(stop)) {
            stopped_at = stop;
            return out;
          }
        }
        parse_statement(out);
      } else {
        fail("unexpected token");
      }
    }
    if (stops.size() != 0)
      fail("unexpected end of template, expected '" + std::string(*stops.begin()) + "'");
    return out;
  }

  std::unique_ptr<stmt> make(stmt::kind k) const {
    auto s = std::make_unique<stmt>();
    s->k = k;
    s->line = cur().line;
    return s;
  }

  void parse_statement(stmt_list& out) {
    if (cur().kind != token_kind::name) fail("expected a statement name");
    std::string word = cur().text;
    advance();
    if (word == "if") return out.push_back(parse_if());
    if (word == "for") return out.push_back(parse_for());
    if (word == "set") return out.push_back(parse_set());
    if (word == "macro") return out.push_back(parse_macro());
    if (word == "call") return out.push_back(parse_call_block());
    if (word == "break" || word == "continue") {
      auto s = make(word == "break" ? stmt::kind::break_loop : stmt::kind::continue_loop);
      expect_block_end();
      return out.push_back(std::move(s));
    }
    if (word == "generation") {  // transformers' tag: renders its body
      expect_block_end();
      std::string stop;
      stmt_list body = parse_body({"endgeneration"}, stop);
      advance();
      expect_block_end();
      for (auto& s : body)
        out.push_back(std::move(s));
      return;
    }
    --pos_;
    fail("unknown statement '" + word + "'");
  }

  std::unique_ptr<stmt> parse_if() {
    auto s = make(stmt::kind::if_chain);
    s->exprs.push_back(parse_expression());
    expect_block_end();
    while (true) {
      std::string stop;
      s->bodies.push_back(parse_body({"elif", "else", "endif"}, stop));
      advance();
      if (stop == "elif") {
        s->exprs.push_back(parse_expression());
        expect_block_end();
      } else if (stop == "else") {
        expect_block_end();
        s->bodies.push_back(parse_body({"endif"}, stop));
        advance();
        expect_block_end();
        return s;
      } else {
        expect_block_end();
        return s;
      }
    }
  }

  std::unique_ptr<stmt> parse_for() {
    auto s = make(stmt::kind::for_loop);
    s->names.push_back(expect_identifier());
    while (accept_op(","))
      s->names.push_back(expect_identifier());
    if (!accept_name("in")) fail("expected 'in'");
    s->exprs.push_back(parse_condexpr(false));
    s->exprs.push_back(accept_name("if") ? parse_expression() : nullptr);
    if (is_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    std::string stop;
    s->bodies.push_back(parse_body({"else", "endfor"}, stop));
    advance();
    expect_block_end();
    if (stop == "else") {
      s->bodies.push_back(parse_body({"endfor"}, stop));
      advance();
      expect_block_end();
    }
    return s;
  }

  std::unique_ptr<stmt> parse_set() {
    auto s = make(stmt::kind::set);
    s->names.push_back(expect_identifier());
    if (accept_op(".")) {
      s->attr = expect_identifier();
    } else {
      while (accept_op(","))
        s->names.push_back(expect_identifier());
    }
    if (accept_op("=")) {
      s->exprs.push_back(parse_tuple_or_expression());
      expect_block_end();
      return s;
    }
    if (s->names.size() != 1 || !s->attr.empty()) fail("expected '='");
    s->k = stmt::kind::set_block;
    expect_block_end();
    std::string stop;
    s->bodies.push_back(parse_body({"endset"}, stop));
    advance();
    expect_block_end();
    return s;
  }

  void parse_params(stmt& s) {
    expect_op("(");
    while (!accept_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (accept_op(")")) break;
      s.params.push_back(expect_identifier());
      s.defaults.push_back(accept_op("=") ? parse_expression() : nullptr);
    }
  }

  std::unique_ptr<stmt> parse_macro() {
    auto s = make(stmt::kind::macro);
    s->names.push_back(expect_identifier());
    parse_params(*s);
    expect_block_end();
    std::string stop;
    s->bodies.push_back(parse_body({"endmacro"}, stop));
    advance();
    expect_block_end();
    return s;
  }

  std::unique_ptr<stmt> parse_call_block() {
    auto s = make(stmt::kind::call_block);
    if (is_op("(")) parse_params(*s);
    s->exprs.push_back(parse_expression());
    if (s->exprs[0]->k != expr::kind::call) fail("expected a call");
    expect_block_end();
    std::string stop;
    s->bodies.push_back(parse_body({"endcall"}, stop));
    advance();
    expect_block_end();
    return s;
  }

  // -- expressions --
  expr_ptr node(expr::kind k, int line) const {
    auto e = std::make_unique<expr>();
    e->k = k;
    e->line = line;
    return e;
  }

  // Records the subtree's depth; fails past max_expr_depth.
  expr_ptr checked(expr_ptr e) const {
    int d = 0;
    for (const auto& a : e->args) {
      if (a) d = std::max(d, a->depth);
    }
    for (const auto& [k, v] : e->kwargs)
      d = std::max(d, v->depth);
    e->depth = d + 1;
    if (e->depth > max_expr_depth) fail("expression nested too deeply");
    return e;
  }

  expr_ptr parse_tuple_or_expression() {
    int line = cur().line;
    expr_ptr first = parse_expression();
    if (!is_op(",")) return first;
    auto list = node(expr::kind::list, line);
    list->name = "tuple";
    list->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (cur().kind == token_kind::block_end || is_op(")")) break;
      list->args.push_back(parse_expression());
    }
    return checked(std::move(list));
  }

  expr_ptr parse_expression() { return parse_condexpr(true); }

  expr_ptr parse_condexpr(bool with_condexpr) {
    depth_guard guard(*this);
    int line = cur().line;
    expr_ptr e = parse_or();
    while (with_condexpr && accept_name("if")) {
      auto c = node(expr::kind::cond, line);
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      c->args.push_back(accept_name("else") ? parse_condexpr(true) : nullptr);
      e = checked(std::move(c));
    }
    return e;
  }

  expr_ptr binary(const char* op, expr_ptr l, expr_ptr r, int line) {
    auto b = node(expr::kind::binary, line);
    b->name = op;
    b->args.push_back(std::move(l));
    b->args.push_back(std::move(r));
    return checked(std::move(b));
  }

  expr_ptr parse_or() {
    int line = cur().line;
    expr_ptr e = parse_and();
    while (accept_name("or"))
      e = binary("or", std::move(e), parse_and(), line);
    return e;
  }

  expr_ptr parse_and() {
    int line = cur().line;
    expr_ptr e = parse_not();
    while (accept_name("and"))
      e = binary("and", std::move(e), parse_not(), line);
    return e;
  }

  expr_ptr parse_not() {
    int line = cur().line;
    if (accept_name("not")) {
      depth_guard guard(*this);
      auto u = node(expr::kind::unary, line);
      u->name = "not";
      u->args.push_back(parse_not());
      return checked(std::move(u));
    }
    return parse_compare();
  }

  expr_ptr parse_compare() {
    int line = cur().line;
    expr_ptr first = parse_math1();
    auto c = node(expr::kind::compare, line);
    c->args.push_back(std::move(first));
    while (true) {
      std::string op;
      if (cur().kind == token_kind::op &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        op = cur().text;
        advance();
      } else if (accept_name("in")) {
        op = "in";
      } else if (is_name("not") && peek().kind == token_kind::name && peek().text == "in") {
        advance();
        advance();
        op = "not in";
      } else {
        break;
      }
      c->ops.push_back(op);
      c->args.push_back(parse_math1());
    }
    if (c->ops.empty()) return std::move(c->args[0]);
    return checked(std::move(c));
  }

  expr_ptr parse_math1() {
    int line = cur().line;
    expr_ptr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      advance();
      e = binary(op.c_str(), std::move(e), parse_concat(), line);
    }
    return e;
  }

  expr_ptr parse_concat() {
    int line = cur().line;
    expr_ptr e = parse_math2();
    while (accept_op("~"))
      e = binary("~", std::move(e), parse_math2(), line);
    return e;
  }

  expr_ptr parse_math2() {
    int line = cur().line;
    expr_ptr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      advance();
      e = binary(op.c_str(), std::move(e), parse_pow(), line);
    }
    return e;
  }

  expr_ptr parse_pow() {
    int line = cur().line;
    expr_ptr e = parse_unary(true);
    while (accept_op("**"))
      e = binary("**", std::move(e), parse_unary(true), line);
    return e;
  }

  expr_ptr parse_unary(bool with_filter) {
    depth_guard guard(*this);
    int line = cur().line;
    expr_ptr e;
    if (is_op("-") || is_op("+")) {
      std::string op = cur().text;
      advance();
      e = node(expr::kind::unary, line);
      e->name = op;
      e->args.push_back(parse_unary(false));
      e = checked(std::move(e));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) return parse_filter_expr(std::move(e));
    return e;
  }

  expr_ptr parse_primary() {
    const token& t = cur();
    int line = t.line;
    if (t.kind == token_kind::name) {
      std::string n = t.text;
      advance();
      auto e = node(expr::kind::literal, line);
      if (n == "true" || n == "True") {
        e->lit = true;
      } else if (n == "false" || n == "False") {
        e->lit = false;
      } else if (n == "none" || n == "None") {
        e->lit = none_t{};
      } else {
        e->k = expr::kind::name;
        e->name = n;
      }
      return e;
    }
    if (t.kind == token_kind::string) {
      std::string s;
      while (cur().kind == token_kind::string) {
        s += cur().text;
        advance();
      }
      auto e = node(expr::kind::literal, line);
      e->lit = std::move(s);
      return e;
    }
    if (t.kind == token_kind::integer || t.kind == token_kind::floating) {
      auto e = node(expr::kind::literal, line);
      if (t.kind == token_kind::integer) {
        e->lit = static_cast<int64_t>(std::strtoll(t.text.c_str(), nullptr, 10));
      } else {
        e->lit = std::strtod(t.text.c_str(), nullptr);
      }
      advance();
      return e;
    }
    if (accept_op("(")) {
      if (accept_op(")")) {
        auto e = node(expr::kind::list, line);
        e->name = "tuple";
        return e;
      }
      expr_ptr e = parse_tuple_or_expression();
      expect_op(")");
      return e;
    }
    if (accept_op("[")) {
      auto e = node(expr::kind::list, line);
      while (!accept_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (accept_op("]")) break;
        e->args.push_back(parse_expression());
      }
      return checked(std::move(e));
    }
    if (accept_op("{")) {
      auto e = node(expr::kind::dict, line);
      while (!accept_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (accept_op("}")) break;
        e->args.push_back(parse_expression());
        expect_op(":");
        e->args.push_back(parse_expression());
      }
      return checked(std::move(e));
    }
    fail("unexpected token in expression");
  }

  expr_ptr parse_postfix(expr_ptr e) {
    while (true) {
      int line = cur().line;
      if (accept_op(".")) {
        auto a = node(expr::kind::attr, line);
        if (cur().kind == token_kind::integer) {
          a->k = expr::kind::item;
          auto idx = node(expr::kind::literal, line);
          idx->lit = static_cast<int64_t>(std::strtoll(cur().text.c_str(), nullptr, 10));
          advance();
          a->args.push_back(std::move(e));
          a->args.push_back(std::move(idx));
        } else {
          a->name = expect_identifier();
          a->args.push_back(std::move(e));
        }
        e = checked(std::move(a));
      } else if (accept_op("[")) {
        e = checked(parse_subscript(std::move(e), line));
      } else if (is_op("(")) {
        auto c = node(expr::kind::call, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = checked(std::move(c));
      } else {
        return e;
      }
    }
  }

  expr_ptr parse_subscript(expr_ptr target, int line) {
    expr_ptr parts[3];
    int colons = 0;
    while (!is_op("]")) {
      if (accept_op(":")) {
        if (++colons > 2) fail("bad slice");
        continue;
      }
      if (parts[colons]) fail("expected ']'");
      parts[colons] = parse_expression();
    }
    advance();
    if (colons == 0) {
      if (!parts[0]) fail("expected a subscript");
      auto i = node(expr::kind::item, line);
      i->args.push_back(std::move(target));
      i->args.push_back(std::move(parts[0]));
      return i;
    }
    auto s = node(expr::kind::slice, line);
    s->args.push_back(std::move(target));
    for (auto& p : parts)
      s->args.push_back(std::move(p));
    return s;
  }

  void parse_call_args(expr& call) {
    expect_op("(");
    bool first = true;
    while (!accept_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (accept_op(")")) break;
      if (cur().kind == token_kind::name && peek().kind == token_kind::op && peek().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        call.kwargs.emplace_back(key, parse_expression());
      } else {
        call.args.push_back(parse_expression());
      }
    }
  }

  expr_ptr parse_filter_expr(expr_ptr e) {
    while (true) {
      int line = cur().line;
      if (accept_op("|")) {
        auto f = node(expr::kind::filter, line);
        f->name = expect_identifier();
        while (accept_op(".")) {
          f->name += '.';
          f->name += expect_identifier();
        }
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = checked(std::move(f));
      } else if (accept_name("is")) {
        auto t = node(expr::kind::test, line);
        t->negated = accept_name("not");
        t->name = expect_identifier();
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().kind == token_kind::name || cur().kind == token_kind::string ||
                    cur().kind == token_kind::integer || cur().kind == token_kind::floating ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = checked(std::move(t));
      } else if (is_op("(")) {
        auto c = node(expr::kind::call, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = checked(std::move(c));
      } else {
        return e;
      }
    }
  }

  const std::vector<token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

result<stmt_list> parse_template(const std::vector<token>& tokens) {
  try {
    return parser(tokens).parse_all();
  } catch (const template_error& e) {
    return error{e.what()};
  }
}

}  // namespace troupe::runtime::jinja
