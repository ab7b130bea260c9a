// vLLM 0.32's PythonicToolParser (tool_parsers/pythonic_tool_parser.py) and the helpers of
// tool_parsers/utils.py it uses (get_parameter_value, handle_single_tool, make_valid_python,
// compute_tool_delta).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/python_literal.hpp"
#include "http/tool_parser_common.hpp"

namespace troupe::http::tool_parsing {
namespace {

using pv = python_value::kind;

// -- TOOL_CALL_REGEX.match ---------------------------------------------------------------------
// \[(N\((N=.*,\s*)*(N=.*\s)?\),\s*)*(N\((N=.*,\s*)*(N=.*\s*)?\)\s*)+\]  with N = [a-zA-Z]+\w*,
// DOTALL. The calls of the first group end in "),"; those of the second don't, and once one of
// them has an argument its `.*` can run to any later `)\s*]`, so only the first group's calls
// need a search: a work list over the positions where a call may begin.

size_t skip_regex_space(std::string_view t, size_t i) {
  while (i < t.size()) {
    const size_t len = py_space_length(t.substr(i));
    if (len == 0) break;
    i += len;
  }
  return i;
}

bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Past N at `i`, or npos. Non-ASCII characters count as \w (a documented approximation).
size_t past_regex_name(std::string_view t, size_t i) {
  if (i >= t.size() || !is_ascii_letter(t[i])) return std::string_view::npos;
  while (i < t.size() && (is_ascii_letter(t[i]) || (t[i] >= '0' && t[i] <= '9') || t[i] == '_' ||
                          static_cast<unsigned char>(t[i]) >= 0x80))
    ++i;
  return i;
}

bool matches_call_list_pattern(std::string_view t) {
  if (t.empty() || t[0] != '[') return false;
  // closes_from[i]: some ')' at or after i is followed by \s* and ']'.
  std::vector<bool> closes_from(t.size() + 1, false);
  for (size_t r = t.size(); r-- > 0;) {
    const bool here = t[r] == ')' && t[skip_regex_space(t, r + 1)] == ']';
    closes_from[r] = here || closes_from[r + 1];
  }
  std::vector<std::pair<size_t, bool>> work = {{1, true}};  // position, first group allowed
  std::vector<bool> seen_first(t.size() + 1, false), seen_second(t.size() + 1, false);
  while (!work.empty()) {
    auto [p, first_group] = work.back();
    work.pop_back();
    auto& seen = first_group ? seen_first : seen_second;
    if (p >= t.size() || seen[p]) continue;
    seen[p] = true;
    size_t q = past_regex_name(t, p);
    if (q == std::string_view::npos || q >= t.size() || t[q] != '(') continue;
    ++q;
    if (q < t.size() && t[q] == ')') {
      const size_t after = skip_regex_space(t, q + 1);
      if (after < t.size() && t[after] == ']') return true;
      work.emplace_back(after, false);
      if (first_group && q + 1 < t.size() && t[q + 1] == ',')
        work.emplace_back(skip_regex_space(t, q + 2), true);
      continue;
    }
    const size_t name_end = past_regex_name(t, q);
    if (name_end == std::string_view::npos || name_end >= t.size() || t[name_end] != '=') continue;
    const size_t e = name_end + 1;
    if (closes_from[e]) return true;
    if (!first_group) continue;
    // N=.* ending in ',' or \s, then "),".
    for (size_t r = t.find("),", e); r != std::string_view::npos; r = t.find("),", r + 1)) {
      if (r == e) continue;
      const std::string_view y = t.substr(e, r - e);
      if (y.back() == ',' || py_rstrip(y).size() != y.size())
        work.emplace_back(skip_regex_space(t, r + 2), true);
    }
  }
  return false;
}

// -- get_parameter_value / handle_single_tool --------------------------------------------------

std::optional<python_value> parameter_value(const python_expr& e);

// A dict key as json.dumps writes it, and a text equal for keys Python's dict takes as equal
// (1 == 1.0 == True).
std::optional<std::pair<std::string, std::string>> dict_key(const python_value& k) {
  switch (k.type) {
    case pv::null:
      return std::pair{std::string("null"), std::string("n")};
    case pv::string:
      return std::pair{k.text, "s" + k.text};
    case pv::boolean:
      return std::pair{k.text, std::string(k.text == "true" ? "#1" : "#0")};
    case pv::integer:
      return std::pair{k.text, "#" + k.text};
    case pv::floating: {
      const std::string written = python_json_dumps(k);
      const double d = std::strtod(k.text.c_str(), nullptr);
      if (std::isfinite(d) && d == std::floor(d)) {
        char buf[400];
        std::snprintf(buf, sizeof buf, "%.0f", d);
        const std::string whole = buf;
        return std::pair{written, "#" + (whole == "-0" ? std::string("0") : whole)};
      }
      return std::pair{written, "f" + written};
    }
    default:
      return std::nullopt;
  }
}

std::optional<python_value> dict_value(const python_expr& e) {
  python_value out;
  out.type = pv::object;
  std::vector<std::string> identities;
  for (size_t i = 0; i < e.keys.size(); ++i) {
    if (e.keys[i].type != python_expr::kind::constant) return std::nullopt;
    auto value = parameter_value(e.items[i]);
    auto key = dict_key(e.keys[i].value);
    if (!value || !key) return std::nullopt;
    auto same = std::find(identities.begin(), identities.end(), key->second);
    if (same != identities.end()) {
      out.members[static_cast<size_t>(same - identities.begin())].second = std::move(*value);
    } else {
      identities.push_back(key->second);
      out.members.emplace_back(key->first, std::move(*value));
    }
  }
  return out;
}

std::optional<python_value> parameter_value(const python_expr& e) {
  using k = python_expr::kind;
  switch (e.type) {
    case k::constant:
      return e.value;
    case k::dict:
      return dict_value(e);
    case k::list:
    case k::tuple:
    case k::set: {
      python_value out;
      out.type = pv::array;
      for (const python_expr& item : e.items) {
        auto v = parameter_value(item);
        if (!v) return std::nullopt;
        out.items.push_back(std::move(*v));
      }
      return out;
    }
    case k::name:
      if (e.id == "null") return python_value{};
      if (e.id == "true" || e.id == "false") return python_value{pv::boolean, e.id, {}, {}};
      return std::nullopt;
    case k::unary_minus:
    case k::unary_plus: {
      auto v = parameter_value(e.target[0]);
      if (!v || (v->type != pv::integer && v->type != pv::floating)) return std::nullopt;
      if (e.type == k::unary_minus)
        v->text = v->text.starts_with('-') ? v->text.substr(1) : "-" + v->text;
      return v;
    }
    default:
      return std::nullopt;
  }
}

// The dotted name of a call's target: a name, or attributes down to one.
std::optional<std::string> callee_name(const python_expr& e) {
  if (e.type == python_expr::kind::name) return e.id;
  if (e.type != python_expr::kind::attribute) return std::nullopt;
  auto base = callee_name(e.target[0]);
  if (!base) return std::nullopt;
  return *base + "." + e.id;
}

// handle_single_tool: the name and json.dumps of the keyword arguments (positional ones are
// dropped, as vLLM drops them).
std::optional<tool_call> single_tool(const python_expr& call) {
  auto name = callee_name(call.target[0]);
  if (!name) return std::nullopt;
  python_value arguments;
  arguments.type = pv::object;
  for (const auto& [key, expr] : call.keywords) {
    auto v = parameter_value(expr);
    if (!v) return std::nullopt;
    auto same = std::find_if(arguments.members.begin(), arguments.members.end(),
                             [&](const auto& m) { return m.first == key; });
    if (same != arguments.members.end()) {
      same->second = std::move(*v);  // f(x=1, x=2): a dict, the last value in the first place
    } else {
      arguments.members.emplace_back(key, std::move(*v));
    }
  }
  return tool_call{make_tool_call_id(), std::move(*name), python_json_dumps(arguments)};
}

// The calls of a module whose first statement is a list of calls; nullopt where vLLM raises.
std::optional<std::vector<tool_call>> module_calls(const python_module& module) {
  if (module.first.type != python_expr::kind::list) return std::nullopt;
  std::vector<tool_call> calls;
  for (const python_expr& e : module.first.items) {
    if (e.type != python_expr::kind::call) return std::nullopt;
    auto call = single_tool(e);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
  }
  return calls;
}

// -- make_valid_python -------------------------------------------------------------------------

bool is_escaped(std::string_view text, size_t index) {
  size_t backslashes = 0;
  while (index > backslashes && text[index - backslashes - 1] == '\\')
    ++backslashes;
  return backslashes % 2 == 1;
}

struct completed_text {
  std::string text;   // the text with `added` after it
  std::string added;  // closing brackets and quotes
  python_module module;
};

// The open brackets and quotes of `text` in order, as vLLM's scan sees them (a quote opens
// where it is not inside another; brackets inside quotes are text). nullopt: a mismatched
// closing bracket (vLLM raises).
std::optional<std::string> open_brackets(std::string_view text) {
  std::string stack;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!stack.empty() && (stack.back() == '\'' || stack.back() == '"')) {
      if (c == stack.back() && !is_escaped(text, i)) stack.pop_back();
      continue;
    }
    if (c == '[' || c == '(' || c == '{' || c == '\'' || c == '"') {
      stack += c;
    } else if (c == ']' || c == ')' || c == '}') {
      const char open = c == ']' ? '[' : c == ')' ? '(' : '{';
      if (stack.empty() || stack.back() != open) return std::nullopt;
      stack.pop_back();
    }
  }
  return stack;
}

