#include "runtime/chat_template/renderer.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

namespace troupe::runtime::jinja {
namespace {

bool numeric(const value& v) {
  return v.is_number() || v.is_bool();
}
int64_t to_int(const value& v) {
  return v.is_bool() ? int64_t{v.as_bool()} : v.as_int();
}
bool both_int(const value& a, const value& b) {
  return (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
}

std::string undefined_message(const value& v) {
  const std::string& n = v.undefined_name();
  return n.empty() ? "undefined value" : n;
}

}  // namespace

renderer::renderer(const stmt_list& program, const value_object& context, render_limits limits)
    : program_(program), limits_(limits) {
  for (const auto& [k, v] : context.items)
    root_.vars[k] = v;
}

std::string renderer::run() {
  std::string out;
  exec_list(program_, out);
  return out;
}

void renderer::fail(int line, const std::string& message) const {
  throw template_error("template error (line " + std::to_string(line) + "): " + message);
}

void renderer::count_iterations(int64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_loop_iterations) {
    throw template_error("template error: loop iteration limit exceeded");
  }
}

void renderer::write(std::string& out, const std::string& text) {
  if (out.size() + text.size() > limits_.max_output_bytes) {
    throw template_error("template error: output size limit exceeded");
  }
  out += text;
}

value renderer::lookup(const std::string& name) const {
  for (const scope* s = current_; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  value g = builtin_global(name);
  if (!g.is_undefined()) return g;
  return value::undefined("'" + name + "' is undefined");
}

// -- statements --

renderer::flow renderer::exec_list(const stmt_list& body, std::string& out) {
  for (const auto& s : body) {
    flow f = exec(*s, out);
    if (f != flow::normal) return f;
  }
  return flow::normal;
}

renderer::flow renderer::exec(const stmt& s, std::string& out) {
  switch (s.k) {
    case stmt::kind::text:
      write(out, s.text);
      return flow::normal;
    case stmt::kind::output:
      write(out, to_str(eval(*s.exprs[0])));
      return flow::normal;
    case stmt::kind::if_chain:
      for (size_t i = 0; i < s.bodies.size(); ++i) {
        if (i >= s.exprs.size() || eval(*s.exprs[i]).truthy()) return exec_list(s.bodies[i], out);
      }
      return flow::normal;
    case stmt::kind::for_loop:
      exec_for(s, out);
      return flow::normal;
    case stmt::kind::set:
      exec_set(s);
      return flow::normal;
    case stmt::kind::set_block: {
      std::string text;
      exec_list(s.bodies[0], text);
      current_->vars[s.names[0]] = std::move(text);
      return flow::normal;
    }
    case stmt::kind::macro:
      current_->vars[s.names[0]] = make_macro(s);
      return flow::normal;
    case stmt::kind::call_block:
      exec_call_block(s, out);
      return flow::normal;
    case stmt::kind::break_loop:
      return flow::break_loop;
    case stmt::kind::continue_loop:
      return flow::continue_loop;
  }
  return flow::normal;
}

void renderer::exec_set(const stmt& s) {
  value v = eval(*s.exprs[0]);
  if (!s.attr.empty()) {
    value target = lookup(s.names[0]);
    if (!target.is_object() || !target.as_object().is_namespace) {
      fail(s.line, "cannot assign attribute on non-namespace object");
    }
    target.as_object().set(s.attr, std::move(v));
    return;
  }
  if (s.names.size() == 1) {
    current_->vars[s.names[0]] = std::move(v);
    return;
  }
  value_list parts = iterate(*this, v, s.line);
  if (parts.size() != s.names.size()) fail(s.line, "wrong number of values to unpack");
  for (size_t i = 0; i < parts.size(); ++i)
    current_->vars[s.names[i]] = parts[i];
}

void renderer::exec_for(const stmt& s, std::string& out) {
  value_list items = iterate(*this, eval(*s.exprs[0]), s.line);
  scope loop_scope{{}, current_};
  scope* saved = current_;
  current_ = &loop_scope;
  auto bind = [&](const value& item) {
    if (s.names.size() == 1) {
      loop_scope.vars[s.names[0]] = item;
      return;
    }
    value_list parts = iterate(*this, item, s.line);
    if (parts.size() != s.names.size()) fail(s.line, "wrong number of values to unpack");
    for (size_t i = 0; i < parts.size(); ++i)
      loop_scope.vars[s.names[i]] = parts[i];
  };
  if (s.exprs[1]) {
    value_list kept;
    for (const value& item : items) {
      bind(item);
      if (eval(*s.exprs[1]).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  count_iterations(static_cast<int64_t>(items.size()) + 1);
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    bind(items[i]);
    auto cycle = [i](call_args& a) {
      if (a.positional.empty()) return value();
      return a.positional[static_cast<size_t>(i) % a.positional.size()];
    };
    loop_scope.vars["loop"] = make_object({
        {"index", i + 1},
        {"index0", i},
        {"revindex", n - i},
        {"revindex0", n - i - 1},
        {"first", i == 0},
        {"last", i == n - 1},
        {"length", n},
        {"depth", 1},
        {"depth0", 0},
        {"previtem", i > 0 ? items[i - 1] : value::undefined("'previtem' is undefined")},
        {"nextitem", i + 1 < n ? items[i + 1] : value::undefined("'nextitem' is undefined")},
        {"cycle", function_value{"cycle", cycle}},
    });
    if (exec_list(s.bodies[0], out) == flow::break_loop) break;
  }
  current_ = saved;
  if (n == 0 && s.bodies.size() > 1) exec_list(s.bodies[1], out);
}

std::string renderer::render_in_scope(const stmt_list& body, scope& sc) {
  if (++call_depth_ > limits_.max_call_depth) {
    throw template_error("template error: macro call depth limit exceeded");
  }
  scope* saved = current_;
  current_ = &sc;
  std::string text;
  try {
    exec_list(body, text);
  } catch (...) {
    current_ = saved;
    --call_depth_;
    throw;
  }
  current_ = saved;
  --call_depth_;
  return text;
}

value renderer::make_macro(const stmt& s) {
  const scope* definition_scope = &root_;
  auto call = [this, &s, definition_scope](call_args& a) -> value {
    scope sc{{}, definition_scope};
    for (size_t i = 0; i < s.params.size(); ++i) {
      value v = a.get(i, s.params[i]);
      if (v.is_undefined() && s.defaults[i]) {
        scope* saved = current_;
        current_ = &sc;
        v = eval(*s.defaults[i]);
        current_ = saved;
      }
      if (v.is_undefined()) v = value::undefined("'" + s.params[i] + "' is undefined");
      sc.vars[s.params[i]] = v;
    }
    if (const auto* c = [&]() -> const value* {
          for (const auto& [k, v] : a.keyword) {
            if (k == "caller") return &v;
          }
          return nullptr;
        }()) {
      sc.vars["caller"] = *c;
    }
    return render_in_scope(s.bodies[0], sc);
  };
  return function_value{s.names[0], call};
}

void renderer::exec_call_block(const stmt& s, std::string& out) {
  const expr& call = *s.exprs[0];
  value callee = eval(*call.args[0]);
  call_args args = eval_args(call, 1);
  scope* caller_parent = current_;
  auto caller = [this, &s, caller_parent](call_args& a) -> value {
    scope sc{{}, caller_parent};
    for (size_t i = 0; i < s.params.size(); ++i)
      sc.vars[s.params[i]] = a.get(i, s.params[i]);
    return render_in_scope(s.bodies[0], sc);
  };
  args.keyword.emplace_back("caller", function_value{"caller", caller});
  write(out, to_str(call_value(callee, args, s.line)));
}

// -- expressions --

value renderer::eval(const expr& e) {
  switch (e.k) {
    case expr::kind::literal:
      return e.lit;
    case expr::kind::name:
      return lookup(e.name);
    case expr::kind::list: {
      value_list l;
      for (const auto& a : e.args)
        l.push_back(eval(*a));
      return value(std::move(l), e.name == "tuple");
    }
    case expr::kind::dict: {
      auto o = std::make_shared<value_object>();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        value k = eval(*e.args[i]);
        if (!k.is_string()) fail(e.line, "only string keys are supported in dict literals");
        o->set(k.as_string(), eval(*e.args[i + 1]));
      }
      return value(o);
    }
    case expr::kind::attr: {
      value obj = eval(*e.args[0]);
      if (obj.is_undefined()) fail(e.line, undefined_message(obj));
      return get_attribute(obj, e.name);
    }
    case expr::kind::item: {
      value obj = eval(*e.args[0]);
      if (obj.is_undefined()) fail(e.line, undefined_message(obj));
      return get_item(obj, eval(*e.args[1]));
    }
    case expr::kind::slice:
      return eval_slice(e);
    case expr::kind::call:
      return eval_call(e);
    case expr::kind::filter: {
      value input = eval(*e.args[0]);
      call_args args = eval_args(e, 1);
      return apply_filter(e.name, input, args, e.line);
    }
    case expr::kind::test: {
      value input = eval(*e.args[0]);
      call_args args = eval_args(e, 1);
      return apply_test(e.name, input, args, e.line) != e.negated;
    }
    case expr::kind::unary: {
      value v = eval(*e.args[0]);
      if (e.name == "not") return !v.truthy();
      if (v.is_undefined()) fail(e.line, undefined_message(v));
      if (!numeric(v))
        fail(e.line, "bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
      if (e.name == "+") return v.is_bool() ? value(to_int(v)) : v;
      return v.is_float() ? value(-v.as_float()) : value(-to_int(v));
    }
    case expr::kind::binary:
      return eval_binary(e);
    case expr::kind::compare:
      return eval_compare(e);
    case expr::kind::cond:
      if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
      return e.args[2] ? eval(*e.args[2]) : value::undefined("conditional expression has no else");
  }
  return value();
}

call_args renderer::eval_args(const expr& e, size_t first) {
  call_args a;
  for (size_t i = first; i < e.args.size(); ++i)
    a.positional.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs)
    a.keyword.emplace_back(k, eval(*v));
  return a;
}

value renderer::eval_call(const expr& e) {
  value callee = eval(*e.args[0]);
  call_args args = eval_args(e, 1);
  return call_value(callee, args, e.line);
}

value renderer::call_value(const value& callee, call_args& args, int line) {
  if (callee.is_undefined()) fail(line, undefined_message(callee));
  if (!callee.is_function()) fail(line, "'" + callee.type_name() + "' object is not callable");
  return callee.as_function().call(args);
}

value renderer::eval_binary(const expr& e) {
  const std::string& op = e.name;
  value a = eval(*e.args[0]);
  if (op == "and") return a.truthy() ? eval(*e.args[1]) : a;
  if (op == "or") return a.truthy() ? a : eval(*e.args[1]);
  value b = eval(*e.args[1]);
  if (op == "~") {
    std::string joined = to_str(a);
    joined += to_str(b);
    if (joined.size() > limits_.max_output_bytes) fail(e.line, "string too large");
    return joined;
  }
  if (a.is_undefined()) fail(e.line, undefined_message(a));
  if (b.is_undefined()) fail(e.line, undefined_message(b));
  auto type_error = [&]() {
    fail(e.line, "unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                     b.type_name() + "'");
  };
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > limits_.max_output_bytes) {
        fail(e.line, "string too large");
      }
      return a.as_string() + b.as_string();
    }
    if (a.is_list() && b.is_list()) {
      count_iterations(static_cast<int64_t>(a.as_list().size() + b.as_list().size()));
      value_list l = a.as_list();
      l.insert(l.end(), b.as_list().begin(), b.as_list().end());
      return l;
    }
  }
  if (op == "*" && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) {
    const value& seq = a.is_string() || a.is_list() ? a : b;
    const value& count = a.is_string() || a.is_list() ? b : a;
    if (!count.is_int() && !count.is_bool()) type_error();
    int64_t n = std::max<int64_t>(0, to_int(count));
    count_iterations(n);
    if (seq.is_string()) {
      std::string s;
      for (int64_t i = 0; i < n; ++i)
        s += seq.as_string();
      if (s.size() > limits_.max_output_bytes) fail(e.line, "string too large");
      return s;
    }
    value_list l;
    for (int64_t i = 0; i < n; ++i)
      l.insert(l.end(), seq.as_list().begin(), seq.as_list().end());
    return l;
  }
  if (!numeric(a) || !numeric(b)) type_error();
  bool ints = both_int(a, b);
  double x = a.as_number(), y = b.as_number();
  if (op == "+") return ints ? value(to_int(a) + to_int(b)) : value(x + y);
  if (op == "-") return ints ? value(to_int(a) - to_int(b)) : value(x - y);
  if (op == "*") return ints ? value(to_int(a) * to_int(b)) : value(x * y);
  if (op == "/") {
    if (y == 0) fail(e.line, "division by zero");
    return x / y;
  }
  if (op == "//" || op == "%") {
    if (y == 0) fail(e.line, "integer division or modulo by zero");
    if (ints) {
      int64_t p = to_int(a), q = to_int(b);
      if (q == -1) {  // INT64_MIN / -1 traps; wrap instead (Python would give a bigint)
        return op == "//" ? value(static_cast<int64_t>(0ULL - static_cast<uint64_t>(p)))
                          : value(int64_t{0});
      }
      int64_t d = p / q;
      if ((p % q != 0) && ((p < 0) != (q < 0))) --d;
      return op == "//" ? value(d) : value(p - d * q);
    }
    double d = std::floor(x / y);
    return op == "//" ? value(d) : value(x - d * y);
  }
  if (op == "**") {
    if (ints && to_int(b) >= 0) {
      int64_t r = 1, base = to_int(a);
      for (int64_t i = 0; i < to_int(b) && i < 64; ++i)
        r *= base;
      return r;
    }
    return std::pow(x, y);
  }
  fail(e.line, "unknown operator " + op);
}

value renderer::eval_compare(const expr& e) {
  value left = eval(*e.args[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    value right = eval(*e.args[i + 1]);
    const std::string& op = e.ops[i];
    bool r = false;
    if (op == "==") {
      r = equals(left, right);
    } else if (op == "!=") {
      r = !equals(left, right);
    } else if (op == "in" || op == "not in") {
      call_args args;
      args.positional.push_back(right);
      r = apply_test("in", left, args, e.line) == (op == "in");
    } else if (op == "<") {
      r = less_than(*this, left, right, e.line);
    } else if (op == ">") {
      r = less_than(*this, right, left, e.line);
    } else if (op == "<=") {
      r = !less_than(*this, right, left, e.line);
    } else {
      r = !less_than(*this, left, right, e.line);
    }
    if (!r) return false;
    left = std::move(right);
  }
  return true;
}

value renderer::eval_slice(const expr& e) {
  value obj = eval(*e.args[0]);
  if (obj.is_undefined()) fail(e.line, undefined_message(obj));
  auto part = [&](int i) -> std::optional<int64_t> {
    if (!e.args[i]) return std::nullopt;
    value v = eval(*e.args[i]);
    if (v.is_none()) return std::nullopt;
    if (!v.is_int()) fail(e.line, "slice indices must be integers or None");
    return v.as_int();
  };
  auto start = part(1), stop = part(2), step_v = part(3);
  int64_t step = step_v.value_or(1);
  if (step == 0) fail(e.line, "slice step cannot be zero");
  std::vector<value> elems;
  std::vector<std::string> chars;
  if (obj.is_string()) {
    chars = split_codepoints(obj.as_string());
  } else if (obj.is_list()) {
    elems = obj.as_list();
  } else {
    fail(e.line, "'" + obj.type_name() + "' object is not subscriptable");
  }
  int64_t n = static_cast<int64_t>(obj.is_string() ? chars.size() : elems.size());
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t b = clamp(start, step > 0 ? 0 : n - 1), en = clamp(stop, step > 0 ? n : -1);
  std::string s;
  value_list l;
  for (int64_t i = b; step > 0 ? i < en : i > en; i += step) {
    if (obj.is_string()) {
      s += chars[static_cast<size_t>(i)];
    } else {
      l.push_back(elems[static_cast<size_t>(i)]);
    }
  }
  if (obj.is_string()) return s;
  return l;
}

value renderer::apply_filter(const std::string& name, const value& input, call_args& args,
                             int line) {
  bool found = false;
  value v = builtin_filter(*this, name, input, args, line, found);
  if (!found) fail(line, "no filter named '" + name + "'");
  return v;
}

bool renderer::apply_test(const std::string& name, const value& v, call_args& args, int line) {
  bool found = false;
  bool r = builtin_test(*this, name, v, args, line, found);
  if (!found) fail(line, "no test named '" + name + "'");
  return r;
}

}  // namespace troupe::runtime::jinja
