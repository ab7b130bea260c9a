// deepseek_r1 (vLLM's BaseThinkingReasoningParser + DeepSeekR1ReasoningParser), the factory and
// the names. qwen3 lives in http/qwen3_reasoning_parser.*.
#include "http/reasoning_parsers.hpp"

#include <algorithm>

#include "http/python_slices.hpp"
#include "http/qwen3_reasoning_parser.hpp"

namespace troupe::http {

namespace {

constexpr std::string_view think_start = "<think>";
constexpr std::string_view think_end = "</think>";

bool contains(std::span<const int32_t> ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

reasoning_delta content_delta(std::string_view text) {
  return {std::nullopt, std::string(text)};
}
reasoning_delta reasoning_only(std::string_view text) {
  return {std::string(text), std::nullopt};
}

// vLLM's `end_index = delta_text.find(end); reasoning = delta_text[from:end_index]; content =
// delta_text[end_index + len(end):]`, with Python's find (-1 when absent) and slices, so a
// missing marker text splits where vLLM's does.
reasoning_delta split_at_end(std::string_view text, int64_t from) {
  int64_t end_index = py_find(text, think_end);
  std::string content = py_slice(text, end_index + py_len(think_end), std::nullopt);
  // DeltaMessage(reasoning=..., content=content or None): content is set, null when empty.
  reasoning_delta delta{py_slice(text, from, end_index), delta_text_field(std::in_place)};
  if (!content.empty()) delta.content = std::move(content);
  return delta;
}

class deepseek_r1_parser final : public reasoning_parser {
 public:
  deepseek_r1_parser(int32_t start_id, int32_t end_id) : start_id_(start_id), end_id_(end_id) {}

  reasoning_extraction extract(std::string_view output) override {
    if (size_t start = output.find(think_start); start != std::string_view::npos)
      output.remove_prefix(start + think_start.size());
    size_t end = output.find(think_end);
    if (end == std::string_view::npos) return {std::string(output), std::nullopt};
    reasoning_extraction parts{std::string(output.substr(0, end)), std::nullopt};
    if (std::string_view content = output.substr(end + think_end.size()); !content.empty())
      parts.content = std::string(content);
    return parts;
  }

  std::optional<reasoning_delta> extract_streaming(std::string_view, std::string_view,
                                                   std::string_view delta_text,
                                                   std::span<const int32_t> previous_ids,
                                                   std::span<const int32_t>,
                                                   std::span<const int32_t> delta_ids) override {
    if (delta_ids.size() == 1 && (delta_ids[0] == start_id_ || delta_ids[0] == end_id_))
      return std::nullopt;  // a lone marker token
    bool start_before = contains(previous_ids, start_id_);
    bool start_now = contains(delta_ids, start_id_);
    bool end_before = contains(previous_ids, end_id_);
    bool end_now = contains(delta_ids, end_id_);
    if (start_before) {
      if (end_now) return split_at_end(delta_text, 0);
      return end_before ? content_delta(delta_text) : reasoning_only(delta_text);
    }
    if (start_now) {
      if (!end_now) return reasoning_only(delta_text);
      return split_at_end(delta_text, py_find(delta_text, think_start) + py_len(think_start));
    }
    // No <think> in the output (the prompt opened it): DeepSeek-R1's override treats the text
    // before </think> as reasoning.
    if (end_now) return split_at_end(delta_text, 0);
    return end_before ? content_delta(delta_text) : reasoning_only(delta_text);
  }

  bool is_reasoning_end(std::span<const int32_t> ids) const override {
    for (size_t i = ids.size(); i-- > 0;) {
      if (ids[i] == start_id_) return false;
      if (ids[i] == end_id_) return true;
    }
    return false;
  }

  bool is_reasoning_end_streaming(std::span<const int32_t>,
                                  std::span<const int32_t> delta_ids) const override {
    return contains(delta_ids, end_id_);
  }

  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override {
    // vLLM: [] unless </think> occurs before the last id; then the ids after the first one.
    auto head = ids.first(ids.empty() ? 0 : ids.size() - 1);
    auto end = std::find(head.begin(), head.end(), end_id_);
    if (end == head.end()) return {};
    return {ids.begin() + (end - head.begin()) + 1, ids.end()};
  }

  int32_t count_reasoning_tokens(std::span<const int32_t> ids) const override {
    // Ids inside <think>...</think> spans of the output; nested spans by depth, a stray
    // </think> ignored. A prompt that opened the reasoning leaves its ids uncounted (as vLLM).
    int32_t count = 0;
    int32_t depth = 0;
    for (int32_t id : ids) {
      if (id == start_id_) {
        ++depth;
      } else if (id == end_id_) {
        depth = std::max(depth - 1, 0);
      } else if (depth > 0) {
        ++count;
      }
    }
    return count;
  }

 private:
  int32_t start_id_;
  int32_t end_id_;
};

}  // namespace

bool reasoning_parser::is_reasoning_end_streaming(std::span<const int32_t> ids,
                                                  std::span<const int32_t>) const {
  return is_reasoning_end(ids);
}

std::optional<reasoning_parser_kind> find_reasoning_parser(std::string_view name) {
  if (name == "deepseek_r1") return reasoning_parser_kind::deepseek_r1;
  if (name == "qwen3") return reasoning_parser_kind::qwen3;
  return std::nullopt;
}

std::string reasoning_parser_names() {
  return "deepseek_r1, qwen3";
}

std::unique_ptr<reasoning_parser> reasoning_parser::make(reasoning_parser_kind kind,
                                                         const reasoning_tokens& tokens,
                                                         bool enable_thinking) {
  switch (kind) {
    case reasoning_parser_kind::deepseek_r1:
      if (tokens.start_id < 0 || tokens.end_id < 0) return nullptr;
      return std::make_unique<deepseek_r1_parser>(tokens.start_id, tokens.end_id);
    case reasoning_parser_kind::qwen3:
      return std::make_unique<qwen3_reasoning_parser>(tokens, enable_thinking);
  }
  return nullptr;
}

}  // namespace troupe::http