size_t count_of(std::string_view s, char c) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), c));
}

// vLLM's make_valid_python: nullopt where it returns None or raises.
std::optional<completed_text> make_valid_python(std::string_view whole) {
  auto stack = open_brackets(whole);
  if (!stack) return std::nullopt;
  std::string_view text = py_rstrip(whole);
  if (text.ends_with('=') || text.ends_with(':')) return std::nullopt;
  const char top = stack->empty() ? '\0' : stack->back();
  // The text before the last '{' (resp. '(') must hold more ':' than ',' (more '=' than ',').
  if (top == '{' || top == '(') {
    const std::string_view before = text.substr(0, text.rfind(top));
    if (count_of(before, top == '{' ? ':' : '=') <= count_of(before, ',')) return std::nullopt;
  }
  if (text.ends_with(',')) text.remove_suffix(1);
  if (top == '[' && !text.ends_with('[') && !text.ends_with(')')) return std::nullopt;
  completed_text out;
  for (auto it = stack->rbegin(); it != stack->rend(); ++it)
    out.added += *it == '[' ? ']' : *it == '(' ? ')' : *it == '{' ? '}' : *it;
  out.text = std::string(text) + out.added;
  auto module = parse_python_module(out.text);
  if (!module) return std::nullopt;
  // A '}' it added that makes a set: a dict cut inside, not a set.
  if (out.added.find('}') != std::string::npos && module->has_set) return std::nullopt;
  out.module = std::move(*module);
  return out;
}

