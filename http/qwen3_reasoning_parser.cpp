#include "http/qwen3_reasoning_parser.hpp"

#include <algorithm>

namespace troupe::http {

namespace {

constexpr std::string_view think_start = "<think>";
constexpr std::string_view think_end = "</think>";
constexpr std::string_view tool_start = "<tool_call>";
constexpr std::string_view tool_end = "</tool_call>";
// Qwen3's tool-call markup: no transition from reasoning or content, but lexed as markers.
constexpr std::string_view other_markers[] = {"<function=", "</function>",
                                              "<parameter=", "</parameter>", ">"};

// Python's str.strip() emptiness test, for the ASCII whitespace it knows.
bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r\v\f\x1c\x1d\x1e\x1f") == std::string_view::npos;
}

}  // namespace

qwen3_reasoning_parser::qwen3_reasoning_parser(const reasoning_tokens& tokens, bool enable_thinking)
    : tokens_(tokens), thinking_(enable_thinking), lexer_({}) {
  std::vector<std::string> literals;
  auto add = [&](std::string_view text, marker m) {
    if (std::find(literals.begin(), literals.end(), text) != literals.end()) return;
    literals.emplace_back(text);
    literal_markers_.push_back(m);
  };
  add(think_start, marker::think_start);
  add(think_end, marker::think_end);
  add(tool_start, marker::tool_start);
  add(tool_end, marker::tool_end);
  for (std::string_view text : other_markers)
    add(text, marker::other);
  for (const special_token& token : tokens_.dropped) {
    if (token.text.empty()) continue;
    add(token.text, marker::drop);
    id_texts_.emplace(token.id, token.text);
  }
  lexer_ = marker_lexer(std::move(literals));
  reset();
}

void qwen3_reasoning_parser::reset() {
  in_reasoning_ = thinking_;
  ever_had_ids_ = false;
  reasoning_ended_ = false;
  content_has_non_space_ = false;
  deferred_content_.clear();
  lexer_.reset();
}

std::optional<qwen3_reasoning_parser::marker> qwen3_reasoning_parser::id_marker(int32_t id) const {
  if (id < 0) return std::nullopt;
  if (id == tokens_.start_id) return marker::think_start;
  if (id == tokens_.end_id) return marker::think_end;
  if (id == tokens_.tool_start_id) return marker::tool_start;
  if (id == tokens_.tool_end_id) return marker::tool_end;
  if (id_texts_.contains(id)) return marker::drop;
  return std::nullopt;
}

std::string_view qwen3_reasoning_parser::marker_text(int32_t id) const {
  if (id == tokens_.start_id) return think_start;
  if (id == tokens_.end_id) return think_end;
  if (id == tokens_.tool_start_id) return tool_start;
  if (id == tokens_.tool_end_id) return tool_end;
  return id_texts_.at(id);
}

void qwen3_reasoning_parser::emit_for_state(std::string_view text, std::vector<event>& out) const {
  if (text.empty()) return;
  out.push_back({in_reasoning_ ? event::kind::reasoning : event::kind::text, std::string(text)});
}

void qwen3_reasoning_parser::on_marker(marker m, std::string_view text, std::vector<event>& out) {
  switch (m) {
    case marker::think_start:
      if (!in_reasoning_) emit_for_state(text, out);
      return;
    case marker::think_end:
      if (in_reasoning_) out.push_back({event::kind::reasoning_end, {}});
      in_reasoning_ = false;
      return;
    case marker::tool_start:  // the tool phase (skipped here) reads it as content
      out.push_back({event::kind::reasoning_end, {}});
      in_reasoning_ = false;
      out.push_back({event::kind::text, std::string(text)});
      return;
    case marker::drop:
      return;
    case marker::tool_end:
    case marker::other:
      emit_for_state(text, out);
      return;
  }
}

