#include "http/chat_responder.hpp"

#include <algorithm>
#include <numeric>

#include "http/wire.hpp"

namespace troupe::http {

chat_responder::chat_responder(completion_meta meta, chat_responder_options options)
    : meta_(std::move(meta)), options_(std::move(options)) {
  options_.num_choices = std::max(1, options_.num_choices);
  choices_.resize(static_cast<size_t>(options_.num_choices));
  for (size_t i = 0; i < choices_.size(); ++i)
    choices_[i].index = static_cast<int32_t>(i);
  num_output_tokens_.assign(choices_.size(), 0);
  finished_.assign(choices_.size(), false);
  if (options_.response.stream && options_.tool_choice.type != tool_choice_mode::kind::none &&
      !options_.tool_choice.parser_format) {
    for (size_t i = 0; i < choices_.size(); ++i)
      tool_streams_.emplace_back(options_.tool_choice);
  }
  if (options_.make_parser) {
    for (size_t i = 0; i < choices_.size(); ++i)
      parsers_.push_back(options_.make_parser());
    output_ids_.resize(choices_.size());
    calls_streamed_.assign(choices_.size(), false);
  }
  if (options_.hide_metadata) options_.logprobs.top_logprobs = -1;
  prompt_.prompt_text = options_.prompt_text;
  prompt_.role = options_.role;
}

bool chat_responder::keep_alive() const {
  // An unframed stream can only end by closing the connection.
  bool framed = !options_.response.stream || options_.response.chunked || status_ != 200;
  return options_.response.keep_alive && framed;
}

std::string chat_responder::on_event(const actors::generation_event& event) {
  if (done_) return {};
  if (event.error) {
    count_prompt_tokens(usage_, event, options_.response.prompt_tokens_details);
    return options_.response.stream ? on_stream_event(event) : error_response(event);
  }
  if (!record(event)) return {};
  if (options_.response.stream) return on_stream_event(event);
  return on_complete_event();
}

bool chat_responder::record(const actors::generation_event& event) {
  if (event.index < 0 || event.index >= options_.num_choices) return false;
  auto i = static_cast<size_t>(event.index);
  if (finished_[i]) return false;
  count_prompt_tokens(usage_, event, options_.response.prompt_tokens_details);
  num_output_tokens_[i] = event.num_output_tokens;
  if (event.timing) timing_ = event.timing;
  if (!parsers_.empty())
    output_ids_[i].insert(output_ids_[i].end(), event.token_ids.begin(), event.token_ids.end());
  usage_.completion_tokens =
      std::accumulate(num_output_tokens_.begin(), num_output_tokens_.end(), 0);
  if (options_.return_token_ids && !event.prompt_token_ids.empty() && !prompt_.prompt_token_ids)
    prompt_.prompt_token_ids = event.prompt_token_ids;
  if (!options_.response.stream) {
    if (options_.prompt_logprobs && !event.prompt_token_ids.empty() && !prompt_.prompt_logprobs &&
        options_.logprobs.tokenizer) {
      prompt_.prompt_logprobs = make_prompt_logprobs(event.prompt_token_ids, event.prompt_logprobs,
                                                     *options_.logprobs.tokenizer);
    }
    if (returns_token_ids()) {
      auto& ids = choices_[i].token_ids;
      if (!ids) ids.emplace();
      ids->insert(ids->end(), event.token_ids.begin(), event.token_ids.end());
    }
    choices_[i].content += event.text;
    choices_[i].logprobs.insert(choices_[i].logprobs.end(), event.logprobs.begin(),
                                event.logprobs.end());
  }
  if (event.finished) {
    finished_[i] = true;
    ++num_finished_;
    choices_[i].finish_reason = event.finish_reason;
    choices_[i].stop_string = event.stop_string;
    choices_[i].stop_token_id = event.stop_token_id;
    if (i == 0) finish_reason_ = event.finish_reason;
  }
  return true;
}

std::string chat_responder::error_response(const actors::generation_event& event) {
  done_ = true;
  status_ = event.error_status >= 400 ? event.error_status : 500;
  finish_reason_ = "error";
  return respond(error_json(api_error{status_, *event.error, {}}));
}

std::string chat_responder::respond(std::string body) const {
  if (options_.bare) return body;
  return format_response(status_, json_content_type, body, keep_alive(),
                         options_.response.request_id);
}

std::string chat_responder::on_complete_event() {
  if (num_finished_ < options_.num_choices) return {};
  done_ = true;
  status_ = 200;
  if (!parsers_.empty()) {
    for (auto& choice : choices_)
      parse_choice(choice);
    finish_reason_ = choices_[0].finish_reason;
    if (options_.reasoning_tokens_details) usage_.reasoning_tokens = count_reasoning_tokens();
  } else if (options_.tool_choice.type != tool_choice_mode::kind::none) {
    for (auto& choice : choices_)
      make_tool_calls(choice);
    finish_reason_ = choices_[0].finish_reason;
  }
  if (!options_.echo_text.empty()) {
    for (auto& choice : choices_) {
      choice.content = options_.echo_text + choice.content;
      choice.content_null = false;
    }
  }
  return respond(with_body_metrics(
      chat_completion_json(meta_, choices_, usage_, options_.logprobs, prompt_), timing()));
}

std::string chat_responder::on_stream_event(const actors::generation_event& event) {
  if (event.error && status_ == 0) return error_response(event);
  std::string out = status_ == 0 ? stream_head(event) : std::string();
  if (event.error) {
    api_error error{event.error_status >= 400 ? event.error_status : 500, *event.error, {}};
    out += frame(sse_event(error_json(error)));
    finish_reason_ = "error";
    return out + stream_end();
  }
  const bool has_output = !event.text.empty() || !event.token_ids.empty();
  if (has_output || event.finished || !event.logprobs.empty()) {
    const chat_choice& choice = choices_[static_cast<size_t>(event.index)];
    chat_choice delta{choice.index,       event.text,           event.finish_reason,
                      choice.stop_string, choice.stop_token_id, event.logprobs};
    if (!event.finished) delta.finish_reason.clear();
    if (options_.hide_metadata) delta.logprobs.clear();
    if (returns_token_ids()) delta.token_ids = event.token_ids;
    bool send = false;
    if (!parsers_.empty()) {
      send = make_parsed_delta(delta, event);
    } else if (!tool_streams_.empty()) {
      send = make_tool_deltas(delta, event);
    } else {
      // vLLM sends every step's content, "" included.
      send = true;
    }
    // vLLM sends a step the parser holds back when its token ids must go out.
    send = send || (returns_token_ids() && !event.token_ids.empty());
    if (send) {
      // vLLM stamps the fingerprint on a choice's last chunk when no usage chunk follows.
      const bool fingerprint = event.finished && !options_.response.include_usage &&
                               meta_.system_fingerprint.has_value();
      const std::optional<completion_usage> usage = choice_usage(event.index);
      out += frame(sse_event(chat_delta_chunk_json(meta_, delta, options_.logprobs, true,
                                                   fingerprint, usage ? &*usage : nullptr)));
    }
  }
  if (num_finished_ < options_.num_choices) return out;
  if (options_.reasoning_tokens_details) usage_.reasoning_tokens = count_reasoning_tokens();
  if (options_.response.include_usage) {
    out +=
        frame(sse_event(with_usage_chunk_metrics(chat_usage_chunk_json(meta_, usage_), timing())));
  }
  return out + stream_end();
}

void chat_responder::make_tool_calls(chat_choice& choice) const {
  choice.tool_calls = parse_tool_calls(options_.tool_choice, choice.content);
  choice.content.clear();  // vLLM: content or "", and a forced call leaves none
  choice.finish_reason = tool_choice_finish_reason(options_.tool_choice, choice.finish_reason,
                                                   /*calls_streamed=*/true);
}

bool chat_responder::make_tool_deltas(chat_choice& delta, const actors::generation_event& event) {
  tool_call_stream& stream = tool_streams_[static_cast<size_t>(event.index)];
  delta.tool_deltas = stream.on_text(event.text);
  delta.content.clear();
  if (event.finished) {
    delta.finish_reason = tool_choice_finish_reason(options_.tool_choice, event.finish_reason,
                                                    stream.calls_streamed());
    if (event.index == 0) finish_reason_ = delta.finish_reason;
  }
  // vLLM sends nothing for text that adds no delta, unless it ends the choice or has logprobs.
  return !delta.tool_deltas->empty() || event.finished || !event.logprobs.empty();
}

void chat_responder::parse_choice(chat_choice& choice) {
  const auto i = static_cast<size_t>(choice.index);
  chat_output parsed = parsers_[i]->parse(choice.content);
  choice.reasoning = std::move(parsed.reasoning);
  const tool_choice_mode& mode = options_.tool_choice;
  if (mode.type != tool_choice_mode::kind::none && !mode.parser_format) {
    choice.content = parsed.content.value_or("");  // the forced call is read after the reasoning
    make_tool_calls(choice);
    return;
  }
  // "auto" calls, or a forced call in the parser's own format read back by it (content "" then).
  choice.content_null = !parsed.content && !mode.parser_format;
  choice.content = parsed.content.value_or("");
  if (mode.parser_format || (mode.parse_auto && !parsed.tool_calls.empty())) {
    choice.tool_calls = std::move(parsed.tool_calls);
    if (!mode.parallel_tool_calls && !choice.tool_calls.empty()) choice.tool_calls.resize(1);
    // vLLM: "tool_calls" for auto calls whatever the engine's reason; a forced call's rule.
    choice.finish_reason = mode.parser_format
                               ? tool_choice_finish_reason(mode, choice.finish_reason, true)
                               : "tool_calls";
  }
}

bool chat_responder::make_parsed_delta(chat_choice& delta, const actors::generation_event& event) {
  const auto i = static_cast<size_t>(event.index);
  std::optional<chat_output_delta> parsed =
      parsers_[i]->parse_delta(event.text, event.token_ids,
                               std::span<const int32_t>(options_.prompt_token_ids), event.finished);
  parsed_delta keys;
  if (parsed) {
    keys.reasoning = std::move(parsed->reasoning);
    keys.content = std::move(parsed->content);
    keys.tool_calls = std::move(parsed->tool_calls);
  }
  if (!tool_streams_.empty()) {
    // A forced call: the content after the reasoning is the call's JSON.
    tool_call_stream& stream = tool_streams_[i];
    std::optional<std::string> content = keys.content.value_or(std::nullopt);
    keys.content.reset();
    keys.tool_calls = content ? stream.on_text(*content) : std::vector<tool_call_delta>{};
    if (!keys.reasoning && keys.tool_calls.empty()) parsed.reset();
  }
  if (!options_.tool_choice.parallel_tool_calls) {
    std::erase_if(keys.tool_calls, [](const tool_call_delta& d) { return d.index != 0; });
  }
  if (!keys.tool_calls.empty()) calls_streamed_[i] = true;
  if (event.finished) {
    if (!tool_streams_.empty()) {
      delta.finish_reason = tool_choice_finish_reason(options_.tool_choice, event.finish_reason,
                                                      tool_streams_[i].calls_streamed());
    } else if (calls_streamed_[i] && event.finish_reason == "stop" &&
               options_.tool_choice.type != tool_choice_mode::kind::named) {
      delta.finish_reason = "tool_calls";
    }
    if (event.index == 0) finish_reason_ = delta.finish_reason;
  }
  delta.content.clear();
  delta.parsed = std::move(keys);
  // vLLM sends nothing for a step the parser holds back, unless it ends the choice or has
  // logprobs.
  return parsed || event.finished || !delta.logprobs.empty();
}

std::optional<completion_usage> chat_responder::choice_usage(int32_t index) const {
  if (!options_.response.continuous_usage) return std::nullopt;
  const auto i = static_cast<size_t>(index);
  completion_usage usage;
  usage.prompt_tokens = usage_.prompt_tokens;
  usage.completion_tokens = num_output_tokens_[i];
  if (options_.reasoning_tokens_details && i < parsers_.size())
    usage.reasoning_tokens = parsers_[i]->count_reasoning_tokens(output_ids_[i]);
  return usage;
}

int32_t chat_responder::count_reasoning_tokens() const {
  int32_t total = 0;
  for (size_t i = 0; i < parsers_.size(); ++i)
    total += parsers_[i]->count_reasoning_tokens(output_ids_[i]);
  return total;
}

response_timing chat_responder::timing() const {
  return {options_.response.request_metrics, options_.num_choices, timing_,
          usage_.completion_tokens};
}

std::string chat_responder::stream_head(const actors::generation_event& first) {
  status_ = 200;
  std::string out;
  if (!options_.bare) {
    out = format_head(response_head{200, sse_content_type, std::nullopt, options_.response.chunked,
                                    keep_alive(), options_.response.request_id});
  }
  // Every choice's first event carries the prompt's ids, the first event overall among them.
  if (options_.return_token_ids) prompt_.prompt_token_ids = first.prompt_token_ids;
  // stream_options.continuous_usage_stats: the prompt, no completion tokens yet.
  std::optional<completion_usage> start;
  if (options_.response.continuous_usage) {
    start.emplace();
    start->prompt_tokens = usage_.prompt_tokens;
    if (options_.reasoning_tokens_details) start->reasoning_tokens = 0;
  }
  const completion_usage* start_usage = start ? &*start : nullptr;
  for (int32_t i = 0; i < options_.num_choices; ++i)
    out += frame(sse_event(chat_role_chunk_json(meta_, i, prompt_, start_usage)));
  // vLLM's echo: one content chunk a choice, without logprobs.
  if (!options_.echo_text.empty()) {
    for (int32_t i = 0; i < options_.num_choices; ++i) {
      chat_choice echo;
      echo.index = i;
      echo.content = options_.echo_text;
      out += frame(sse_event(chat_delta_chunk_json(meta_, echo, {}, /*with_token_ids=*/false,
                                                   /*with_fingerprint=*/false, start_usage)));
    }
  }
  return out;
}

std::string chat_responder::stream_end() {
  done_ = true;
  std::string out = frame(sse_done);
  if (options_.response.chunked && !options_.bare) out += last_chunk;
  return out;
}

std::string chat_responder::frame(std::string_view bytes) const {
  return options_.response.chunked && !options_.bare ? format_chunk(bytes) : std::string(bytes);
}

}  // namespace troupe::http
