#include "http/tool_calls.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "http/openai_json.hpp"
#include "http/python_json.hpp"

namespace troupe::http {
namespace {

constexpr size_t none = std::string::npos;

// Python's str.isspace for one code point.
bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Whether `text` is empty after Python's str.strip() (vLLM gives a blank answer no call).
bool is_blank(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (i + len > text.size()) return false;
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    if (!is_python_space(cp)) return false;
    i += len;
  }
  return true;
}

// Whether pydantic's lax mode reads `v` as a boolean (true, 1, 1.0, "yes", "off", ...).
bool is_lax_bool(const python_value& v) {
  using kind = python_value::kind;
  if (v.type == kind::boolean) return true;
  if (v.type == kind::integer) return v.text == "0" || v.text == "1";
  if (v.type == kind::floating) {
    const double d = std::strtod(v.text.c_str(), nullptr);
    return d == 0.0 || d == 1.0;
  }
  if (v.type != kind::string) return false;
  std::string s = v.text;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"})
    if (s == word) return true;
  return false;
}

// One element of the answer as pydantic validates a FunctionDefinition: a string name; optional
// description (string), parameters (object), strict and defer_loading (booleans); other keys
// allowed. nullopt: the whole answer fails validation.
std::optional<tool_call> read_call(const python_value& v) {
  using kind = python_value::kind;
  if (v.type != kind::object) return std::nullopt;
  tool_call call;
  bool has_name = false;
  call.arguments = "null";  // json.dumps(None): parameters absent or null
  for (const auto& [key, value] : v.members) {
    const bool is_null = value.type == kind::null;
    if (key == "name") {
      if (value.type != kind::string) return std::nullopt;
      call.name = value.text;
      has_name = true;
    } else if (key == "parameters") {
      if (!is_null && value.type != kind::object) return std::nullopt;
      if (!is_null) call.arguments = python_json_dumps(value);
    } else if (key == "description") {
      if (!is_null && value.type != kind::string) return std::nullopt;
    } else if (key == "strict" || key == "defer_loading") {
      if (!is_null && !is_lax_bool(value)) return std::nullopt;
    }
  }
  if (!has_name) return std::nullopt;
  return call;
}

std::vector<tool_call> parse_required_calls(std::string_view text) {
  std::optional<python_value> answer = parse_python_json(text);
  if (!answer || answer->type != python_value::kind::array) return {};
  std::vector<tool_call> calls;
  for (const python_value& item : answer->items) {
    std::optional<tool_call> call = read_call(item);
    if (!call) return {};
    call->id = make_tool_call_id();
    calls.push_back(std::move(*call));
  }
  return calls;
}

// Where one element of a "required" answer sits in the text: its name once the string is
// complete (name_end just past its closing quote) and the byte span of its parameters value
// (args_end `none` while the value is still open). Offsets never change as text is added.
struct call_span {
  std::optional<std::string> name;
  size_t name_end = none;
  size_t args_start = none;
  size_t args_end = none;

  bool ready() const { return name && args_start != none; }
  // Whether the first `length` bytes of the text already made this call streamable.
  bool ready_at(size_t length) const {
    return name && name_end <= length && args_start != none && args_start < length;
  }
};

}  // namespace

// vLLM's _scan_required_tool_calls made incremental: one pass over the text as it grows that
// reads only the element level of the array (depth 2), so quotes and brackets inside values
// cannot confuse it. Text after the array's closing bracket is ignored.
struct tool_call_stream::required_scanner {
  // What the element object expects next.
  enum class expect : uint8_t {
    key,
    colon,
    value,
    string_value,     // inside a string value
    container_value,  // inside an object or array value
    scalar_value,     // inside a number or literal
    after_value
  };

  std::string text;
  std::vector<call_span> spans;

  void feed(std::string_view more) {
    text += more;
    for (; !stopped_ && pos_ < text.size(); ++pos_)
      step(pos_);
  }

 private:
  void end_value(size_t pos) {
    call_span& call = spans.back();
    if (key_ == "parameters") {
      call.args_end = pos;
    } else if (key_ == "name" && expect_ == expect::string_value) {
      rapidjson::Document name;
      name.Parse(text.data() + value_start_, pos - value_start_);
      call.name.reset();  // not a JSON string: the call never becomes ready
      if (!name.HasParseError() && name.IsString()) {
        call.name.emplace(name.GetString(), name.GetStringLength());
        call.name_end = pos;
      }
    }
    expect_ = expect::after_value;
  }

  void start_value(size_t pos, expect state) {
    value_start_ = pos;
    if (key_ == "parameters") spans.back().args_start = pos;
    expect_ = state;
  }

