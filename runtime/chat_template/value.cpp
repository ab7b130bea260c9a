#include "runtime/chat_template/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace troupe::runtime::jinja {

value::value(value_list l, bool is_tuple)
    : v_(std::make_shared<const list_data>(list_data{std::move(l), is_tuple})) {}
value::value(function_value f) : v_(std::make_shared<const function_value>(std::move(f))) {}

double value::as_number() const {
  if (is_int()) return static_cast<double>(as_int());
  if (is_bool()) return as_bool() ? 1.0 : 0.0;
  return as_float();
}

bool value::truthy() const {
  switch (type()) {
    case kind::undefined:
    case kind::none:
      return false;
    case kind::boolean:
      return as_bool();
    case kind::integer:
      return as_int() != 0;
    case kind::floating:
      return as_float() != 0.0;
    case kind::string:
      return !as_string().empty();
    case kind::list:
      return !as_list().empty();
    case kind::object:
      return !as_object().items.empty() || as_object().is_namespace;
    case kind::function:
      return true;
  }
  return false;
}

std::string value::type_name() const {
  static const char* names[] = {"Undefined", "NoneType", "bool", "int",     "float",
                                "str",       "list",     "dict", "function"};
  if (is_object() && as_object().is_namespace) return "Namespace";
  return names[v_.index()];
}

const value* value_object::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void value_object::set(const std::string& key, value v) {
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(key, std::move(v));
}

value make_object(std::vector<std::pair<std::string, value>> items) {
  auto o = std::make_shared<value_object>();
  o->items = std::move(items);
  return value(std::move(o));
}

value call_args::get(size_t index, std::string_view name, value fallback) const {
  for (const auto& [k, v] : keyword) {
    if (k == name) return v;
  }
  if (index < positional.size()) return positional[index];
  return fallback;
}

// Python's repr(float): the shortest digits that round-trip, in fixed notation for
// exponents -5..15 and scientific ("1e-05", "1e+16") otherwise.
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, end);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp_buf;
  }
  if (exponent < 0) return out + "0." + std::string(-exponent - 1, '0') + digits;
  if (static_cast<int>(digits.size()) <= exponent + 1) {
    return out + digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  }
  out.append(digits, 0, static_cast<size_t>(exponent + 1));
  out += '.';
  out.append(digits, static_cast<size_t>(exponent + 1));
  return out;
}

namespace {

std::string repr_string(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == quote) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + quote;
}

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_newline(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}

void json_value(const value& v, const json_style& st, int depth, std::string& out) {
  const int indent = st.indent;
  const std::string& item_sep = st.item_separator;
  switch (v.type()) {
    case value::kind::none:
      out += "null";
      return;
    case value::kind::boolean:
      out += v.as_bool() ? "true" : "false";
      return;
    case value::kind::integer:
      out += std::to_string(v.as_int());
      return;
    case value::kind::floating: {
      double d = v.as_float();
      out += std::isnan(d)   ? "NaN"
             : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                             : float_repr(d);
      return;
    }
    case value::kind::string:
      json_string(v.as_string(), out);
      return;
    case value::kind::list: {
      const auto& l = v.as_list();
      if (l.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += item_sep;
        json_newline(out, indent, depth + 1);
        json_value(l[i], st, depth + 1, out);
      }
      json_newline(out, indent, depth);
      out += ']';
      return;
    }
    case value::kind::object: {
      auto items = v.as_object().items;
      if (st.sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      if (items.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        json_newline(out, indent, depth + 1);
        json_string(items[i].first, out);
        out += st.key_separator;
        json_value(items[i].second, st, depth + 1, out);
      }
      json_newline(out, indent, depth);
      out += '}';
      return;
    }
    default:
      throw template_error("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const value& v, int indent) {
  json_style st;
  st.indent = indent;
  st.item_separator = indent < 0 ? ", " : ",";
  return to_json(v, st);
}

std::string to_json(const value& v, const json_style& style) {
  std::string out;
  json_value(v, style, 0, out);
  return out;
}

std::string to_repr(const value& v) {
  switch (v.type()) {
    case value::kind::string:
      return repr_string(v.as_string());
    case value::kind::list: {
      const auto& l = v.as_list();
      std::string out = v.is_tuple() ? "(" : "[";
      for (size_t i = 0; i < l.size(); ++i)
        out += (i ? ", " : "") + to_repr(l[i]);
      if (v.is_tuple()) return out + (l.size() == 1 ? ",)" : ")");
      return out + "]";
    }
    case value::kind::object: {
      const auto& o = v.as_object();
      if (o.is_namespace) return "<Namespace>";
      std::string out = "{";
      for (size_t i = 0; i < o.items.size(); ++i) {
        out += (i ? ", " : "") + repr_string(o.items[i].first) + ": " + to_repr(o.items[i].second);
      }
      return out + "}";
    }
    default:
      return to_str(v);
  }
}

std::string to_str(const value& v) {
  switch (v.type()) {
    case value::kind::undefined:
      return "";
    case value::kind::none:
      return "None";
    case value::kind::boolean:
      return v.as_bool() ? "True" : "False";
    case value::kind::integer:
      return std::to_string(v.as_int());
    case value::kind::floating:
      return float_repr(v.as_float());
    case value::kind::string:
      return v.as_string();
    case value::kind::function:
      return "<function " + v.as_function().name + ">";
    default:
      return to_repr(v);
  }
}

bool equals(const value& a, const value& b) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_float() || b.is_float()) return a.as_number() == b.as_number();
    auto as_i = [](const value& x) { return x.is_bool() ? int64_t{x.as_bool()} : x.as_int(); };
    return as_i(a) == as_i(b);
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case value::kind::undefined:
    case value::kind::none:
      return true;
    case value::kind::string:
      return a.as_string() == b.as_string();
    case value::kind::list: {
      const auto &x = a.as_list(), &y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case value::kind::object: {
      const auto &x = a.as_object(), &y = b.as_object();
      if (x.is_namespace || y.is_namespace) return &x == &y;
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const value* other = y.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

std::vector<std::string> split_codepoints(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

size_t count_codepoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

bool is_python_space(std::string_view cp) {
  static const char* const spaces[] = {" ",      "\t",     "\n",     "\v",     "\f",     "\r",
                                       "\x1c",   "\x1d",   "\x1e",   "\x1f",   "\u0085", "\u00a0",
                                       "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004",
                                       "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
                                       "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"};
  for (const char* s : spaces) {
    if (cp == s) return true;
  }
  return false;
}

}  // namespace troupe::runtime::jinja
