// vLLM 0.32's MistralToolParser (tool_parsers/mistral_tool_parser.py over parser/mistral.py's
// MistralParser) for pre-v11 tokenizers: [TOOL_CALLS] then a JSON array of calls.
#include <string>
#include <utility>
#include <vector>

#include "http/json_events.hpp"
#include "http/tool_parser_common.hpp"

namespace troupe::http::tool_parsing {
namespace {

constexpr std::string_view marker = "[TOOL_CALLS]";
constexpr size_t npos = std::string_view::npos;

using json_event = json_event_parser::event;
using json_event_type = json_event_parser::event_type;

const python_value* member(const python_value& object, std::string_view key) {
  for (const auto& [k, v] : object.members) {
    if (k == key) return &v;
  }
  return nullptr;
}

// The calls a decoded value holds: an object is one call, an array a list of them; an entry
// that is not an object with "name" or "arguments" is skipped.
std::vector<tool_call> read_calls(const python_value& value) {
  std::vector<const python_value*> entries;
  if (value.type == python_value::kind::object) entries.push_back(&value);
  if (value.type == python_value::kind::array) {
    for (const python_value& item : value.items)
      entries.push_back(&item);
  }
  std::vector<tool_call> calls;
  for (const python_value* entry : entries) {
    if (entry->type != python_value::kind::object) continue;
    const python_value* name = member(*entry, "name");
    const python_value* arguments = member(*entry, "arguments");
    if (!name && !arguments) continue;
    tool_call call{make_mistral_tool_call_id(), "", "{}"};
    if (name && name->type == python_value::kind::string) call.name = name->text;
    if (arguments && arguments->type == python_value::kind::string) {
      call.arguments = arguments->text;
    } else if (arguments && arguments->type != python_value::kind::null) {
      call.arguments = python_json_dumps(*arguments);
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

// JSONDecoder.raw_decode of the text's first value, else json.loads of the first match of the
// greedy regex \[{.*}\] (from the first "[{" to the last "}]").
std::optional<python_value> decode_calls(std::string_view json) {
  if (auto decoded = raw_decode(json)) return std::move(decoded->value);
  const size_t open = json.find("[{");
  const size_t close = json.rfind("}]");
  if (open == npos || close == npos || close < open + 2) return std::nullopt;
  return parse_python_json(json.substr(open, close + 2 - open));
}

// The first text between markers that is not blank, stripped; `text` starts with a marker.
std::string_view first_calls_text(std::string_view text) {
  while (text.starts_with(marker)) {
    text.remove_prefix(marker.size());
    const size_t next = text.find(marker);
    const std::string_view segment = py_strip(text.substr(0, next));
    if (!segment.empty()) return segment;
    text = next == npos ? std::string_view() : text.substr(next);
  }
  return {};
}

// The text with every marker removed.
std::string without_markers(std::string_view text) {
  std::string out;
  for (size_t at = text.find(marker); at != npos; at = text.find(marker)) {
    out += text.substr(0, at);
    text.remove_prefix(at + marker.size());
  }
  return out += text;
}

// Where the stream stands in the calls' JSON (vLLM's StreamingState).
enum class stage : uint8_t {
  before_call,       // before the first call object's '{'
  before_key,        // inside a call object, between members
  in_name,           // after "name":, its string not complete
  name_done,         // the name string just completed
  before_arguments,  // after "arguments":
  in_arguments,      // inside the arguments object
  arguments_done,    // the arguments object just closed
  call_done,         // a call object of the array closed
  all_done,          // the array (or the bare object) closed: the rest is content
};

// vLLM hands ijson the text only up to and with the first of these characters, so that it knows
// which piece brought which event; the characters depend on the stage.
std::string_view stop_characters(stage s) {
  switch (s) {
    case stage::before_call:
      return "{";
    case stage::before_key:
      return ":{}";
    case stage::in_name:
      return ",]}";
    case stage::before_arguments:
      return "{}";
    case stage::in_arguments:
      return "}";
    case stage::name_done:
    case stage::arguments_done:
      return "}]";
    case stage::call_done:
      return "{]";
    case stage::all_done:
      break;
  }
  return {};
}

// What one step has gathered for the current call (vLLM's current_tool_call).
struct call_piece {
  std::optional<std::string> name;
  std::optional<std::string> arguments;
  bool modified = false;
};

class mistral_parser final : public tool_parser {
 public:
  explicit mistral_parser(bool forced_call) : forced_(forced_call) {}

  bool engine_based() const override { return true; }

  tool_call_extraction extract(std::string_view output) override {
    tool_call_extraction out;
    std::string_view json;
    std::string_view before;
    if (const size_t first = output.find(marker); first != npos) {
      before = output.substr(0, first);
      json = first_calls_text(output.substr(first));
    } else if (forced_) {
      json = py_strip(output);
    } else {
      out.content = std::string(output);
      return out;
    }
    std::optional<python_value> value = decode_calls(json);
    std::vector<tool_call> calls = value ? read_calls(*value) : std::vector<tool_call>();
    if (calls.empty()) {
      out.content = std::string(json);
      return out;
    }
    out.tools_called = true;
    out.calls = std::move(calls);
    if (!py_strip(before).empty()) out.content = std::string(before);
    return out;
  }

  std::optional<tool_parser_delta> extract_streaming(std::string_view,
                                                     std::string_view delta_text) override {
    const bool has_marker = delta_text.find(marker) != npos;
    // A forced call's grammar writes the bare array: the first text begins it.
    if (has_marker || (forced_ && !delta_text.empty())) started_ = true;
    if (!started_) return tool_parser_delta{std::string(delta_text), {}};
    return step(delta_text, has_marker);
  }

 private:
  std::optional<tool_parser_delta> step(std::string_view delta, bool has_marker) {
    std::optional<std::string> content;
    std::string text(delta);
    if (has_marker) {
      const size_t at = delta.find(marker);
      if (at > 0) content = std::string(delta.substr(0, at));
      text = without_markers(delta.substr(at));
    }
    std::vector<tool_call_delta> calls;
    call_piece piece;
    std::string_view rest = text;
    while (!rest.empty()) {
      const stage before = stage_;
      std::string_view fed;
      if (stage_ == stage::all_done) {
        content = std::string(rest);  // replaces text before a marker in this delta, as vLLM's
        rest = {};
      } else {
        const size_t stop = rest.find_first_of(stop_characters(stage_));
        fed = rest.substr(0, stop == npos ? rest.size() : stop + 1);
        rest.remove_prefix(fed.size());
        // vLLM's ijson raises: the step sends nothing, what the events changed stays.
        if (!parse(fed)) return std::nullopt;
      }
      if (!absorb(before, fed, piece, calls)) return std::nullopt;
    }
    if (piece.modified && !finish_piece(piece, calls)) return std::nullopt;
    const bool has_content = content && !content->empty();
    if (has_content || !calls.empty()) {
      return tool_parser_delta{has_content ? std::move(content) : std::nullopt, std::move(calls)};
    }
    // vLLM's DeltaMessage(): an empty delta once the calls are complete.
    if (stage_ == stage::all_done) return tool_parser_delta{};
    return std::nullopt;
  }

  bool parse(std::string_view fed) {
    std::vector<json_event> events;
    const bool ok = json_.feed(fed, events);
    for (const json_event& e : events)
      on_event(e);
    return ok;
  }

  // One ijson event: the stage it leads to and what it brings (vLLM's coroutine). A bare
  // top-level object is read as the array's only element.
  void on_event(const json_event& e) {
    if (e.prefix.empty() && e.type == json_event_type::start_map) bare_ = true;
    const std::string prefix = !bare_             ? e.prefix
                               : e.prefix.empty() ? std::string("item")
                                                  : "item." + e.prefix;
    const bool call_level = prefix == "item";
    const bool key = e.type == json_event_type::map_key;
    if (call_level && e.type == json_event_type::start_map) {
      stage_ = stage::before_key;
      starting_call_ = true;
    }
    if (call_level && key && e.value == "name") stage_ = stage::in_name;
    if (prefix == "item.name" && e.type == json_event_type::string) {
      pending_name_ = e.value;
      stage_ = stage::name_done;
    }
    if (call_level && key && e.value == "arguments") stage_ = stage::before_arguments;
    if (prefix == "item.arguments") {
      if (e.type == json_event_type::start_map) stage_ = stage::in_arguments;
      if (e.type == json_event_type::end_map) stage_ = stage::arguments_done;
      if (e.type == json_event_type::string) pending_string_args_ = e.value;
    }
    if (call_level && e.type == json_event_type::end_map)
      stage_ = bare_ ? stage::all_done : stage::call_done;
    if (prefix.empty() && e.type == json_event_type::end_array) stage_ = stage::all_done;
  }

  // What the events of the piece `fed` (parsed in stage `before`) add to the step's deltas.
  // false: vLLM would fail the step.
  bool absorb(stage before, std::string_view fed, call_piece& piece,
              std::vector<tool_call_delta>& calls) {
    if (starting_call_) {
      starting_call_ = false;
      if (piece.modified && !finish_piece(piece, calls)) return false;
      piece = {};
      ++current_;
      streamed_args_.emplace_back();
      prev_args_.emplace_back();
      pending_id_ = make_mistral_tool_call_id();
    }
    if (pending_name_) {
      if (current_ < 0) return false;  // vLLM indexes its empty call list
      piece.modified = true;
      piece.name = std::exchange(pending_name_, std::nullopt);
    }
    if (pending_string_args_) {
      piece.modified = true;
      piece.arguments = std::exchange(pending_string_args_, std::nullopt);
    }
    if (stage_ == stage::name_done) stage_ = stage::before_key;
    if (stage_ == stage::in_arguments || stage_ == stage::arguments_done) {
      if (stage_ == stage::arguments_done) stage_ = stage::before_key;
      piece.modified = true;
      std::string arguments = piece.arguments.value_or("") + std::string(fed);
      // The arguments' first piece loses its leading whitespace.
      if (before != stage::in_arguments) arguments = std::string(py_lstrip(arguments));
      piece.arguments = std::move(arguments);
    }
    return true;
  }

  // Appends the current call's delta: the call's id if it has not gone out yet, the name and
  // arguments gathered. The arguments count as sent (vLLM's streamed_args_for_tool).
  bool finish_piece(call_piece& piece, std::vector<tool_call_delta>& calls) {
    if (current_ < 0) return false;
    tool_call_delta d;
    d.index = current_;
    d.mistral_shape = true;
    d.id = std::exchange(pending_id_, std::string());
    d.has_name = piece.name.has_value();
    d.name = piece.name.value_or("");
    d.has_arguments = piece.arguments.has_value();
    d.arguments = piece.arguments.value_or("");
    if (piece.arguments) {
      const auto i = static_cast<size_t>(current_);
      streamed_args_[i] += *piece.arguments;
      prev_args_[i] = streamed_args_[i];
    }
    calls.push_back(std::move(d));
    return true;
  }

  const bool forced_;
  bool started_ = false;  // the stream has reached the calls
  json_event_parser json_;
  stage stage_ = stage::before_call;
  bool bare_ = false;           // the calls are one bare object, not an array
  bool starting_call_ = false;  // an event began a call object
  std::optional<std::string> pending_name_;
  std::optional<std::string> pending_string_args_;
  std::string pending_id_;  // the current call's id until a delta carries it ("" after)
  int32_t current_ = -1;    // the current call's index
};

}  // namespace

std::unique_ptr<tool_parser> make_mistral_parser(bool forced_call) {
  return std::make_unique<mistral_parser>(forced_call);
}

}  // namespace troupe::http::tool_parsing
