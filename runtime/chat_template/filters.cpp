// jinja2's built-in filters and tests that chat templates use, plus transformers' tojson.
#include <algorithm>
#include <cmath>

#include "runtime/chat_template/renderer.hpp"

namespace troupe::runtime::jinja {
namespace {

struct filter_call {
  renderer& r;
  const value& in;
  call_args& args;
  int line;
};

value arg(const filter_call& c, size_t i, const char* name, value fallback = value()) {
  return c.args.get(i, name, std::move(fallback));
}

value attribute_path(const value& v, const std::string& path) {
  value cur = v;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (cur.is_undefined()) return cur;
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = digits ? get_item(cur, value(static_cast<int64_t>(std::stoll(part))))
                 : get_item(cur, value(part));
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

int64_t length_of(const filter_call& c) {
  const value& v = c.in;
  if (v.is_string()) return static_cast<int64_t>(count_codepoints(v.as_string()));
  if (v.is_list()) return static_cast<int64_t>(v.as_list().size());
  if (v.is_object()) return static_cast<int64_t>(v.as_object().items.size());
  if (v.is_undefined()) return 0;
  c.r.fail(c.line, "object of type '" + v.type_name() + "' has no len()");
}

std::string title_case(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (const std::string& cp : split_codepoints(s)) {
    bool sep = cp == "-" || cp == "(" || cp == "{" || cp == "[" || cp == "<" || is_python_space(cp);
    if (sep) {
      out += cp;
      word_start = true;
    } else {
      out += word_start ? py_upper(cp) : py_lower(cp);
      word_start = false;
    }
  }
  return out;
}

// select/reject/selectattr/rejectattr: keep the items whose test result equals `keep`.
value select_items(const filter_call& c, bool by_attribute, bool keep) {
  value_list out;
  size_t first_test_arg = by_attribute ? 1 : 0;
  std::string attribute = by_attribute ? to_str(arg(c, 0, "attribute")) : "";
  value test_name =
      c.args.positional.size() > first_test_arg ? c.args.positional[first_test_arg] : value();
  call_args test_args;
  for (size_t i = first_test_arg + 1; i < c.args.positional.size(); ++i) {
    test_args.positional.push_back(c.args.positional[i]);
  }
  for (const value& item : iterate(c.r, c.in, c.line)) {
    value subject = by_attribute ? attribute_path(item, attribute) : item;
    bool r = test_name.is_undefined()
                 ? subject.truthy()
                 : c.r.apply_test(to_str(test_name), subject, test_args, c.line);
    if (r == keep) out.push_back(item);
  }
  return out;
}

value map_items(const filter_call& c) {
  value_list out;
  value attribute = arg(c, 99, "attribute");
  call_args rest;
  for (size_t i = 1; i < c.args.positional.size(); ++i)
    rest.positional.push_back(c.args.positional[i]);
  for (const value& item : iterate(c.r, c.in, c.line)) {
    if (!attribute.is_undefined()) {
      value v = attribute_path(item, to_str(attribute));
      if (v.is_undefined()) v = arg(c, 99, "default");
      out.push_back(v);
    } else {
      if (c.args.positional.empty()) c.r.fail(c.line, "map requires a filter argument");
      out.push_back(c.r.apply_filter(to_str(c.args.positional[0]), item, rest, c.line));
    }
  }
  return out;
}

value round_filter(const filter_call& c) {
  if (!c.in.is_number() && !c.in.is_bool()) c.r.fail(c.line, "round expects a number");
  value p = arg(c, 0, "precision", int64_t{0});
  int64_t precision = p.is_int() ? p.as_int() : 0;
  std::string method = to_str(arg(c, 1, "method", "common"));
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = c.in.as_number() * scale;
  double r = method == "ceil"    ? std::ceil(x)
             : method == "floor" ? std::floor(x)
                                 : std::nearbyint(x);  // Python rounds half to even
  return r / scale;
}

value sort_filter(const filter_call& c) {
  value_list items = iterate(c.r, c.in, c.line);
  bool reverse = arg(c, 0, "reverse", false).truthy();
  bool case_sensitive = arg(c, 1, "case_sensitive", false).truthy();
  value attribute = arg(c, 2, "attribute");
  auto key = [&](const value& v) {
    value k = attribute.is_undefined() ? v : attribute_path(v, to_str(attribute));
    if (!case_sensitive && k.is_string()) return value(py_lower(k.as_string()));
    return k;
  };
  std::stable_sort(items.begin(), items.end(), [&](const value& a, const value& b) {
    return reverse ? less_than(c.r, key(b), key(a), c.line)
                   : less_than(c.r, key(a), key(b), c.line);
  });
  return items;
}

// dictsort(case_sensitive=false, by='key', reverse=false): the (key, value) pairs, sorted.
value dictsort_filter(const filter_call& c) {
  if (!c.in.is_object()) c.r.fail(c.line, "dictsort expects a mapping");
  bool case_sensitive = arg(c, 0, "case_sensitive", false).truthy();
  bool by_value = to_str(arg(c, 1, "by", "key")) == "value";
  bool reverse = arg(c, 2, "reverse", false).truthy();
  value_list pairs;
  for (const auto& [k, v] : c.in.as_object().items)
    pairs.push_back(value(value_list{k, v}, true));
  auto key = [&](const value& pair) {
    value k = pair.as_list()[by_value ? 1 : 0];
    return !case_sensitive && k.is_string() ? value(py_lower(k.as_string())) : k;
  };
  std::stable_sort(pairs.begin(), pairs.end(), [&](const value& a, const value& b) {
    return reverse ? less_than(c.r, key(b), key(a), c.line)
                   : less_than(c.r, key(a), key(b), c.line);
  });
  return pairs;
}

value join_filter(const filter_call& c) {
  std::string sep = to_str(arg(c, 0, "d", ""));
  value attribute = arg(c, 1, "attribute");
  std::string out;
  bool first = true;
  for (const value& item : iterate(c.r, c.in, c.line)) {
    out += (first ? "" : sep) +
           to_str(attribute.is_undefined() ? item : attribute_path(item, to_str(attribute)));
    first = false;
  }
  return out;
}

value indent_filter(const filter_call& c) {
  value w = arg(c, 0, "width", int64_t{4});
  std::string pad = w.is_string()
                        ? w.as_string()
                        : std::string(static_cast<size_t>(std::max<int64_t>(0, w.as_int())), ' ');
  bool first = arg(c, 1, "first", false).truthy();
  bool blank = arg(c, 2, "blank", false).truthy();
  std::string s = to_str(c.in), out;
  size_t pos = 0;
  bool is_first = true;
  while (pos <= s.size()) {
    size_t nl = s.find('\n', pos);
    std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    bool add = (is_first ? first : true) && (blank || !line.empty());
    out += (add ? pad : "") + line;
    if (nl == std::string::npos) break;
    out += '\n';
    pos = nl + 1;
    is_first = false;
  }
  return out;
}

value to_int_filter(const filter_call& c) {
  value fallback = arg(c, 0, "default", int64_t{0});
  if (c.in.is_int()) return c.in;
  if (c.in.is_bool()) return int64_t{c.in.as_bool()};
  if (c.in.is_float()) return static_cast<int64_t>(c.in.as_float());
  if (c.in.is_string()) {
    std::string s = python_strip(c.in.as_string(), value(none_t{}), true, true);
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == 0) return static_cast<int64_t>(v);
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return static_cast<int64_t>(d);
  }
  return fallback;
}

value to_float_filter(const filter_call& c) {
  value fallback = arg(c, 0, "default", 0.0);
  if (c.in.is_number() || c.in.is_bool()) return c.in.as_number();
  if (c.in.is_string()) {
    std::string s = python_strip(c.in.as_string(), value(none_t{}), true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == 0) return d;
  }
  return fallback;
}

value html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

value min_max(const filter_call& c, bool want_max) {
  value_list items = iterate(c.r, c.in, c.line);
  if (items.empty()) return value::undefined("no items");
  value best = items[0];
  for (const auto& v : items) {
    if (want_max ? less_than(c.r, best, v, c.line) : less_than(c.r, v, best, c.line)) best = v;
  }
  return best;
}

}  // namespace

value builtin_filter(renderer& r, const std::string& name, const value& in, call_args& args,
                     int line, bool& found) {
  found = true;
  filter_call c{r, in, args, line};
  if (name == "trim") return python_strip(to_str(in), arg(c, 0, "chars"), true, true);
  if (name == "length" || name == "count") return length_of(c);
  if (name == "upper") return py_upper(to_str(in));
  if (name == "lower") return py_lower(to_str(in));
  if (name == "title") return title_case(to_str(in));
  if (name == "capitalize") return python_capitalize(to_str(in));
  if (name == "string") return to_str(in);
  if (name == "safe") return in;
  if (name == "e" || name == "escape") return html_escape(to_str(in));
  if (name == "tojson") {
    // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None,
    // sort_keys=False); ensure_ascii=True is not supported (output stays UTF-8).
    value indent = arg(c, 1, "indent");
    json_style st;
    st.indent = indent.is_int() ? static_cast<int>(indent.as_int()) : -1;
    st.item_separator = st.indent < 0 ? ", " : ",";
    value separators = args.get(2, "separators");
    if (separators.is_list() && separators.as_list().size() == 2) {
      st.item_separator = to_str(separators.as_list()[0]);
      st.key_separator = to_str(separators.as_list()[1]);
    }
    st.sort_keys = args.get(3, "sort_keys", false).truthy();
    return to_json(in, st);
  }
  if (name == "replace") {
    value n = arg(c, 2, "count");
    return python_replace(to_str(in), to_str(arg(c, 0, "old")), to_str(arg(c, 1, "new")),
                          n.is_int() ? n.as_int() : -1);
  }
  if (name == "default" || name == "d") {
    bool boolean = arg(c, 1, "boolean", false).truthy();
    bool use_default = in.is_undefined() || (boolean && !in.truthy());
    return use_default ? arg(c, 0, "default_value", "") : in;
  }
  if (name == "items") {
    if (in.is_undefined()) return value_list{};
    if (!in.is_object()) r.fail(line, "items filter expects a mapping");
    return r.call_value(get_attribute(in, "items"), args, line);
  }
  if (name == "list") return iterate(r, in, line);
  if (name == "first" || name == "last") {
    value_list items = iterate(r, in, line);
    if (items.empty()) return value::undefined("no first item");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (in.is_string()) {
      auto cps = split_codepoints(in.as_string());
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it)
        out += *it;
      return out;
    }
    value_list items = iterate(r, in, line);
    std::reverse(items.begin(), items.end());
    return items;
  }
  if (name == "join") return join_filter(c);
  if (name == "int") return to_int_filter(c);
  if (name == "float") return to_float_filter(c);
  if (name == "abs") {
    if (in.is_int()) return in.as_int() < 0 ? -in.as_int() : in.as_int();
    if (in.is_float()) return std::fabs(in.as_float());
    r.fail(line, "bad operand type for abs(): '" + in.type_name() + "'");
  }
  if (name == "round") return round_filter(c);
  if (name == "select") return select_items(c, false, true);
  if (name == "reject") return select_items(c, false, false);
  if (name == "selectattr") return select_items(c, true, true);
  if (name == "rejectattr") return select_items(c, true, false);
  if (name == "map") return map_items(c);
  if (name == "sort") return sort_filter(c);
  if (name == "indent") return indent_filter(c);
  if (name == "dictsort") return dictsort_filter(c);
  if (name == "min") return min_max(c, false);
  if (name == "max") return min_max(c, true);
  if (name == "unique") {
    value_list out;
    for (const value& v : iterate(r, in, line)) {
      if (std::none_of(out.begin(), out.end(), [&](const value& o) { return equals(o, v); }))
        out.push_back(v);
    }
    return out;
  }
  if (name == "sum") {
    value total = arg(c, 1, "start", int64_t{0});
    for (const value& v : iterate(r, in, line)) {
      if (!(v.is_number() || v.is_bool()) || !(total.is_number() || total.is_bool()))
        r.fail(line, "sum expects numbers");
      total = (total.is_float() || v.is_float()) ? value(total.as_number() + v.as_number())
                                                 : value(static_cast<int64_t>(total.as_number()) +
                                                         static_cast<int64_t>(v.as_number()));
    }
    return total;
  }
  found = false;
  return value();
}

