// vLLM 0.32's Llama3JsonToolParser (tool_parsers/llama_tool_parser.py), registered as
// "llama3_json" and "llama4_json".
#include <string>
#include <vector>

#include "http/tool_parser_common.hpp"

namespace troupe::http::tool_parsing {
namespace {

constexpr std::string_view bot_token = "<|python_tag|>";

const python_value* member(const python_value& object, std::string_view key) {
  if (object.type != python_value::kind::object) return nullptr;
  for (const auto& [k, v] : object.members) {
    if (k == key) return &v;
  }
  return nullptr;
}

// One call object of the stream: its name and arguments as vLLM reads them ("parameters"
// standing in for "arguments").
struct partial_call {
  const python_value* name = nullptr;
  const python_value* arguments = nullptr;
};

class llama3_json_parser final : public tool_parser {
 public:
  tool_call_extraction extract(std::string_view output) override {
    tool_call_extraction out;
    out.content = std::string(output);
    if (output.find(bot_token) == std::string_view::npos && output.find('{') == output.npos) {
      return out;
    }
    std::vector<tool_call> calls;
    std::optional<size_t> end;  // just past the last object read: braces up to it are skipped
    for (size_t start = output.find('{'); start != output.npos;
         start = output.find('{', start + 1)) {
      if (end && start <= *end) continue;
      auto decoded = raw_decode(output.substr(start));
      if (!decoded) return out;
      end = start + decoded->end;
      const python_value* name = member(decoded->value, "name");
      const python_value* arguments = member(decoded->value, "arguments");
      if (!arguments) arguments = member(decoded->value, "parameters");
      if (!name || !arguments || name->type != python_value::kind::string) return out;
      calls.push_back({make_tool_call_id(), name->text, python_json_dumps(*arguments)});
    }
    if (calls.empty()) return out;
    out.tools_called = true;
    out.calls = std::move(calls);
    out.content.reset();
    return out;
  }

  std::optional<tool_parser_delta> extract_streaming(std::string_view current_text,
                                                     std::string_view delta_text) override {
    if (!current_text.starts_with(bot_token) && !current_text.starts_with('{')) {
      return tool_parser_delta{std::string(delta_text), {}};
    }
    // Parse every object of the text; any failure sends nothing and keeps the state.
    std::vector<python_value> objects;
    std::vector<bool> complete;
    std::string_view rest = current_text;
    if (rest.starts_with(bot_token)) rest.remove_prefix(bot_token.size());
    while (!rest.empty()) {
      auto parsed = partial_json_loads(rest, name_sent_);
      if (!parsed) return std::nullopt;
      complete.push_back(is_complete_json(rest.substr(0, parsed->end)));
      objects.push_back(std::move(parsed->value));
      rest = py_drop(rest.substr(parsed->end), 2);  // the "; " between objects
    }
    std::vector<partial_call> calls;
    for (const python_value& object : objects) {
      partial_call call{member(object, "name"), member(object, "arguments")};
      if (const python_value* parameters = member(object, "parameters")) {
        if (call.arguments) return std::nullopt;  // vLLM asserts one or the other
        call.arguments = parameters;
      }
      calls.push_back(call);
    }
    return step(objects, calls, complete);
  }

 private:
  std::optional<tool_parser_delta> step(const std::vector<python_value>& objects,
                                        const std::vector<partial_call>& calls,
                                        const std::vector<bool>& complete) {
    if (calls.empty()) return std::nullopt;
    // Python's calls[current]: -1 is the last one; past the end raises.
    const int64_t n = static_cast<int64_t>(calls.size());
    const int64_t at = current_ < 0 ? n + current_ : current_;
    if (at < 0 || at >= n) return std::nullopt;
    if (objects[static_cast<size_t>(at)].type != python_value::kind::object) return std::nullopt;
    const partial_call& call = calls[static_cast<size_t>(at)];
    if (n > current_ + 1) return start_next_call(call, n);
    std::optional<tool_parser_delta> delta;
    if (!name_sent_) {
      if (call.name && py_truthy(*call.name)) {
        if (call.name->type != python_value::kind::string) return std::nullopt;
        delta = tool_parser_delta{std::nullopt, {name_delta(current_, call.name->text)}};
        name_sent_ = true;
      }
    } else if (call.arguments && py_truthy(*call.arguments)) {
      auto diff = arguments_diff(call, complete);
      if (!diff) return std::nullopt;
      if (*diff) {
        delta = tool_parser_delta{std::nullopt, {arguments_delta(current_, **diff)}};
        streamed_args_[static_cast<size_t>(current_)] += **diff;
      }
    }
    remember(calls);
    return delta;
  }

  // A new object has begun: send what the autocompletion of the previous one held back.
  std::optional<tool_parser_delta> start_next_call(const partial_call& call, int64_t n) {
    std::optional<tool_parser_delta> delta;
    if (current_ >= 0 && call.arguments && py_truthy(*call.arguments)) {
      std::string& sent = streamed_args_[static_cast<size_t>(current_)];
      std::string diff(past_sent(python_json_dumps(*call.arguments), sent));
      sent += diff;
      delta = tool_parser_delta{std::nullopt, {arguments_delta(current_, std::move(diff))}};
    }
    current_ = static_cast<int32_t>(n - 1);
    name_sent_ = false;
    streamed_args_.emplace_back();
    return delta;
  }

  // The arguments text to send now (an empty piece is sent too); nullopt inside: none; outer
  // nullopt: vLLM raised.
  std::optional<std::optional<std::string>> arguments_diff(const partial_call& call,
                                                           const std::vector<bool>& complete) {
    const auto i = static_cast<size_t>(current_);
    if (i >= streamed_args_.size() || i >= complete.size()) return std::nullopt;
    const std::string& sent = streamed_args_[i];
    const std::string now = python_json_dumps(*call.arguments);
    if (complete[i]) return std::optional<std::string>(std::string(past_sent(now, sent)));
    if (i >= prev_values_.size()) return std::nullopt;
    if (!prev_values_[i] || !py_truthy(*prev_values_[i])) return std::optional<std::string>();
    const std::string before = python_json_dumps(*prev_values_[i]);
    if (before == now) return std::optional<std::string>();
    return std::optional<std::string>(std::string(past_sent(common_prefix(before, now), sent)));
  }

  // self.prev_tool_call_arr = tool_call_arr.
  void remember(const std::vector<partial_call>& calls) {
    prev_values_.clear();
    prev_args_.clear();
    for (const partial_call& call : calls) {
      prev_values_.push_back(call.arguments ? std::optional(*call.arguments) : std::nullopt);
      if (!call.arguments) {
        prev_args_.emplace_back("{}");
      } else if (call.arguments->type == python_value::kind::string) {
        prev_args_.push_back(call.arguments->text);
      } else {
        prev_args_.push_back(python_json_dumps(*call.arguments));
      }
    }
  }

  int32_t current_ = -1;
  bool name_sent_ = false;
  std::vector<std::optional<python_value>> prev_values_;
};

}  // namespace

std::unique_ptr<tool_parser> make_llama3_json_parser() {
  return std::make_unique<llama3_json_parser>();
}

}  // namespace troupe::http::tool_parsing