void qwen3_reasoning_parser::on_pieces(std::vector<lexed_piece> pieces, std::vector<event>& out) {
  for (lexed_piece& piece : pieces) {
    if (piece.terminal < 0) {
      emit_for_state(piece.text, out);
      continue;
    }
    marker m = literal_markers_[piece.terminal];
    // Once ids have been seen, a marker that has a token id counts only as that token.
    bool by_id_only = m == marker::think_start  ? tokens_.start_id >= 0
                      : m == marker::think_end  ? tokens_.end_id >= 0
                      : m == marker::tool_start ? tokens_.tool_start_id >= 0
                      : m == marker::tool_end   ? tokens_.tool_end_id >= 0
                      : m == marker::drop       ? !id_texts_.empty()
                                                : false;
    if (ever_had_ids_ && by_id_only) {
      emit_for_state(piece.text, out);
    } else {
      on_marker(m, piece.text, out);
    }
  }
}

void qwen3_reasoning_parser::lex(std::string_view text, std::vector<event>& out) {
  if (!text.empty()) on_pieces(lexer_.feed(text), out);
}

// vLLM's TokenIDScanner: a marker token splits the delta's text where its text is, found right
// to left (its _rebuild_from_anchors). A marker whose text is not in the delta acts in place
// (vLLM defers it to the delta that brings its text; the detokenizer sends it at once).
std::vector<qwen3_reasoning_parser::event> qwen3_reasoning_parser::feed(
    std::string_view text, std::span<const int32_t> ids) {
  std::vector<event> out;
  if (!ids.empty()) ever_had_ids_ = true;
  std::vector<int32_t> anchors;
  for (int32_t id : ids)
    if (id_marker(id)) anchors.push_back(id);
  if (anchors.empty()) {
    lex(text, out);
    return out;
  }
  std::vector<size_t> positions(anchors.size(), std::string_view::npos);
  size_t search_end = text.size();
  for (size_t i = anchors.size(); i-- > 0;) {
    std::string_view anchor = marker_text(anchors[i]);
    if (anchor.size() > search_end) continue;
    size_t at = text.rfind(anchor, search_end - anchor.size());
    if (at == std::string_view::npos) continue;
    positions[i] = at;
    search_end = at;
  }
  size_t consumed = 0;
  for (size_t i = 0; i < anchors.size(); ++i) {
    bool found = positions[i] != std::string_view::npos && positions[i] >= consumed;
    if (found) lex(text.substr(consumed, positions[i] - consumed), out);
    on_pieces(lexer_.flush(), out);
    on_marker(*id_marker(anchors[i]), marker_text(anchors[i]), out);
    if (found) consumed = positions[i] + marker_text(anchors[i]).size();
  }
  lex(text.substr(consumed), out);
  return out;
}

std::vector<qwen3_reasoning_parser::event> qwen3_reasoning_parser::finish() {
  std::vector<event> out;
  on_pieces(lexer_.flush(), out);
  if (in_reasoning_) out.push_back({event::kind::reasoning_end, {}});
  in_reasoning_ = false;
  return out;
}

// vLLM's ParserEngine._events_to_delta without tool calls: content that is only whitespace
// waits (until non-blank content or the end) so that blank lines after </think> are not sent
// on their own.
std::optional<reasoning_delta> qwen3_reasoning_parser::to_delta(const std::vector<event>& events,
                                                                bool finished) {
  if (events.empty() && deferred_content_.empty()) return std::nullopt;
  std::string content = std::move(deferred_content_);
  deferred_content_.clear();
  std::string reasoning;
  for (const event& e : events) {
    if (e.type == event::kind::text) content += e.value;
    if (e.type == event::kind::reasoning) reasoning += e.value;
    if (e.type == event::kind::reasoning_end) reasoning_ended_ = true;
  }
  if (!content_has_non_space_ && !content.empty()) {
    if (!is_blank(content)) {
      content_has_non_space_ = true;
    } else if (!finished) {
      deferred_content_ = std::move(content);
      content.clear();
    }
  }
  if (content.empty() && reasoning.empty()) return std::nullopt;
  reasoning_delta delta;
  if (!content.empty()) delta.content = std::move(content);
  if (!reasoning.empty()) delta.reasoning = std::move(reasoning);
  return delta;
}