bool builtin_test(renderer& r, const std::string& name, const value& v, call_args& args, int line,
                  bool& found) {
  found = true;
  value other = args.get(0, "value");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object() && !v.as_object().is_namespace;
  if (name == "iterable") return v.is_list() || v.is_object() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_object() || v.is_string() || v.is_undefined();
  if (name == "number") return v.is_number() || v.is_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && py_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && py_upper(v.as_string()) == v.as_string();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int()) r.fail(line, "test '" + name + "' expects an integer");
    int64_t d = name == "divisibleby" ? (other.is_int() ? other.as_int() : 0) : 2;
    if (d == 0) r.fail(line, "integer division or modulo by zero");
    bool divisible = v.as_int() % d == 0;
    return name == "odd" ? !divisible : divisible;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, other);
  if (name == "ne" || name == "!=") return !equals(v, other);
  if (name == "sameas") return equals(v, other) && v.type() == other.type();
  if (name == "lt" || name == "lessthan" || name == "<") return less_than(r, v, other, line);
  if (name == "gt" || name == "greaterthan" || name == ">") return less_than(r, other, v, line);
  if (name == "le" || name == "<=") return !less_than(r, other, v, line);
  if (name == "ge" || name == ">=") return !less_than(r, v, other, line);
  if (name == "in") {
    if (other.is_string()) {
      if (!v.is_string())
        r.fail(line, "'in <string>' requires string as left operand, not " + v.type_name());
      return other.as_string().find(v.as_string()) != std::string::npos;
    }
    if (other.is_object() && !other.as_object().is_namespace) {
      return v.is_string() && other.as_object().find(v.as_string()) != nullptr;
    }
    if (other.is_list()) {
      return std::any_of(other.as_list().begin(), other.as_list().end(),
                         [&](const value& x) { return equals(x, v); });
    }
    if (other.is_undefined()) return false;
    r.fail(line, "argument of type '" + other.type_name() + "' is not iterable");
  }
  found = false;
  return false;
}

}  // namespace troupe::runtime::jinja
