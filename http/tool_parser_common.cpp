#include "http/tool_parser_common.hpp"

#include <array>
#include <cstdlib>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::http {
namespace tool_parsing {
namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The code point starting at s[i] and its length; invalid bytes count as one code point each,
// as Python's surrogateescape would.
std::pair<uint32_t, size_t> code_point_at(std::string_view s, size_t i) {
  const size_t len = runtime::utf8::valid_sequence_length(s, i);
  if (len == 0) return {static_cast<unsigned char>(s[i]), 1};
  return {runtime::utf8::decode_at(s, i, len), len};
}

// The start of the code point that ends at byte `end` (exclusive).
size_t last_code_point_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && is_continuation(s[i]) && end - i < 4)
    --i;
  return i;
}

// A JSON reader for JSONDecoder.raw_decode (strict: the text must hold the whole value) and for
// partial_json_parser's completion (lenient: the text may end anywhere). Strings and whole
// documents are checked by parse_python_json; recursion is bounded by python_json_max_depth.
class json_reader {
 public:
  enum class got : uint8_t { complete, partial, none, error };

  json_reader(std::string_view s, bool lenient, bool allow_partial_strings)
      : s_(s), lenient_(lenient), allow_str_(allow_partial_strings) {}

  got value(python_value& v, int depth) {
    if (at_end()) return cut(got::none);
    const char c = s_[i_];
    if (c == '{' || c == '[') {
      if (depth >= python_json_max_depth) return got::error;
      return c == '{' ? object(v, depth + 1) : array(v, depth + 1);
    }
    if (c == '"') return string(v);
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    return literal(v, "");
  }

  size_t pos() const { return i_; }
  void skip_space() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  // The text ended: fine for the lenient reader, an error for the strict one.
  got cut(got lenient_result) const { return lenient_ ? lenient_result : got::error; }

  got object(python_value& v, int depth) {
    v.type = python_value::kind::object;
    ++i_;
    skip_space();
    if (at_end()) return cut(got::partial);
    if (s_[i_] == '}') return ++i_, got::complete;
    while (true) {
      if (at_end()) return cut(got::partial);
      if (s_[i_] != '"') return got::error;
      python_value key;
      const got k = string_token(key, true);
      if (k == got::error) return got::error;
      if (k != got::complete) return cut(got::partial);
      skip_space();
      if (at_end()) return cut(got::partial);
      if (s_[i_++] != ':') return got::error;
      skip_space();
      python_value item;
      const got r = value(item, depth);
      if (r == got::error) return got::error;
      if (r == got::none) return cut(got::partial);
      set_member(v, std::move(key.text), std::move(item));
      if (r == got::partial) return got::partial;
      skip_space();
      if (at_end()) return cut(got::partial);
      if (s_[i_] == '}') return ++i_, got::complete;
      if (s_[i_++] != ',') return got::error;
      skip_space();
    }
  }

  static void set_member(python_value& v, std::string key, python_value item) {
    for (auto& m : v.members) {
      if (m.first == key) {
        m.second = std::move(item);
        return;
      }
    }
    v.members.emplace_back(std::move(key), std::move(item));
  }

  got array(python_value& v, int depth) {
    v.type = python_value::kind::array;
    ++i_;
    skip_space();
    if (at_end()) return cut(got::partial);
    if (s_[i_] == ']') return ++i_, got::complete;
    while (true) {
      python_value item;
      const got r = value(item, depth);
      if (r == got::error) return got::error;
      if (r == got::none) return cut(got::partial);
      v.items.push_back(std::move(item));
      if (r == got::partial) return got::partial;
      skip_space();
      if (at_end()) return cut(got::partial);
      if (s_[i_] == ']') return ++i_, got::complete;
      if (s_[i_++] != ',') return got::error;
      skip_space();
    }
  }

  got string(python_value& v) { return string_token(v, allow_str_); }

  // A string token; cut, it is kept (completed) only when `keep_cut`.
  got string_token(python_value& v, bool keep_cut) {
    const size_t start = i_++;
    while (!at_end() && s_[i_] != '"') {
      i_ += s_[i_] == '\\' ? 2 : 1;
    }
    if (!at_end()) {
      ++i_;
      auto parsed = parse_python_json(s_.substr(start, i_ - start));
      if (!parsed) return got::error;
      v = std::move(*parsed);
      return got::complete;
    }
    i_ = s_.size();
    if (!lenient_) return got::error;
    if (!keep_cut) return got::none;
    std::string body(s_.substr(start + 1, complete_escapes_end(s_.substr(start + 1))));
    auto parsed = parse_python_json("\"" + body + "\"");
    if (!parsed) return got::error;
    v = std::move(*parsed);
    return got::partial;
  }

