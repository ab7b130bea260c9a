// vLLM 0.32's Hermes2ProToolParser (tool_parsers/hermes_tool_parser.py).
#include <string>
#include <vector>

#include "http/tool_parser_common.hpp"

namespace troupe::http::tool_parsing {
namespace {

constexpr std::string_view start_tag = "<tool_call>";
constexpr std::string_view end_tag = "</tool_call>";

// The JSON text of one <tool_call> region and whether it is complete.
struct region {
  std::string_view json;
  bool complete = false;
};

// After `\s*:\s*` following position `i` of `s`, or npos when there is no ':' there.
size_t past_colon(std::string_view s, size_t i) {
  auto skip_space = [&] {
    while (i < s.size()) {
      const size_t len = py_space_length(s.substr(i));
      if (len == 0) break;
      i += len;
    }
  };
  skip_space();
  if (i >= s.size() || s[i] != ':') return std::string_view::npos;
  ++i;
  skip_space();
  return i;
}

class hermes_parser final : public tool_parser {
 public:
  tool_call_extraction extract(std::string_view output) override {
    tool_call_extraction out;
    const size_t first = output.find(start_tag);
    if (first == std::string_view::npos) {
      out.content = std::string(output);
      return out;
    }
    // The regex <tool_call>(.*?)</tool_call>|<tool_call>(.*): closed regions, then maybe an
    // open one running to the end.
    for (size_t pos = output.find(start_tag); pos != std::string_view::npos;
         pos = output.find(start_tag, pos)) {
      const size_t body = pos + start_tag.size();
      const size_t close = output.find(end_tag, body);
      const std::string_view json = output.substr(
          body, close == std::string_view::npos ? std::string_view::npos : close - body);
      auto call = parse_call(json);
      if (!call) {
        out.calls.clear();
        out.content = std::string(output);
        return out;
      }
      out.calls.push_back(std::move(*call));
      if (close == std::string_view::npos) break;
      pos = close + end_tag.size();
    }
    out.tools_called = true;
    if (first > 0) out.content = std::string(output.substr(0, first));
    return out;
  }

  std::optional<tool_parser_delta> extract_streaming(std::string_view current_text,
                                                     std::string_view) override {
    tool_parser_delta delta;
    delta.content = unsent_content(current_text);
    delta.content_set = true;  // vLLM: DeltaMessage(content=content, tool_calls=...)
    const std::vector<region> regions = find_regions(current_text);
    for (size_t i = 0; i < regions.size(); ++i) {
      const auto index = static_cast<int32_t>(i);
      if (i >= prev_args_.size()) {
        prev_args_.emplace_back("{}");
        streamed_args_.emplace_back();
        names_sent_.push_back(false);
      }
      if (!names_sent_[i]) {
        auto name = tool_name(regions[i].json);
        if (!name) break;  // call i+1 waits for call i's name
        names_sent_[i] = true;
        delta.calls.push_back(name_delta(index, std::move(*name)));
      }
      auto args = tool_args(regions[i].json, regions[i].complete);
      if (!args || py_len(*args) <= py_len(streamed_args_[i])) continue;
      const std::string_view diff = past_sent(*args, streamed_args_[i]);
      streamed_args_[i] = std::string(*args);
      prev_args_[i] = streamed_args_[i];
      if (!diff.empty()) delta.calls.push_back(arguments_delta(index, std::string(diff)));
    }
    if (!delta.content && delta.calls.empty()) return std::nullopt;
    return delta;
  }

 private:
  // json.loads of the region, then name (a str, or pydantic refuses it) and arguments.
  static std::optional<tool_call> parse_call(std::string_view json) {
    auto value = parse_python_json(json);
    if (!value || value->type != python_value::kind::object) return std::nullopt;
    const python_value* name = nullptr;
    const python_value* arguments = nullptr;
    for (const auto& [key, member] : value->members) {
      if (key == "name") name = &member;
      if (key == "arguments") arguments = &member;
    }
    if (!name || !arguments || name->type != python_value::kind::string) return std::nullopt;
    return tool_call{make_tool_call_id(), name->text, python_json_dumps(*arguments)};
  }

  // _extract_content: the text not yet sent before the first <tool_call>, holding back a
  // suffix that may begin one.
  std::optional<std::string> unsent_content(std::string_view text) {
    const size_t tag = text.find(start_tag);
    const size_t sendable =
        tag != std::string_view::npos ? tag : text.size() - partial_tag_overlap(text, start_tag);
    if (sendable <= sent_content_) return std::nullopt;
    std::string content(text.substr(sent_content_, sendable - sent_content_));
    sent_content_ = sendable;
    return content;
  }

  // _extract_tool_call_jsons.
  static std::vector<region> find_regions(std::string_view text) {
    std::vector<region> out;
    for (size_t pos = text.find(start_tag); pos != std::string_view::npos;
         pos = text.find(start_tag, pos)) {
      const size_t body = pos + start_tag.size();
      const size_t close = text.find(end_tag, body);
      if (close != std::string_view::npos) {
        out.push_back({py_strip(text.substr(body, close - body)), true});
        pos = close + end_tag.size();
        continue;
      }
      std::string_view raw = text.substr(body);
      raw.remove_suffix(partial_tag_overlap(raw, end_tag));
      const std::string_view json = py_strip(raw);
      out.push_back({json, !json.empty() && is_complete_json(json)});
      break;
    }
    return out;
  }

  // re.search(r'"name"\s*:\s*"([^"]+)"').
  static std::optional<std::string> tool_name(std::string_view json) {
    for (size_t at = json.find("\"name\""); at != std::string_view::npos;
         at = json.find("\"name\"", at + 1)) {
      const size_t value = past_colon(json, at + 6);
      if (value == std::string_view::npos || value >= json.size() || json[value] != '"') continue;
      const size_t close = json.find('"', value + 1);
      if (close == std::string_view::npos || close == value + 1) continue;
      return std::string(json.substr(value + 1, close - value - 1));
    }
    return std::nullopt;
  }

  // _extract_tool_args: the text after the first "arguments":, less the outer object's '}'
  // once the call is complete.
  static std::optional<std::string_view> tool_args(std::string_view json, bool complete) {
    for (size_t at = json.find("\"arguments\""); at != std::string_view::npos;
         at = json.find("\"arguments\"", at + 1)) {
      const size_t value = past_colon(json, at + 11);
      if (value == std::string_view::npos) continue;
      std::string_view raw = json.substr(value);
      if (complete) {
        raw = py_rstrip(raw);
        if (raw.ends_with('}')) raw = py_rstrip(raw.substr(0, raw.size() - 1));
      }
      return raw;
    }
    return std::nullopt;
  }

  size_t sent_content_ = 0;  // bytes of the text sent as content
  std::vector<bool> names_sent_;
};

}  // namespace

std::unique_ptr<tool_parser> make_hermes_parser() {
  return std::make_unique<hermes_parser>();
}

}  // namespace troupe::http::tool_parsing
