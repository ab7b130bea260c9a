// jinja2's globals, attribute/item lookup and the methods of str, dict and list that chat
// templates call. Filters and tests are in filters.cpp.
#include <cctype>
#include <chrono>
#include <ctime>

#include "runtime/chat_template/renderer.hpp"

namespace troupe::runtime::jinja {
namespace {

value no_attribute(const value& obj, const std::string& name) {
  std::string message = "'";
  message += obj.type_name();
  message += " object' has no attribute '";
  message += name;
  message += "'";
  return value::undefined(std::move(message));
}

value no_element(const value& obj, const std::string& key) {
  std::string message = "'";
  message += obj.type_name();
  message += " object' has no element ";
  message += key;
  return value::undefined(std::move(message));
}

// Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (what chat
// content mostly holds); other codepoints are left unchanged.
uint32_t map_case(uint32_t c, bool upper) {
  if (upper) {
    if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) ||
        (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F)) {
      return c - 32;
    }
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    if (c >= 0x100 && c <= 0x17F && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
      bool odd_is_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
      bool lower = odd_is_lower ? (c % 2 == 0) : (c % 2 == 1);
      return lower ? c - 1 : c;
    }
    return c;
  }
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
      (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F)) {
    return c + 32;
  }
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x138 && c != 0x149 && c != 0x17F) {
    bool odd_is_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    bool upper_case = odd_is_lower ? (c % 2 == 1) : (c % 2 == 0);
    return upper_case ? c + 1 : c;
  }
  return c;
}

std::string convert_case(const std::string& s, bool upper) {
  std::string out;
  for (const std::string& cp : split_codepoints(s)) {
    auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(cp[i])); };
    uint32_t c = 0;
    if (cp.size() == 1) {
      c = b(0);
    } else if (cp.size() == 2) {
      c = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    } else {
      out += cp;  // 3- and 4-byte codepoints: no mapping above
      continue;
    }
    if (upper && c == 0xDF) {  // ß has no one-codepoint capital: Python gives "SS"
      out += "SS";
      continue;
    }
    c = map_case(c, upper);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string case_upper(const std::string& s) {
  return convert_case(s, true);
}
std::string case_lower(const std::string& s) {
  return convert_case(s, false);
}

bool in_chars(const std::string& cp, const std::vector<std::string>& chars) {
  for (const auto& c : chars) {
    if (c == cp) return true;
  }
  return false;
}

}  // namespace

// Python's str.strip/lstrip/rstrip: whitespace when `chars` is None, else those codepoints.
std::string python_strip(const std::string& s, const value& chars, bool left, bool right) {
  std::vector<std::string> cps = split_codepoints(s);
  std::vector<std::string> set;
  bool whitespace = chars.is_none() || chars.is_undefined();
  if (!whitespace) set = split_codepoints(to_str(chars));
  auto strip_it = [&](const std::string& cp) {
    return whitespace ? is_python_space(cp) : in_chars(cp, set);
  };
  size_t b = 0, e = cps.size();
  while (left && b < e && strip_it(cps[b]))
    ++b;
  while (right && e > b && strip_it(cps[e - 1]))
    --e;
  std::string out;
  for (size_t i = b; i < e; ++i)
    out += cps[i];
  return out;
}

value_list python_split(const std::string& s, const value& sep, int64_t maxsplit) {
  value_list out;
  if (sep.is_none() || sep.is_undefined()) {
    std::vector<std::string> cps = split_codepoints(s);
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_python_space(cps[i]))
        ++i;
      if (i >= cps.size()) break;
      std::string word;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        for (; i < cps.size(); ++i)
          word += cps[i];
        out.push_back(python_strip(word, value(none_t{}), false, true));
        break;
      }
      while (i < cps.size() && !is_python_space(cps[i]))
        word += cps[i++];
      out.push_back(word);
    }
    return out;
  }
  const std::string d = to_str(sep);
  if (d.empty()) throw template_error("template error: empty separator");
  size_t pos = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    size_t f = s.find(d, pos);
    if (f == std::string::npos) break;
    out.push_back(s.substr(pos, f - pos));
    pos = f + d.size();
  }
  out.push_back(s.substr(pos));
  return out;
}