// -- the parser --------------------------------------------------------------------------------

class pythonic_parser final : public tool_parser {
 public:
  tool_call_extraction extract(std::string_view output) override {
    tool_call_extraction out;
    out.content = std::string(output);
    if (!matches_call_list_pattern(output)) return out;
    auto module = parse_python_module(output);
    if (!module) return out;
    auto calls = module_calls(*module);
    if (!calls) return out;
    out.tools_called = true;
    out.calls = std::move(*calls);
    out.content.reset();
    return out;
  }

  std::optional<tool_parser_delta> extract_streaming(std::string_view current_text,
                                                     std::string_view delta_text) override {
    if (!current_text.starts_with('[')) return tool_parser_delta{std::string(delta_text), {}};
    auto completed = make_valid_python(current_text);
    if (!completed) return std::nullopt;
    auto calls = module_calls(completed->module);
    if (!calls) return std::nullopt;
    std::vector<tool_call_delta> deltas;
    if (!stream_calls(*calls, completed->added, deltas)) return std::nullopt;
    if (!deltas.empty()) {
      // vLLM's "HACK": prev_tool_call_arr = [{"arguments": {}}] once anything was sent.
      if (prev_args_.empty()) prev_args_.emplace_back("{}");
      return tool_parser_delta{std::nullopt, std::move(deltas)};
    }
    if (completed->added.empty() && current_ > 0) return tool_parser_delta{std::string(), {}};
    return std::nullopt;
  }

 private:
  // The loop over the calls from the current one on; false where vLLM raises (what it changed
  // before raising stays changed, as in vLLM).
  bool stream_calls(const std::vector<tool_call>& calls, std::string_view added,
                    std::vector<tool_call_delta>& deltas) {
    for (size_t i = 0; i < calls.size(); ++i) {
      const auto index = static_cast<int32_t>(i);
      if (index < current_) continue;
      current_ = index;
      if (streamed_args_.size() == i) streamed_args_.emplace_back();
      if (i >= streamed_args_.size()) return false;
      const bool complete = i + 1 < calls.size() || added.find(")]") == std::string_view::npos;
      if (complete) ++current_;
      std::string withheld;
      if (!complete) {
        withheld = std::string(added.substr(0, added.size() - 2));
        if (added[added.size() - 2] == ')') withheld += '}';
        std::replace(withheld.begin(), withheld.end(), '\'', '"');
      }
      auto delta = tool_delta(streamed_args_[i], calls[i], index, withheld);
      if (!delta) return false;
      if (*delta) {
        streamed_args_[i] += (*delta)->arguments;
        deltas.push_back(std::move(**delta));
      }
    }
    return true;
  }

  // compute_tool_delta: outer nullopt where it raises, inner nullopt where it returns None.
  static std::optional<std::optional<tool_call_delta>> tool_delta(const std::string& sent,
                                                                  const tool_call& call,
                                                                  int32_t index,
                                                                  const std::string& withheld) {
    std::string_view arguments = call.arguments;
    if (!withheld.empty()) {
      if (!arguments.ends_with(withheld)) return std::nullopt;
      arguments.remove_suffix(withheld.size());
    }
    tool_call_delta d;
    d.index = index;
    if (sent.empty()) {
      d.id = call.id;
      d.name = call.name;
      d.arguments = std::string(arguments);
      return std::optional(std::move(d));
    }
    const std::string_view diff = past_sent(arguments, sent);
    if (diff.empty()) return std::optional<tool_call_delta>();
    d.null_id = true;
    d.arguments = std::string(diff);
    return std::optional(std::move(d));
  }

  int32_t current_ = -1;  // vLLM's current_tool_index (current_tool_id)
};

}  // namespace

std::unique_ptr<tool_parser> make_pythonic_parser() {
  return std::make_unique<pythonic_parser>();
}

}  // namespace troupe::http::tool_parsing
