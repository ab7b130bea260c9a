#include "http/chat_output_parser.hpp"

namespace troupe::http {

namespace {

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r\v\f\x1c\x1d\x1e\x1f") == std::string_view::npos;
}

// `field` or "" (Python's `field or ""` for a text field).
std::string text_of(const delta_text_field& field) {
  return field && *field ? **field : std::string();
}

bool has_text(const delta_text_field& field) {
  return field && *field && !(*field)->empty();
}

std::optional<chat_output_delta> as_output(std::optional<reasoning_delta> delta) {
  if (!delta) return std::nullopt;
  return chat_output_delta{std::move(delta->reasoning), std::move(delta->content), {}};
}

}  // namespace

// One parse_delta call's working values (vLLM's locals of the same names).
struct chat_output_parser::step {
  std::string delta_text;
  std::vector<int32_t> delta_ids;
  std::string current_text;
  std::vector<int32_t> current_ids;
  std::optional<chat_output_delta> delta;
  bool transitioned = false;
};

chat_output_parser::chat_output_parser(std::unique_ptr<reasoning_parser> reasoning,
                                       std::unique_ptr<tool_parser> tools, bool include_reasoning,
                                       bool text_tool_phase)
    : reasoning_(std::move(reasoning)),
      tools_(std::move(tools)),
      include_reasoning_(include_reasoning),
      text_tool_phase_(text_tool_phase) {}

chat_output chat_output_parser::parse(std::string_view text) {
  chat_output out;
  if (reasoning_) {
    reasoning_extraction parts = reasoning_->extract(text);
    out.reasoning = std::move(parts.reasoning);
    out.content = std::move(parts.content);
  } else {
    out.content = std::string(text);
  }
  if (!include_reasoning_) out.reasoning.reset();
  if (!tools_) return out;
  tool_call_extraction calls = tools_->extract(out.content.value_or(""));
  if (!calls.tools_called) {
    // vLLM: `tool_call_info.content or None` for an engine tool parser (mistral: the text after
    // [TOOL_CALLS] that held no call).
    if (engine_based()) out.content = calls.content == "" ? std::nullopt : calls.content;
    return out;
  }
  out.tool_calls = std::move(calls.calls);
  out.content = std::move(calls.content);
  if (out.content && is_blank(*out.content)) out.content.reset();
  return out;
}

bool chat_output_parser::engine_based() const {
  return (!reasoning_ || reasoning_->engine_based()) && (!tools_ || tools_->engine_based());
}

int32_t chat_output_parser::count_reasoning_tokens(std::span<const int32_t> ids) const {
  return reasoning_ ? reasoning_->count_reasoning_tokens(ids) : 0;
}

// Engine parsers keep their own history and get only the delta; vLLM then also hands the tool
// parser only deltas (its StreamState "engine_based" mode) when it is an engine parser too, so
// the two are combined only with a non-engine tool parser, which accumulates: previous + delta.
std::optional<chat_output_delta> chat_output_parser::parse_delta(
    std::string_view delta_text, std::span<const int32_t> delta_ids,
    std::optional<std::span<const int32_t>> prompt_ids, bool finished) {
  if (!prompt_checked_ && prompt_ids) {
    prompt_checked_ = true;
    // vLLM then calls adjust_initial_state_from_prompt, a no-op for both parsers.
    if (!reasoning_ || reasoning_->is_reasoning_end(*prompt_ids)) reasoning_ended_ = true;
  }
  const bool engine = engine_based();
  step s{std::string(delta_text), {delta_ids.begin(), delta_ids.end()}, {}, {}, {}, false};
  s.current_text = engine ? s.delta_text : previous_text_ + s.delta_text;
  s.current_ids = engine ? s.delta_ids : previous_ids_;
  if (!engine) s.current_ids.insert(s.current_ids.end(), delta_ids.begin(), delta_ids.end());
  if (!reasoning_ended_) reasoning_phase(s);
  if (tools_ && reasoning_ended_) tool_phase(s);
  // vLLM's tool phase for tool_choice "none" sends a delta's text as content, but nothing for an
  // empty one; without a tool parser the text passes as it is.
  if (!s.delta && !s.transitioned && reasoning_ended_ && !tools_ &&
      !(text_tool_phase_ && s.delta_text.empty()))
    s.delta = chat_output_delta{{}, s.delta_text, {}};
  previous_text_ = engine ? std::string() : std::move(s.current_text);
  previous_ids_ = engine ? std::vector<int32_t>() : std::move(s.current_ids);
  if (finished) finish(s.delta);
  if (s.delta && !include_reasoning_) {
    s.delta->reasoning = delta_text_field(std::in_place);
    if (!has_text(s.delta->content) && s.delta->tool_calls.empty()) s.delta.reset();
  }
  return std::move(s.delta);
}