std::string python_replace(const std::string& s, const std::string& from, const std::string& to,
                           int64_t count) {
  std::string out;
  if (from.empty()) {
    std::vector<std::string> cps = split_codepoints(s);
    int64_t done = 0;
    for (const auto& c : cps) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += c;
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(from, pos);
    if (f == std::string::npos) break;
    out += s.substr(pos, f - pos) + to;
    pos = f + from.size();
    ++done;
  }
  return out + s.substr(pos);
}

// Python's str.title(): a letter after a letter is lowered, any other letter raised.
std::string python_title(const std::string& s) {
  std::string out;
  bool after_letter = false;
  for (const std::string& cp : split_codepoints(s)) {
    bool letter = cp.size() > 1 || std::isalpha(static_cast<unsigned char>(cp[0]));
    out += !letter ? cp : after_letter ? case_lower(cp) : case_upper(cp);
    after_letter = letter;
  }
  return out;
}

std::string python_capitalize(const std::string& s) {
  std::vector<std::string> cps = split_codepoints(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i)
    out += i == 0 ? case_upper(cps[i]) : case_lower(cps[i]);
  return out;
}

std::string py_upper(const std::string& s) {
  return case_upper(s);
}
std::string py_lower(const std::string& s) {
  return case_lower(s);
}

namespace {

bool starts_or_ends(const std::string& s, const value& arg, bool start) {
  auto one = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return start ? s.compare(0, p.size(), p) == 0
                 : s.compare(s.size() - p.size(), p.size(), p) == 0;
  };
  if (arg.is_list()) {
    for (const auto& p : arg.as_list()) {
      if (p.is_string() && one(p.as_string())) return true;
    }
    return false;
  }
  if (!arg.is_string()) throw template_error("template error: startswith/endswith expects a str");
  return one(arg.as_string());
}

value string_method(const value& obj, const std::string& name) {
  const std::string s = obj.as_string();
  auto method = [&](native_function f) { return value(function_value{name, std::move(f)}); };
  if (name == "startswith" || name == "endswith") {
    bool start = name == "startswith";
    return method(
        [s, start](call_args& a) { return value(starts_or_ends(s, a.get(0, "prefix"), start)); });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return method(
        [s, l, r](call_args& a) { return value(python_strip(s, a.get(0, "chars"), l, r)); });
  }
  if (name == "split") {
    return method([s](call_args& a) {
      value m = a.get(1, "maxsplit", value(int64_t{-1}));
      return value(python_split(s, a.get(0, "sep"), m.is_int() ? m.as_int() : -1));
    });
  }
  if (name == "upper") return method([s](call_args&) { return value(case_upper(s)); });
  if (name == "lower") return method([s](call_args&) { return value(case_lower(s)); });
  if (name == "capitalize") return method([s](call_args&) { return value(python_capitalize(s)); });
  if (name == "title") return method([s](call_args&) { return value(python_title(s)); });
  if (name == "replace") {
    return method([s](call_args& a) {
      value c = a.get(2, "count", value(int64_t{-1}));
      return value(python_replace(s, to_str(a.get(0, "old")), to_str(a.get(1, "new")),
                                  c.is_int() ? c.as_int() : -1));
    });
  }
  if (name == "find" || name == "count") {
    bool find = name == "find";
    return method([s, find](call_args& a) {
      std::string sub = to_str(a.get(0, "sub"));
      if (find) {
        size_t f = s.find(sub);
        return value(f == std::string::npos
                         ? int64_t{-1}
                         : static_cast<int64_t>(count_codepoints(s.substr(0, f))));
      }
      if (sub.empty()) return value(static_cast<int64_t>(count_codepoints(s) + 1));
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size()))
        ++n;
      return value(n);
    });
  }
  if (name == "join") {
    return method([s](call_args& a) {
      std::string out;
      value items = a.get(0, "iterable");
      if (!items.is_list()) throw template_error("template error: join expects a list");
      bool first = true;
      for (const auto& v : items.as_list()) {
        out += (first ? "" : s) + to_str(v);
        first = false;
      }
      return value(out);
    });
  }
  return no_attribute(obj, name);
}

value object_method(const value& obj, const std::string& name) {
  const value_object* o = &obj.as_object();
  auto method = [&](native_function f) { return value(function_value{name, std::move(f)}); };
  if (name == "items") {
    return method([obj, o](call_args&) {
      value_list l;
      for (const auto& [k, v] : o->items)
        l.push_back(value(value_list{k, v}, true));
      return value(l);
    });
  }
  if (name == "keys" || name == "values") {
    bool keys = name == "keys";
    return method([obj, o, keys](call_args&) {
      value_list l;
      for (const auto& [k, v] : o->items)
        l.push_back(keys ? value(k) : v);
      return value(l);
    });
  }
  if (name == "get") {
    return method([obj, o](call_args& a) {
      value key = a.get(0, "key");
      const value* v = key.is_string() ? o->find(key.as_string()) : nullptr;
      return v ? *v : a.get(1, "default", value(none_t{}));
    });
  }
  return value();
}

}  // namespace

