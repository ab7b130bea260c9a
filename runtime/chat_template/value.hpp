#pragma once
// The values a chat template computes with: Python's None, bool, int, float, str, list and dict
// (insertion-ordered), plus jinja2's Undefined and callables (macros, bound string methods,
// globals). Lists and dicts are shared and never mutated after construction, except a
// namespace() object, whose attributes `{% set ns.x = ... %}` assigns. Internal to
// troupe_chat_template.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace troupe::runtime::jinja {

// A template error while rendering. Thrown inside the interpreter only and turned into an
// error value at chat_template's boundary (the interpreter is deeply recursive; unwinding is
// the simplest correct way to abandon a render).
struct template_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class value;
struct undefined_t {
  std::string name;  // what was looked up, for messages
};
struct none_t {};
using value_list = std::vector<value>;
struct value_object;
struct call_args;
using native_function = std::function<value(call_args&)>;
struct list_data {
  value_list items;
  bool is_tuple = false;  // prints as (a, b) in Python's str()
};
struct function_value {
  std::string name;
  native_function call;
};

class value {
 public:
  enum class kind { undefined, none, boolean, integer, floating, string, list, object, function };

  value() : v_(undefined_t{}) {}
  value(none_t) : v_(none_t{}) {}                               // NOLINT
  value(bool b) : v_(b) {}                                      // NOLINT
  value(int64_t i) : v_(i) {}                                   // NOLINT
  value(int i) : v_(int64_t{i}) {}                              // NOLINT
  value(double d) : v_(d) {}                                    // NOLINT
  value(std::string s) : v_(std::move(s)) {}                    // NOLINT
  value(const char* s) : v_(std::string(s)) {}                  // NOLINT
  value(value_list l, bool is_tuple = false);                   // NOLINT
  value(std::shared_ptr<value_object> o) : v_(std::move(o)) {}  // NOLINT
  value(function_value f);                                      // NOLINT
  static value undefined(std::string name) { return value(undefined_t{std::move(name)}); }

  kind type() const { return static_cast<kind>(v_.index()); }
  bool is_undefined() const { return type() == kind::undefined; }
  bool is_none() const { return type() == kind::none; }
  bool is_bool() const { return type() == kind::boolean; }
  bool is_int() const { return type() == kind::integer; }
  bool is_float() const { return type() == kind::floating; }
  bool is_number() const { return is_int() || is_float(); }  // bool is not, as in jinja2
  bool is_string() const { return type() == kind::string; }
  bool is_list() const { return type() == kind::list; }
  bool is_object() const { return type() == kind::object; }
  bool is_function() const { return type() == kind::function; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  double as_number() const;  // int, float or bool as double
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const value_list& as_list() const {
    return std::get<std::shared_ptr<const list_data>>(v_)->items;
  }
  bool is_tuple() const {
    return is_list() && std::get<std::shared_ptr<const list_data>>(v_)->is_tuple;
  }
  value_object& as_object() const { return *std::get<std::shared_ptr<value_object>>(v_); }
  const function_value& as_function() const {
    return *std::get<std::shared_ptr<const function_value>>(v_);
  }
  const std::string& undefined_name() const { return std::get<undefined_t>(v_).name; }

  bool truthy() const;
  // Python's type name ("str", "list", "dict", "NoneType", ...).
  std::string type_name() const;

 private:
  explicit value(undefined_t u) : v_(std::move(u)) {}
  std::variant<undefined_t, none_t, bool, int64_t, double, std::string,
               std::shared_ptr<const list_data>, std::shared_ptr<value_object>,
               std::shared_ptr<const function_value>>
      v_;
};

struct value_object {
  std::vector<std::pair<std::string, value>> items;
  bool is_namespace = false;

  const value* find(std::string_view key) const;
  void set(const std::string& key, value v);  // replaces in place, else appends
};

value make_object(std::vector<std::pair<std::string, value>> items = {});

struct call_args {
  std::vector<value> positional;
  std::vector<std::pair<std::string, value>> keyword;

  // The argument at `index` or named `name`, else `fallback`.
  value get(size_t index, std::string_view name, value fallback = value()) const;
};

// Python's str(v) (undefined prints as ""), repr(v), and json.dumps(v, ensure_ascii=False)
// with indent (negative: none) and Python's default separators.
std::string to_str(const value& v);
std::string to_repr(const value& v);
std::string to_json(const value& v, int indent);
// json.dumps's indent, separators and sort_keys.
struct json_style {
  int indent = -1;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(const value& v, const json_style& style);
std::string float_repr(double d);

// Python's ==.
bool equals(const value& a, const value& b);

// UTF-8 helpers: strings index, slice and count by codepoint as Python's str does.
std::vector<std::string> split_codepoints(std::string_view s);
size_t count_codepoints(std::string_view s);
bool is_python_space(std::string_view codepoint);

}  // namespace troupe::runtime::jinja