void chat_output_parser::reasoning_phase(step& s) {
  s.delta = as_output(reasoning_->extract_streaming(previous_text_, s.current_text, s.delta_text,
                                                    previous_ids_, s.current_ids, s.delta_ids));
  bool ended = reasoning_->engine_based()
                   ? reasoning_->engine_reasoning_ended()
                   : reasoning_->is_reasoning_end_streaming(s.current_ids, s.delta_ids);
  if (!ended) return;
  reasoning_ended_ = true;
  s.transitioned = true;
  s.current_ids = reasoning_->extract_content_ids(s.delta_ids);
  // The text after the end marker, and what an engine parser held back (e.g. the "<" of
  // "<tool_call>").
  std::optional<reasoning_delta> flushed;
  if (reasoning_->engine_based()) flushed = reasoning_->finish_streaming();
  s.current_text = (s.delta ? text_of(s.delta->content) : std::string()) +
                   (flushed ? text_of(flushed->content) : std::string());
  if (tools_) {
    s.delta_text = s.current_text;  // the tool phase reads it
  } else if (reasoning_->engine_based() && !s.current_text.empty()) {
    if (!s.delta) s.delta.emplace();
    s.delta->content = s.current_text;
  }
}

void chat_output_parser::tool_phase(step& s) {
  if (!tool_text_started_) {
    tool_text_started_ = true;
    previous_text_.clear();
    previous_ids_.clear();
    s.delta_text = s.current_text;
    s.delta_ids = s.current_ids;
  }
  delta_text_field reasoning;
  if (s.delta && has_text(s.delta->reasoning)) reasoning = s.delta->reasoning;
  s.delta.reset();
  if (std::optional<tool_parser_delta> calls =
          tools_->extract_streaming(s.current_text, s.delta_text)) {
    s.delta.emplace();
    if (calls->content || calls->content_set) s.delta->content = std::move(calls->content);
    s.delta->tool_calls = std::move(calls->calls);
  }
  if (!reasoning) return;
  if (!s.delta) s.delta.emplace();
  if (!has_text(s.delta->reasoning)) s.delta->reasoning = std::move(reasoning);
}

// vLLM's finalize_generation and _flush_engine_parsers.
void chat_output_parser::finish(std::optional<chat_output_delta>& delta) {
  // vLLM sets the last call's arguments, to "" at least: (arguments or "") + what is unsent.
  if (tools_ && delta && !delta->tool_calls.empty()) {
    delta->tool_calls.back().arguments += tools_->remaining_unstreamed_args();
    delta->tool_calls.back().has_arguments = true;
  }
  if (!reasoning_ || !reasoning_->engine_based() || reasoning_ended_) return;
  std::optional<chat_output_delta> flushed = as_output(reasoning_->finish_streaming());
  if (!flushed) return;
  if (!delta) {
    delta = std::move(flushed);
    return;
  }
  if (has_text(flushed->content))
    delta->content = text_of(delta->content) + text_of(flushed->content);
  if (has_text(flushed->reasoning))
    delta->reasoning = text_of(delta->reasoning) + text_of(flushed->reasoning);
}

}  // namespace troupe::http