  // The length of `body` without a cut escape at its end (a lone '\', "\u" and fewer than four
  // hex digits, or a high surrogate whose low half has not come).
  static size_t complete_escapes_end(std::string_view body) {
    size_t i = 0;
    while (i < body.size()) {
      if (body[i] != '\\') {
        ++i;
        continue;
      }
      if (i + 1 >= body.size()) return i;
      if (body[i + 1] != 'u') {
        i += 2;
        continue;
      }
      if (i + 6 > body.size()) return i;
      const auto high = std::strtoul(std::string(body.substr(i + 2, 4)).c_str(), nullptr, 16);
      if (high >= 0xD800 && high <= 0xDBFF && i + 12 > body.size() &&
          body.substr(i + 6, 2) == std::string_view("\\u").substr(0, body.size() - i - 6)) {
        return i;
      }
      i += 6;
    }
    return body.size();
  }

  // -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?; cut inside, its valid prefix (partial_json_parser).
  got number(python_value& v) {
    const size_t start = i_;
    if (s_[i_] == '-') {
      ++i_;
      if (at_end()) return cut(got::none);
      if (s_[i_] == 'I') return literal(v, "-");
    }
    auto digits = [&] {
      const size_t from = i_;
      while (!at_end() && s_[i_] >= '0' && s_[i_] <= '9')
        ++i_;
      return i_ - from;
    };
    if (at_end() || s_[i_] < '0' || s_[i_] > '9') return got::error;
    if (s_[i_] == '0') {
      ++i_;
    } else {
      digits();
    }
    size_t valid_end = i_;
    bool integral = true;
    if (!at_end() && s_[i_] == '.') {
      ++i_;
      if (digits() == 0)
        return at_end() ? finish_number(v, start, valid_end, integral) : got::error;
      valid_end = i_;
      integral = false;
    }
    if (!at_end() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (!at_end() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0)
        return at_end() ? finish_number(v, start, valid_end, integral) : got::error;
      valid_end = i_;
      integral = false;
    }
    return finish_number(v, start, valid_end, integral);
  }

  got finish_number(python_value& v, size_t start, size_t end, bool integral) {
    if (i_ != end && !lenient_) return got::error;
    v.type = integral ? python_value::kind::integer : python_value::kind::floating;
    v.text.assign(s_.substr(start, end - start));
    return got::complete;
  }

  got literal(python_value& v, std::string_view sign) {
    static constexpr std::array<std::pair<std::string_view, python_value::kind>, 5> words{{
        {"true", python_value::kind::boolean},
        {"false", python_value::kind::boolean},
        {"null", python_value::kind::null},
        {"NaN", python_value::kind::floating},
        {"Infinity", python_value::kind::floating},
    }};
    const std::string_view rest = s_.substr(i_);
    for (auto [word, type] : words) {
      if (!sign.empty() && word != "Infinity") continue;
      const bool whole = rest.starts_with(word);
      if (!whole && !(lenient_ && !rest.empty() && word.starts_with(rest))) continue;
      i_ += whole ? word.size() : rest.size();
      v.type = type;
      v.text = std::string(sign) + std::string(word);
      return got::complete;
    }
    return got::error;
  }

  std::string_view s_;
  size_t i_ = 0;
  bool lenient_;
  bool allow_str_;
};

// partial_json_parser's fix_fast pops its bracket stack for every ']' and '}' outside strings
// and fails on one that closes nothing or the wrong bracket, even past the first value.
bool brackets_balance_so_far(std::string_view s) {
  std::string stack;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      stack += c;
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != (c == '}' ? '{' : '[')) return false;
      stack.pop_back();
    }
  }
  return true;
}

}  // namespace

bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t py_space_length(std::string_view s) {
  if (s.empty()) return 0;
  auto [cp, len] = code_point_at(s, 0);
  return py_isspace(cp) ? len : 0;
}

std::string_view py_rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const size_t start = last_code_point_start(s, end);
    if (!py_isspace(code_point_at(s, start).first)) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view py_lstrip(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto [cp, len] = code_point_at(s, i);
    if (!py_isspace(cp)) break;
    i += len;
  }
  return s.substr(i);
}

std::string_view py_strip(std::string_view s) {
  return py_lstrip(py_rstrip(s));
}

size_t partial_tag_overlap(std::string_view text, std::string_view tag) {
  for (size_t k = std::min(tag.size() - 1, text.size()); k > 0; --k) {
    if (text.ends_with(tag.substr(0, k))) return k;
  }
  return 0;
}

std::string_view common_prefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n])
    ++n;
  // A shared lead byte with different continuations is not a shared character.
  if (n < a.size() && is_continuation(a[n])) n = n == 0 ? 0 : last_code_point_start(a, n);
  return a.substr(0, n);
}

