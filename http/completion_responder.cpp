#include "http/completion_responder.hpp"

#include <algorithm>

#include "http/wire.hpp"

namespace troupe::http {

void count_prompt_tokens(completion_usage& usage, const actors::generation_event& event,
                         bool prompt_tokens_details) {
  usage.prompt_tokens = event.num_prompt_tokens;
  if (prompt_tokens_details && usage.cached_tokens == 0) {
    usage.cached_tokens = event.num_cached_tokens;
  }
}

completion_responder::completion_responder(completion_meta meta, responder_options options)
    : meta_(std::move(meta)), options_(std::move(options)) {
  options_.n = std::max(options_.n, 1);
  options_.num_prompts = std::max(options_.num_prompts, 1);
  choices_.resize(static_cast<size_t>(options_.n * options_.num_prompts));
  for (size_t i = 0; i < choices_.size(); ++i)
    choices_[i].choice.index = static_cast<int32_t>(i);
  prompt_usage_.resize(static_cast<size_t>(options_.num_prompts));
}

int32_t completion_responder::prompt_of(int32_t index) const {
  return std::clamp(index / options_.n, 0, options_.num_prompts - 1);
}

void completion_responder::count_prompt(const actors::generation_event& event) {
  if (options_.num_prompts == 1) {
    count_prompt_tokens(usage_, event, options_.prompt_tokens_details);
    prompt_usage_.front().prompt_tokens = usage_.prompt_tokens;
    return;
  }
  auto& prompt = prompt_usage_[static_cast<size_t>(prompt_of(event.index))];
  count_prompt_tokens(prompt, event, options_.prompt_tokens_details);
  usage_.prompt_tokens = 0;
  for (const auto& p : prompt_usage_)
    usage_.prompt_tokens += p.prompt_tokens;
  // vLLM's cached tokens of a batch: a stream's first report, a body's last prompt's.
  if (!options_.stream) {
    usage_.cached_tokens = prompt_usage_.back().cached_tokens;
  } else if (usage_.cached_tokens == 0) {
    usage_.cached_tokens = prompt.cached_tokens;
  }
}

bool completion_responder::keep_alive() const {
  // An unframed stream can only end by closing the connection.
  bool framed = !options_.stream || options_.chunked || status_ != 200;
  return options_.keep_alive && framed;
}

std::string completion_responder::on_event(const actors::generation_event& event) {
  if (done_) return {};
  count_prompt(event);
  if (options_.stream) return on_stream_event(event);
  return on_complete_event(event);
}

bool completion_responder::record(const actors::generation_event& event) {
  if (event.index < 0 || event.index >= static_cast<int32_t>(choices_.size())) return false;
  auto& state = choices_[static_cast<size_t>(event.index)];
  if (state.finished) return false;
  usage_.completion_tokens += event.num_output_tokens - state.num_output_tokens;
  state.num_output_tokens = event.num_output_tokens;
  if (event.timing) timing_ = event.timing;
  if (event.finished) {
    state.finished = true;
    ++num_finished_;
    finish_reason_ = event.finish_reason;
  }
  return true;
}

std::string completion_responder::error_response(const actors::generation_event& event) {
  done_ = true;
  status_ = event.error_status >= 400 ? event.error_status : 500;
  finish_reason_ = "error";
  return format_response(status_, json_content_type,
                         error_json(api_error{status_, *event.error, {}}), keep_alive(),
                         options_.request_id);
}

namespace {

// What `event` says of its choice: its new text and, on its last event, how it finished.
completion_choice event_choice(const actors::generation_event& event) {
  completion_choice choice;
  choice.index = event.index;
  choice.text = event.text;
  if (event.finished) {
    choice.finish_reason = event.finish_reason;
    choice.stop_string = event.stop_string;
    choice.stop_token_id = event.stop_token_id;
  }
  return choice;
}

}  // namespace

completion_choice completion_responder::new_output(const actors::generation_event& event,
                                                   int32_t text_offset) {
  auto& state = choices_[static_cast<size_t>(event.index)];
  auto out = event_choice(event);
  const bool echo_now = options_.echo && !state.echoed;
  if (options_.return_token_ids) out.token_ids = event.token_ids;
  // The prompt's ids go with a choice's first output under return_token_ids, and (vLLM) with a
  // stream's echo.
  if (!state.prompt_ids_sent && (options_.return_token_ids || (echo_now && options_.stream))) {
    out.prompt_token_ids = event.prompt_token_ids;
    state.prompt_ids_sent = true;
  }
  const bool with_logprobs = options_.logprobs >= 0 && options_.tokenizer != nullptr;
  if (with_logprobs) out.logprobs.emplace();
  state.echoed = state.echoed || options_.echo;
  if (echo_now) {
    const auto p = static_cast<size_t>(prompt_of(event.index));
    out.text = (p < options_.echo_texts.size() ? options_.echo_texts[p] : std::string()) +
               (options_.echo_only ? std::string() : event.text);
    if (with_logprobs) {
      append_prompt_completion_logprobs(*out.logprobs, event.prompt_token_ids,
                                        event.prompt_logprobs, *options_.tokenizer,
                                        options_.logprobs, text_offset, options_.tokens_as_ids);
    }
  } else if (options_.echo_only) {
    out.text.clear();
  }
  if (with_logprobs && !options_.echo_only) {
    const auto& offsets = out.logprobs->text_offset;
    const int32_t next = offsets.empty()
                             ? text_offset
                             : offsets.back() + num_characters(out.logprobs->tokens.back());
    append_completion_logprobs(*out.logprobs, event.logprobs, *options_.tokenizer,
                               options_.logprobs, next, options_.tokens_as_ids);
  }
  return out;
}

std::string completion_responder::on_complete_event(const actors::generation_event& event) {
  if (event.error) return error_response(event);
  if (!record(event)) return {};
  auto& choice = choices_[static_cast<size_t>(event.index)].choice;
  if (options_.prompt_logprobs && !event.prompt_token_ids.empty() &&
      options_.tokenizer != nullptr) {
    choice.prompt_logprobs =
        make_prompt_logprobs(event.prompt_token_ids, event.prompt_logprobs, *options_.tokenizer);
  }
  // Non-streaming offsets run over the token texts from 0 (vLLM).
  int32_t offset = 0;
  if (choice.logprobs && !choice.logprobs->tokens.empty())
    offset = choice.logprobs->text_offset.back() + num_characters(choice.logprobs->tokens.back());
  auto added = new_output(event, offset);
  if (added.logprobs) {
    if (!choice.logprobs) choice.logprobs.emplace();
    auto& lp = *choice.logprobs;
    auto& more = *added.logprobs;
    lp.text_offset.insert(lp.text_offset.end(), more.text_offset.begin(), more.text_offset.end());
    lp.token_logprobs.insert(lp.token_logprobs.end(), more.token_logprobs.begin(),
                             more.token_logprobs.end());
    lp.tokens.insert(lp.tokens.end(), more.tokens.begin(), more.tokens.end());
    lp.top_logprobs.insert(lp.top_logprobs.end(), more.top_logprobs.begin(),
                           more.top_logprobs.end());
  }
  choice.text += added.text;
  if (added.token_ids) {
    if (!choice.token_ids) choice.token_ids.emplace();
    choice.token_ids->insert(choice.token_ids->end(), added.token_ids->begin(),
                             added.token_ids->end());
  }
  if (added.prompt_token_ids) choice.prompt_token_ids = std::move(added.prompt_token_ids);
  if (event.finished) {
    const auto finished = event_choice(event);
    choice.finish_reason = finished.finish_reason;
    choice.stop_string = finished.stop_string;
    choice.stop_token_id = finished.stop_token_id;
  }
  if (!all_finished()) return {};
  done_ = true;
  status_ = 200;
  std::vector<completion_choice> choices;
  for (auto& state : choices_)
    choices.push_back(std::move(state.choice));
  return format_response(200, json_content_type,
                         with_body_metrics(completion_json(meta_, choices, usage_), timing()),
                         keep_alive(), options_.request_id);
}

std::string completion_responder::on_stream_event(const actors::generation_event& event) {
  if (event.error && status_ == 0) return error_response(event);
  std::string out = status_ == 0 ? stream_head() : std::string();
  if (event.error) {
    api_error error{event.error_status >= 400 ? event.error_status : 500, *event.error, {}};
    out += frame(sse_event(error_json(error)));
    finish_reason_ = "error";
    return out + stream_end();
  }
  if (!record(event)) return out;
  auto& state = choices_[static_cast<size_t>(event.index)];
  // Streaming offsets continue from the tokens already reported, as the non-streaming ones do
  // (vLLM 0.32's next_text_offsets: text held back for a stop string lags the tokens).
  auto chunk = new_output(event, state.next_text_offset);
  if (chunk.logprobs && !chunk.logprobs->tokens.empty()) {
    state.next_text_offset =
        chunk.logprobs->text_offset.back() + num_characters(chunk.logprobs->tokens.back());
  }
  // Tokens whose text is still held back get a chunk of their own, with an empty text.
  const bool has_tokens =
      !event.token_ids.empty() || (chunk.logprobs && !chunk.logprobs->tokens.empty());
  if (!chunk.text.empty() || event.finished || has_tokens) {
    // vLLM stamps the fingerprint on a choice's last chunk when no usage chunk follows.
    const bool fingerprint =
        event.finished && !options_.include_usage && meta_.system_fingerprint.has_value();
    std::optional<completion_usage> chunk_usage;
    if (options_.continuous_usage) {  // vLLM: the choice's prompt and its tokens so far
      chunk_usage.emplace();
      chunk_usage->prompt_tokens =
          prompt_usage_[static_cast<size_t>(prompt_of(event.index))].prompt_tokens;
      chunk_usage->completion_tokens = state.num_output_tokens;
    }
    out += frame(sse_event(
        stream_chunk_json(meta_, chunk, fingerprint, chunk_usage ? &*chunk_usage : nullptr)));
  }
  if (!all_finished()) return out;
  if (options_.include_usage) {
    out += frame(sse_event(with_usage_chunk_metrics(usage_chunk_json(meta_, usage_), timing())));
  }
  return out + stream_end();
}

response_timing completion_responder::timing() const {
  return {options_.request_metrics, static_cast<int32_t>(choices_.size()), timing_,
          usage_.completion_tokens};
}

std::string completion_responder::stream_head() {
  status_ = 200;
  return format_head(response_head{200, sse_content_type, std::nullopt, options_.chunked,
                                   keep_alive(), options_.request_id});
}

std::string completion_responder::stream_end() {
  done_ = true;
  std::string out = frame(sse_done);
  if (options_.chunked) out += last_chunk;
  return out;
}

std::string completion_responder::frame(std::string_view bytes) const {
  return options_.chunked ? format_chunk(bytes) : std::string(bytes);
}

}  // namespace troupe::http