value get_attribute(const value& obj, const std::string& name) {
  if (obj.is_string()) return string_method(obj, name);
  if (obj.is_object()) {
    if (!obj.as_object().is_namespace) {
      value m = object_method(obj, name);
      if (!m.is_undefined()) return m;
    }
    const value* v = obj.as_object().find(name);
    return v ? *v : no_attribute(obj, name);
  }
  return no_attribute(obj, name);
}

value get_item(const value& obj, const value& key) {
  if (obj.is_object() && key.is_string()) {
    const value* v = obj.as_object().find(key.as_string());
    if (v) return *v;
    return get_attribute(obj, key.as_string());
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.is_bool() ? int64_t{key.as_bool()} : key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.as_list()[static_cast<size_t>(i)];
    } else {
      std::vector<std::string> cps = split_codepoints(obj.as_string());
      int64_t n = static_cast<int64_t>(cps.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return cps[static_cast<size_t>(i)];
    }
    return no_element(obj, to_str(key));
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return no_element(obj, to_repr(key));
}

value_list iterate(renderer& r, const value& v, int line) {
  if (v.is_list()) return v.as_list();
  if (v.is_undefined()) return {};
  if (v.is_object() && !v.as_object().is_namespace) {
    value_list keys;
    for (const auto& [k, x] : v.as_object().items)
      keys.push_back(k);
    return keys;
  }
  if (v.is_string()) {
    value_list out;
    for (auto& c : split_codepoints(v.as_string()))
      out.push_back(std::move(c));
    return out;
  }
  r.fail(line, "'" + v.type_name() + "' object is not iterable");
}

bool less_than(renderer& r, const value& a, const value& b, int line) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    return a.as_number() < b.as_number();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list()) {
    const auto &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return less_than(r, x[i], y[i], line);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined() || b.is_undefined()) {
    r.fail(line, a.is_undefined() ? a.undefined_name() : b.undefined_name());
  }
  r.fail(line, "'<' not supported between instances of '" + a.type_name() + "' and '" +
                   b.type_name() + "'");
}

namespace {

value make_namespace(call_args& a) {
  auto o = std::make_shared<value_object>();
  o->is_namespace = true;
  for (const auto& p : a.positional) {
    if (p.is_object()) {
      for (const auto& [k, v] : p.as_object().items)
        o->set(k, v);
    }
  }
  for (const auto& [k, v] : a.keyword)
    o->set(k, v);
  return value(o);
}

value make_range(call_args& a) {
  auto arg = [&](size_t i) {
    const value& v = a.positional[i];
    if (!v.is_int()) throw template_error("template error: range() expects integers");
    return v.as_int();
  };
  int64_t start = 0, stop = 0, step = 1;
  if (a.positional.size() == 1) {
    stop = arg(0);
  } else if (a.positional.size() >= 2) {
    start = arg(0);
    stop = arg(1);
    if (a.positional.size() >= 3) step = arg(2);
  }
  if (step == 0) throw template_error("template error: range() arg 3 must not be zero");
  value_list out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (out.size() >= 100000) throw template_error("template error: range too large");
    out.push_back(i);
  }
  return out;
}

value strftime_now(call_args& a) {
  std::string fmt = to_str(a.get(0, "format"));
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[256];
  size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return std::string(buf, n);
}

}  // namespace

value builtin_global(const std::string& name) {
  if (name == "raise_exception") {
    return function_value{
        name, [](call_args& a) -> value { throw raised_error(to_str(a.get(0, "message"))); }};
  }
  if (name == "namespace") return function_value{name, make_namespace};
  if (name == "range") return function_value{name, make_range};
  if (name == "strftime_now") return function_value{name, strftime_now};
  if (name == "dict") {
    return function_value{name, [](call_args& a) {
                            value o = make_namespace(a);
                            o.as_object().is_namespace = false;
                            return o;
                          }};
  }
  return value();
}

}  // namespace troupe::runtime::jinja