bool py_truthy(const python_value& v) {
  switch (v.type) {
    case python_value::kind::null:
      return false;
    case python_value::kind::boolean:
      return v.text == "true";
    case python_value::kind::integer:
      return v.text != "0" && v.text != "-0";
    case python_value::kind::floating:
      return v.text == "NaN" || std::strtod(v.text.c_str(), nullptr) != 0.0;
    case python_value::kind::string:
      return !v.text.empty();
    case python_value::kind::array:
      return !v.items.empty();
    case python_value::kind::object:
      return !v.members.empty();
  }
  return false;
}

std::optional<json_prefix> raw_decode(std::string_view text) {
  json_reader reader(text, false, true);
  json_prefix out;
  if (reader.value(out.value, 0) != json_reader::got::complete) return std::nullopt;
  out.end = reader.pos();
  return out;
}

std::optional<json_prefix> partial_json_loads(std::string_view text, bool allow_partial_strings) {
  if (!brackets_balance_so_far(text)) return std::nullopt;
  json_reader reader(text, true, allow_partial_strings);
  reader.skip_space();
  json_prefix out;
  const auto got = reader.value(out.value, 0);
  if (got == json_reader::got::error || got == json_reader::got::none) return std::nullopt;
  out.end = text.size();
  if (got == json_reader::got::partial) return out;
  const size_t value_end = reader.pos();
  reader.skip_space();
  if (reader.pos() == text.size()) return out;
  // "Extra data": vLLM retries with raw_decode, which takes no leading whitespace.
  if (text[0] == ' ' || text[0] == '\t' || text[0] == '\n' || text[0] == '\r') return std::nullopt;
  out.end = value_end;
  return out;
}

tool_call_delta name_delta(int32_t index, std::string name) {
  tool_call_delta d;
  d.index = index;
  d.id = make_tool_call_id();
  d.name = std::move(name);
  d.has_arguments = false;
  return d;
}

tool_call_delta arguments_delta(int32_t index, std::string arguments) {
  tool_call_delta d;
  d.index = index;
  d.arguments = std::move(arguments);
  return d;
}

}  // namespace tool_parsing

std::optional<tool_parser_kind> find_tool_parser(std::string_view name) {
  if (name == "hermes") return tool_parser_kind::hermes;
  if (name == "llama3_json" || name == "llama4_json") return tool_parser_kind::llama3_json;
  if (name == "mistral") return tool_parser_kind::mistral;
  if (name == "pythonic") return tool_parser_kind::pythonic;
  return std::nullopt;
}

std::string tool_parser_names() {
  return "hermes, llama3_json, llama4_json, mistral, pythonic";
}

std::string tool_parser_token_error(tool_parser_kind kind, const tool_parser_tokens& tokens) {
  if (kind == tool_parser_kind::llama3_json && tokens.python_tag < 0) {
    return "Llama3JsonToolParser could not locate the bot token '<|python_tag|>' in the "
           "tokenizer.";
  }
  if (kind == tool_parser_kind::mistral && tokens.tool_calls < 0)
    return "Mistral parser could not locate the tool call token in the tokenizer!";
  if (kind == tool_parser_kind::mistral && tokens.has_args_token) {
    return "troupe's mistral tool parser reads only the pre-v11 format ([TOOL_CALLS] then a JSON "
           "array of calls); this tokenizer has the [ARGS] token of Mistral v11 and later "
           "([TOOL_CALLS]name[ARGS]{...}), which it does not read";
  }
  return {};
}

bool tool_parser_keeps_special_tokens(tool_parser_kind kind) {
  return kind == tool_parser_kind::hermes || kind == tool_parser_kind::mistral;
}

std::unique_ptr<tool_parser> tool_parser::make(tool_parser_kind kind, tool_parser_options options) {
  switch (kind) {
    case tool_parser_kind::hermes:
      return tool_parsing::make_hermes_parser();
    case tool_parser_kind::llama3_json:
      return tool_parsing::make_llama3_json_parser();
    case tool_parser_kind::mistral:
      return tool_parsing::make_mistral_parser(options.forced_call);
    case tool_parser_kind::pythonic:
      return tool_parsing::make_pythonic_parser();
  }
  return nullptr;
}

std::string tool_parser::remaining_unstreamed_args() const {
  if (prev_args_.empty()) return {};
  const size_t index = prev_args_.size() - 1;
  const std::string& expected = prev_args_[index];
  // Both arms string_view: a std::string arm would make the result a dangling temporary.
  const std::string_view actual =
      index < streamed_args_.size() ? std::string_view(streamed_args_[index]) : std::string_view();
  return expected.starts_with(actual) ? expected.substr(actual.size()) : std::string();
}

}  // namespace troupe::http