reasoning_extraction qwen3_reasoning_parser::extract(std::string_view model_output) {
  streamed_count_valid_ = false;
  if (!thinking_) return {std::nullopt, std::string(model_output)};
  reset();
  std::vector<event> events = feed(model_output, {});
  std::vector<event> tail = finish();
  events.insert(events.end(), tail.begin(), tail.end());
  reasoning_extraction parts;
  std::string reasoning;
  std::string content;
  for (const event& e : events) {
    if (e.type == event::kind::reasoning) reasoning += e.value;
    if (e.type == event::kind::text) content += e.value;
    if (e.type == event::kind::reasoning_end) reasoning_ended_ = true;
  }
  if (!reasoning.empty()) parts.reasoning = std::move(reasoning);
  if (!content.empty()) parts.content = std::move(content);
  return parts;
}

std::optional<reasoning_delta> qwen3_reasoning_parser::extract_streaming(
    std::string_view, std::string_view, std::string_view delta_text, std::span<const int32_t>,
    std::span<const int32_t>, std::span<const int32_t> delta_ids) {
  if (!streaming_initialized_) {
    streaming_initialized_ = true;
    reset();
  }
  streamed_count_valid_ = true;
  // vLLM's engine counts the tokens it emits as reasoning: a delta with no text and no marker
  // (a character still incomplete) emits nothing, so its tokens are never counted.
  bool has_marker = std::any_of(delta_ids.begin(), delta_ids.end(),
                                [&](int32_t id) { return id_marker(id).has_value(); });
  if (!delta_text.empty() || has_marker)
    streamed_reasoning_tokens_ += count_from(in_reasoning_, delta_ids);
  return to_delta(feed(delta_text, delta_ids), false);
}

std::optional<reasoning_delta> qwen3_reasoning_parser::finish_streaming() {
  std::vector<event> events = finish();
  if (events.empty() && deferred_content_.empty()) return std::nullopt;
  return to_delta(events, true);
}

// </think>, and <tool_call> as an implicit end; none when </think> has no id (vLLM's
// _derive_reasoning_end_token_ids).
bool qwen3_reasoning_parser::is_end_id(int32_t id) const {
  if (tokens_.end_id < 0 || id < 0) return false;
  return id == tokens_.end_id || id == tokens_.tool_start_id;
}

bool qwen3_reasoning_parser::is_reasoning_end(std::span<const int32_t> ids) const {
  const auto& boundaries = tokens_.turn_boundary_ids;
  for (size_t i = ids.size(); i-- > 0;) {
    if (is_end_id(ids[i])) return true;
    if (ids[i] >= 0 && ids[i] == tokens_.start_id) {
      if (thinking_) return false;  // <think> opens reasoning only from the reasoning state
      break;
    }
    if (std::find(boundaries.begin(), boundaries.end(), ids[i]) != boundaries.end()) break;
  }
  return !thinking_;
}

std::vector<int32_t> qwen3_reasoning_parser::extract_content_ids(
    std::span<const int32_t> ids) const {
  if (!thinking_ || tokens_.end_id < 0) return {ids.begin(), ids.end()};
  auto last_end = std::find(ids.rbegin(), ids.rend(), tokens_.end_id);
  if (last_end != ids.rend()) return {last_end.base(), ids.end()};
  const auto& boundaries = tokens_.turn_boundary_ids;
  auto turn = std::find_first_of(ids.rbegin(), ids.rend(), boundaries.begin(), boundaries.end());
  auto from = ids.begin() + (ids.rend() - turn);
  auto end = std::find_if(from, ids.end(), [&](int32_t id) { return is_end_id(id); });
  return {end == ids.end() ? ids.begin() : end, ids.end()};
}

// The engine counts the tokens it classified as reasoning; markers come from ids there, so the
// count follows the ids: every non-marker token until </think> or <tool_call>. After a stream,
// vLLM returns the stream's count; otherwise it parses `ids` afresh.
int32_t qwen3_reasoning_parser::count_reasoning_tokens(std::span<const int32_t> ids) const {
  return streamed_count_valid_ ? streamed_reasoning_tokens_ : count_from(thinking_, ids);
}

int32_t qwen3_reasoning_parser::count_from(bool reasoning, std::span<const int32_t> ids) const {
  int32_t count = 0;
  for (int32_t id : ids) {
    if (std::optional<marker> m = id_marker(id)) {
      if (*m == marker::think_end || *m == marker::tool_start) reasoning = false;
    } else if (reasoning) {
      ++count;
    }
  }
  return count;
}

}  // namespace troupe::http
