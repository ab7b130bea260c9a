#pragma once
// The qwen3 reasoning parser (http/reasoning_parsers.hpp): vLLM 0.32's Qwen3Parser engine as
// its reasoning adapter runs it (skip_tool_parsing), reduced to what that leaves:
//
//   state      marker         ->  state      emits
//   reasoning  <think>            reasoning  -
//   reasoning  </think>           content    reasoning end
//   reasoning  <tool_call>        content    reasoning end, "<tool_call>" as content
//   content    </think>           content    -
//   content    <tool_call>        content    reasoning end, "<tool_call>" as content
//   any        a dropped token    same       -
//   any        another marker     same       its text in the state's part
//
// "Another marker": </tool_call>, <function=, </function>, <parameter=, </parameter> and ">":
// they only steer the lexer's hold-back. Markers come from token ids when a delta has them
// (a marker's text then splits the delta's text; spelled-out markers are text once any ids were
// seen) and from the text otherwise.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/marker_lexer.hpp"
#include "http/reasoning_parsers.hpp"

namespace troupe::http {

class qwen3_reasoning_parser final : public reasoning_parser {
 public:
  qwen3_reasoning_parser(const reasoning_tokens& tokens, bool enable_thinking);

  reasoning_extraction extract(std::string_view model_output) override;
  std::optional<reasoning_delta> extract_streaming(std::string_view previous_text,
                                                   std::string_view current_text,
                                                   std::string_view delta_text,
                                                   std::span<const int32_t> previous_ids,
                                                   std::span<const int32_t> current_ids,
                                                   std::span<const int32_t> delta_ids) override;
  bool is_reasoning_end(std::span<const int32_t> ids) const override;
  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override;
  int32_t count_reasoning_tokens(std::span<const int32_t> ids) const override;

  bool engine_based() const override { return true; }
  bool engine_reasoning_ended() const override { return reasoning_ended_; }
  std::optional<reasoning_delta> finish_streaming() override;

 private:
  enum class marker : uint8_t { think_start, think_end, tool_start, tool_end, other, drop };
  struct event {
    enum class kind : uint8_t { reasoning, text, reasoning_end } type;
    std::string value;
  };

  void reset();
  std::vector<event> feed(std::string_view text, std::span<const int32_t> ids);
  std::vector<event> finish();
  void lex(std::string_view text, std::vector<event>& out);
  void on_pieces(std::vector<lexed_piece> pieces, std::vector<event>& out);
  void on_marker(marker m, std::string_view text, std::vector<event>& out);
  void emit_for_state(std::string_view text, std::vector<event>& out) const;
  std::optional<reasoning_delta> to_delta(const std::vector<event>& events, bool finished);
  std::optional<marker> id_marker(int32_t id) const;
  std::string_view marker_text(int32_t id) const;
  bool is_end_id(int32_t id) const;
  int32_t count_from(bool reasoning, std::span<const int32_t> ids) const;

  reasoning_tokens tokens_;
  bool thinking_;
  std::vector<marker> literal_markers_;  // by the lexer's terminal index
  std::unordered_map<int32_t, std::string> id_texts_;
  marker_lexer lexer_;

  bool in_reasoning_ = true;
  bool ever_had_ids_ = false;
  bool streaming_initialized_ = false;
  bool streamed_count_valid_ = false;
  int32_t streamed_reasoning_tokens_ = 0;
  bool reasoning_ended_ = false;
  bool content_has_non_space_ = false;
  std::string deferred_content_;
};

}  // namespace troupe::http
