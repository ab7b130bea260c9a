#pragma once
// Executes a parsed template against a context with jinja2's semantics (scoping of for loops
// and macros, Undefined, Python operators). One renderer per render call; not shared between
// threads. Internal to troupe_chat_template.
#include <memory>
#include <string>
#include <unordered_map>

#include "runtime/chat_template/ast.hpp"
#include "runtime/chat_template/value.hpp"

namespace troupe::runtime::jinja {

// Raised by the template's raise_exception(msg): the message is reported verbatim.
struct raised_error : template_error {
  using template_error::template_error;
};

// Abuse limits: a render that exceeds one fails with an error instead of running away.
struct render_limits {
  size_t max_output_bytes = size_t{64} << 20;
  int64_t max_loop_iterations = 1'000'000;
  int max_call_depth = 32;
};

class renderer {
 public:
  // requires: `program` and `context` outlive the renderer.
  renderer(const stmt_list& program, const value_object& context, render_limits limits = {});

  // The rendered text. Throws template_error (or raised_error) on failure.
  std::string run();

  // -- used by the built-in filters, tests and globals --
  value eval(const expr& e);
  value call_value(const value& callee, call_args& args, int line);
  value apply_filter(const std::string& name, const value& input, call_args& args, int line);
  bool apply_test(const std::string& name, const value& v, call_args& args, int line);
  void count_iterations(int64_t n);
  [[noreturn]] void fail(int line, const std::string& message) const;

 private:
  struct scope {
    std::unordered_map<std::string, value> vars;
    const scope* parent = nullptr;
  };
  enum class flow { normal, break_loop, continue_loop };

  flow exec_list(const stmt_list& body, std::string& out);
  flow exec(const stmt& s, std::string& out);
  void exec_for(const stmt& s, std::string& out);
  void exec_set(const stmt& s);
  void exec_call_block(const stmt& s, std::string& out);
  value make_macro(const stmt& s);
  std::string render_in_scope(const stmt_list& body, scope& sc);

  value lookup(const std::string& name) const;
  value eval_binary(const expr& e);
  value eval_compare(const expr& e);
  value eval_call(const expr& e);
  call_args eval_args(const expr& e, size_t first);
  value eval_slice(const expr& e);
  void write(std::string& out, const std::string& text);

  const stmt_list& program_;
  render_limits limits_;
  scope root_;
  scope* current_ = &root_;
  int call_depth_ = 0;
  int64_t iterations_ = 0;
};

// Built-ins (builtins.cpp).
value get_attribute(const value& obj, const std::string& name);
value get_item(const value& obj, const value& key);
value builtin_global(const std::string& name);  // undefined when there is none
value builtin_filter(renderer& r, const std::string& name, const value& input, call_args& args,
                     int line, bool& found);
bool builtin_test(renderer& r, const std::string& name, const value& v, call_args& args, int line,
                  bool& found);
// Python's str methods (codepoint-aware; upper/lower/capitalize change ASCII letters only).
std::string python_strip(const std::string& s, const value& chars, bool left, bool right);
value_list python_split(const std::string& s, const value& sep, int64_t maxsplit);
std::string python_replace(const std::string& s, const std::string& from, const std::string& to,
                           int64_t count);
std::string python_capitalize(const std::string& s);
std::string python_title(const std::string& s);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
// The elements for iterating `v` (dict keys, string codepoints); fails on non-iterables.
value_list iterate(renderer& r, const value& v, int line);
// Python's < for the orderable values.
bool less_than(renderer& r, const value& a, const value& b, int line);

}  // namespace troupe::runtime::jinja