  void step(size_t i) {
    const char ch = text[i];
    const bool at_element = depth_ == 2 && in_call_;
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (ch == '\\') {
        escaped_ = true;
      } else if (ch == '"') {
        in_string_ = false;
        if (at_element && expect_ == expect::key) {
          key_ = text.substr(string_start_ + 1, i - string_start_ - 1);
          expect_ = expect::colon;
        } else if (at_element && expect_ == expect::string_value) {
          end_value(i + 1);
        }
      }
      return;
    }
    if (ch == '"') {
      in_string_ = true;
      string_start_ = i;
      if (at_element && expect_ == expect::value) start_value(i, expect::string_value);
    } else if (ch == '{' || ch == '[') {
      open(i, ch);
    } else if (ch == '}' || ch == ']') {
      close(i);
    } else if (at_element) {
      element_char(i, ch);
    }
  }

  void open(size_t i, char ch) {
    if (depth_ == 0 && ch != '[') {
      stopped_ = true;
      return;
    }
    if (depth_ == 1) {
      if (ch != '{') {
        stopped_ = true;
        return;
      }
      spans.emplace_back();
      in_call_ = true;
      expect_ = expect::key;
      key_.clear();
    } else if (depth_ == 2 && in_call_ && expect_ == expect::value) {
      start_value(i, expect::container_value);
    }
    ++depth_;
  }

  void close(size_t i) {
    if (depth_ == 2 && in_call_ && expect_ == expect::scalar_value) end_value(i);
    --depth_;
    if (depth_ == 2 && in_call_ && expect_ == expect::container_value) {
      end_value(i + 1);
    } else if (depth_ == 1) {
      in_call_ = false;
    } else if (depth_ <= 0) {
      stopped_ = true;
    }
  }

  // A character outside strings and brackets, inside an element object.
  void element_char(size_t i, char ch) {
    const bool space = ch == ' ' || (ch >= 0x09 && ch <= 0x0D) || (ch >= 0x1C && ch <= 0x1F);
    if (ch == ':') {
      if (expect_ == expect::colon) expect_ = expect::value;
    } else if (ch == ',') {
      if (expect_ == expect::scalar_value) end_value(i);
      expect_ = expect::key;
      key_.clear();
    } else if (space) {
      if (expect_ == expect::scalar_value) end_value(i);
    } else if (expect_ == expect::value) {
      start_value(i, expect::scalar_value);
    }
  }

  size_t pos_ = 0;  // the next byte to scan
  bool stopped_ = false;
  int depth_ = 0;  // nesting of {} and []: element objects sit at 2
  bool in_string_ = false;
  bool escaped_ = false;
  size_t string_start_ = 0;
  bool in_call_ = false;  // inside an element object (spans.back())
  expect expect_ = expect::key;
  std::string key_;  // the current member's key ("" = none)
  size_t value_start_ = 0;
};

std::string make_tool_call_id() {
  return fmt::format("chatcmpl-tool-{:016x}", make_random_seed());
}

std::string make_mistral_tool_call_id() {
  static constexpr std::string_view alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id(9, '0');
  for (char& c : id)
    c = alphabet[make_random_seed() % alphabet.size()];
  return id;
}

std::vector<tool_call> parse_tool_calls(const tool_choice_mode& mode, std::string_view text) {
  std::vector<tool_call> calls;
  if (mode.type == tool_choice_mode::kind::named) {
    if (!is_blank(text))
      calls.push_back({make_tool_call_id(), mode.function_name, std::string(text)});
  } else if (mode.type == tool_choice_mode::kind::required) {
    calls = parse_required_calls(text);
  }
  if (!mode.parallel_tool_calls && calls.size() > 1) calls.resize(1);
  return calls;
}

std::string tool_choice_finish_reason(const tool_choice_mode& mode, std::string_view engine_reason,
                                      bool calls_streamed) {
  std::string reason(engine_reason.empty() ? "stop" : engine_reason);
  if (mode.type == tool_choice_mode::kind::required && reason == "stop" && calls_streamed)
    return "tool_calls";
  return reason;
}

tool_call_stream::tool_call_stream(tool_choice_mode mode) : mode_(std::move(mode)) {
  if (mode_.type == tool_choice_mode::kind::required)
    scanner_ = std::make_unique<required_scanner>();
}
tool_call_stream::tool_call_stream(tool_call_stream&&) noexcept = default;
tool_call_stream& tool_call_stream::operator=(tool_call_stream&&) noexcept = default;
tool_call_stream::~tool_call_stream() = default;

std::vector<tool_call_delta> tool_call_stream::on_text(std::string_view text) {
  std::vector<tool_call_delta> deltas;
  if (mode_.type == tool_choice_mode::kind::named) deltas = named_deltas(text);
  if (mode_.type == tool_choice_mode::kind::required) deltas = required_deltas(text);
  if (!deltas.empty()) calls_streamed_ = true;
  if (!mode_.parallel_tool_calls)
    std::erase_if(deltas, [](const tool_call_delta& d) { return d.index != 0; });
  return deltas;
}

std::vector<tool_call_delta> tool_call_stream::named_deltas(std::string_view text) {
  tool_call_delta delta;
  if (!calls_streamed_) {
    delta.id = make_tool_call_id();
    delta.name = mode_.function_name;
  }
  delta.arguments = text;
  return {std::move(delta)};
}

// Every call with something unsent, in order: a call not yet announced comes whole (id, name,
// the parameters text so far), an announced one with its new parameters text.
std::vector<tool_call_delta> tool_call_stream::required_deltas(std::string_view text) {
  const size_t sent = scanner_->text.size();
  scanner_->feed(text);
  const std::string& all = scanner_->text;
  std::vector<tool_call_delta> deltas;
  for (size_t i = 0; i < scanner_->spans.size(); ++i) {
    const call_span& span = scanner_->spans[i];
    if (!span.ready()) break;  // calls come in order: nothing later is ready either
    const size_t end = span.args_end != none ? span.args_end : all.size();
    tool_call_delta delta;
    delta.index = static_cast<int32_t>(i);
    if (span.ready_at(sent)) {
      const size_t from = std::min(end, sent);
      if (from == end) continue;
      delta.null_name = true;
      delta.arguments = all.substr(from, end - from);
    } else {
      delta.id = make_tool_call_id();
      delta.name = *span.name;
      delta.arguments = all.substr(span.args_start, end - span.args_start);
    }
    deltas.push_back(std::move(delta));
  }
  return deltas;
}

}  // namespace troupe::http
