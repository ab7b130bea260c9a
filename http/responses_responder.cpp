#include "http/responses_responder.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include "http/chat_rewrite.hpp"
#include "http/json_write.hpp"
#include "http/wire.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;
using rapidjson::Value;

int64_t int_of(const Value* v) {
  return v != nullptr && v->IsInt64() ? v->GetInt64() : 0;
}

std::string quoted(std::string_view s) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  write_string(w, s);
  return std::string(out.GetString(), out.GetSize());
}

std::string raw_json(const Value& v) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  v.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

// The usage of a chat usage object.
responses_usage usage_of(const Value* usage) {
  responses_usage u;
  if (usage == nullptr) return u;
  u.input_tokens = int_of(field(*usage, "prompt_tokens"));
  u.output_tokens = int_of(field(*usage, "completion_tokens"));
  if (const Value* details = field(*usage, "prompt_tokens_details"))
    u.cached_tokens = int_of(field(*details, "cached_tokens"));
  if (const Value* details = field(*usage, "completion_tokens_details"))
    u.reasoning_tokens = int_of(field(*details, "reasoning_tokens"));
  return u;
}

// The Responses logprobs of a chat choice's logprobs object ({"content": [...]}).
std::string logprobs_of(const Value* logprobs, bool delta) {
  const Value* content = logprobs != nullptr ? field(*logprobs, "content") : nullptr;
  if (content == nullptr) return {};
  return responses_logprobs_json(raw_json(*content), delta);
}

}  // namespace

responses_responder::responses_responder(completion_meta meta, chat_responder_options options,
                                         responses_responder_options responses)
    : chat_(std::move(meta),
            [&] {
              options.bare = true;
              return options;
            }()),
      responses_(std::move(responses)),
      stream_(options.response.stream),
      request_id_(options.response.request_id),
      wire_(options.response.chunked, options.response.request_id),
      prompt_tokens_(responses_.prompt_tokens) {}

std::string responses_responder::on_event(const actors::generation_event& event) {
  if (chat_.done()) return {};
  std::string bytes = chat_.on_event(event);
  if (chat_.usage().prompt_tokens > 0) prompt_tokens_ = chat_.usage().prompt_tokens;
  if (!stream_ || chat_.status() != 200) {
    if (bytes.empty() || wire_.started()) return {};
    return complete(bytes);
  }
  const std::string out =
      each_sse_payload(bytes, [this](std::string_view data) { return convert(data); });
  return wire_.send(out, chat_.done(), chat_.keep_alive());
}

std::string responses_responder::response(std::string_view status, std::string_view output,
                                          const std::optional<responses_usage>& usage) const {
  // The sampling's max_tokens: what the model's length leaves after the prompt, at most the
  // request's.
  int64_t max_tokens = responses_.echo.max_output_tokens.value_or(INT64_MAX);
  if (responses_.max_model_len > 0)
    max_tokens = std::min<int64_t>(max_tokens, responses_.max_model_len - prompt_tokens_);
  if (max_tokens == INT64_MAX) max_tokens = 0;
  return response_object_json(responses_.echo, chat_.meta().model, responses_.created_at, status,
                              max_tokens, output, usage);
}

std::string responses_responder::complete(const std::string& body) {
  const int status = chat_.status();
  Document doc;
  doc.Parse(body.data(), body.size());
  if (status != 200 || doc.HasParseError()) {  // the chat path's error, as it is
    return format_response(status, json_content_type, body, chat_.keep_alive(), request_id_);
  }
  const Value& choice = (*field(doc, "choices"))[0];
  const Value* message = field(choice, "message");
  const bool cut = text_of(field(choice, "finish_reason")) == "length";
  std::string items;
  auto add = [&](const std::string& item) {
    if (!items.empty()) items += ',';
    items += item;
  };
  const std::string_view reasoning = text_of(message ? field(*message, "reasoning") : nullptr);
  const std::string_view content = text_of(message ? field(*message, "content") : nullptr);
  if (!reasoning.empty()) add(reasoning_item_json(new_item_id("rs_"), std::string(reasoning), ""));
  std::string logprobs = "null";
  if (responses_.echo.top_logprobs) {
    std::string list = logprobs_of(field(choice, "logprobs"), false);
    if (!list.empty()) logprobs = list;
  }
  const Value* calls = message ? field(*message, "tool_calls") : nullptr;
  const bool has_calls = calls != nullptr && calls->IsArray() && !calls->Empty();
  if (!content.empty()) {
    add(message_item_json(new_item_id("msg_"), "[" + output_text_json(content, logprobs) + "]",
                          "completed"));
  } else if (!responses_.answer_parser && !has_calls) {
    // vLLM's answer without a parser: one message, empty here.
    add(message_item_json(new_item_id("msg_"), "[]", "completed"));
  }
  if (has_calls) {
    for (const Value& call : calls->GetArray()) {
      const Value* function = field(call, "function");
      add(function_call_item_json(
          text_of(function ? field(*function, "arguments") : nullptr), text_of(field(call, "id")),
          text_of(function ? field(*function, "name") : nullptr), new_item_id("fc_"), "completed"));
    }
  }
  output_json_ = "[" + items + "]";
  response_json_ =
      response(cut ? "incomplete" : "completed", output_json_, usage_of(field(doc, "usage")));
  return format_response(200, json_content_type, response_json_, chat_.keep_alive(), request_id_);
}

// -- streams ---------------------------------------------------------------------------------

std::string responses_responder::event(std::string_view type, std::string_view body,
                                       std::string_view after_sequence,
                                       std::string_view after_type) {
  // The fields in OpenAI's (alphabetical) order: `body`'s, sequence_number, `after_sequence`'s
  // ("text"), type, and `after_type`'s (function_call_arguments.done's "name").
  std::string data =
      fmt::format("{{{}{}\"sequence_number\":{},", body, body.empty() ? "" : ",", sequence_++);
  if (!after_sequence.empty()) data += std::string(after_sequence) + ",";
  data += fmt::format(R"("type":"{}")", type);
  if (!after_type.empty()) data += "," + std::string(after_type);
  return fmt::format("event: {}\ndata: {}}}\n\n", type, data);
}

std::string responses_responder::convert(std::string_view data) {
  if (failed_) return {};
  if (data != "[DONE]") return convert_chunk(data);
  std::string out = close_item();  // before the response: it adds the last item
  output_json_ = "[" + items_ + "]";
  response_json_ = response(finish_reason_ == "length" ? "incomplete" : "completed", output_json_,
                            usage_.value_or(responses_usage{}));
  return out + event("response.completed", R"("response":)" + response_json_);
}

std::string responses_responder::open_item(item_kind kind, std::string_view call_id,
                                           std::string_view call_name, int64_t call_index) {
  kind_ = kind;
  text_.clear();
  logprobs_.clear();
  const std::string index = fmt::format(R"("output_index":{})", output_index_);
  if (kind == item_kind::call) {
    item_id_ = new_item_id("fc_");
    call_id_ = call_id.empty() ? new_item_id("chatcmpl-tool-") : std::string(call_id);
    call_name_ = call_name;
    call_index_ = call_index;
    return event("response.output_item.added",
                 R"("item":)" +
                     function_call_item_json("", call_id_, call_name_, item_id_, "in_progress") +
                     "," + index);
  }
  const bool message = kind == item_kind::message;
  item_id_ = new_item_id(message ? "msg_" : "rs_");
  const std::string item = message ? message_item_json(item_id_, "[]", "in_progress")
                                   : reasoning_item_json(item_id_, std::nullopt, "in_progress");
  const std::string part =
      message ? output_text_json("", "[]") : std::string(R"({"text":"","type":"reasoning_text"})");
  std::string out = event("response.output_item.added", R"("item":)" + item + "," + index);
  return out + event("response.content_part.added",
                     fmt::format(R"("content_index":0,"item_id":"{}",{},"part":{})", item_id_,
                                 index, part));
}

std::string responses_responder::close_item() {
  if (kind_ == item_kind::none) return {};
  const std::string index = fmt::format(R"("output_index":{})", output_index_);
  const std::string head = fmt::format(R"("content_index":0,"item_id":"{}",)", item_id_);
  std::string out, item;
  if (kind_ == item_kind::call) {
    out = event("response.function_call_arguments.done",
                fmt::format(R"("arguments":{},"item_id":"{}",{})", quoted(text_), item_id_, index),
                "", R"("name":)" + quoted(call_name_));
    item = function_call_item_json(text_, call_id_, call_name_, item_id_, "completed");
  } else if (kind_ == item_kind::message) {
    const std::string part =
        output_text_json(text_, logprobs_.empty() ? "null" : "[" + logprobs_ + "]");
    out = event("response.output_text.done", head + R"("logprobs":[],)" + index,
                R"("text":)" + quoted(text_));
    out += event("response.content_part.done", head + index + R"(,"part":)" + part);
    item = message_item_json(item_id_, text_.empty() ? "[]" : "[" + part + "]", "completed");
  } else {
    out = event("response.reasoning_text.done", head + index, R"("text":)" + quoted(text_));
    out += event("response.content_part.done", head + index + R"(,"part":{"text":)" +
                                                   quoted(text_) + R"(,"type":"reasoning_text"})");
    item = reasoning_item_json(item_id_, text_, "completed");
  }
  out += event("response.output_item.done", R"("item":)" + item + "," + index);
  if (!items_.empty()) items_ += ',';
  items_ += item;
  ++output_index_;
  kind_ = item_kind::none;
  return out;
}

std::string responses_responder::convert_chunk(std::string_view json) {
  Document chunk;
  chunk.Parse(json.data(), json.size());
  const Value* choices = chunk.HasParseError() ? nullptr : field(chunk, "choices");
  if (choices == nullptr || !choices->IsArray()) {  // the chat stream's {"error": {...}}
    failed_ = true;
    const Value* error = chunk.HasParseError() ? nullptr : field(chunk, "error");
    const int64_t code = error != nullptr ? int_of(field(*error, "code")) : 500;
    const std::string message = error != nullptr ? std::string(text_of(field(*error, "message")))
                                                 : "Invalid data format received";
    return event("error", fmt::format(R"("code":{},"message":{},"param":null)",
                                      quoted(error_type(static_cast<int>(code))), quoted(message)));
  }
  std::string out;
  if (!started_) {
    started_ = true;
    const std::string initial = response("in_progress", "[]", std::nullopt);
    out += event("response.created", R"("response":)" + initial);
    out += event("response.in_progress", R"("response":)" + initial);
  }
  if (choices->Empty()) {  // the usage chunk
    usage_ = usage_of(field(chunk, "usage"));
    return out;
  }
  const Value& choice = (*choices)[0];
  if (const Value* reason = field(choice, "finish_reason")) finish_reason_ = text_of(reason);
  const Value* delta = field(choice, "delta");
  if (delta == nullptr) return out;
  // vLLM's split_delta order: reasoning, content, then the tool calls by index.
  if (const Value* reasoning = field(*delta, "reasoning");
      reasoning != nullptr && reasoning->IsString()) {
    if (kind_ != item_kind::reasoning) {
      out += close_item();  // in this order: both number their events
      out += open_item(item_kind::reasoning);
    }
    text_ += text_of(reasoning);
    out += event("response.reasoning_text.delta",
                 fmt::format(R"("content_index":0,"delta":{},"item_id":"{}","output_index":{})",
                             quoted(text_of(reasoning)), item_id_, output_index_));
  }
  if (std::string_view content = text_of(field(*delta, "content")); !content.empty()) {
    if (kind_ != item_kind::message) {
      out += close_item();
      out += open_item(item_kind::message);
    }
    text_ += content;
    std::string step_logprobs = "[]";
    if (responses_.echo.top_logprobs) {
      const std::string full = logprobs_of(field(choice, "logprobs"), false);
      if (full.size() > 2)
        logprobs_ += (logprobs_.empty() ? "" : ",") + full.substr(1, full.size() - 2);
      const std::string brief = logprobs_of(field(choice, "logprobs"), true);
      if (!brief.empty()) step_logprobs = brief;
    }
    out += event("response.output_text.delta",
                 fmt::format(R"("content_index":0,"delta":{},"item_id":"{}","logprobs":{},)"
                             R"("output_index":{})",
                             quoted(content), item_id_, step_logprobs, output_index_));
  }
  const Value* calls = field(*delta, "tool_calls");
  if (calls == nullptr || !calls->IsArray()) return out;
  for (const Value& call : calls->GetArray()) {
    const Value* function = field(call, "function");
    if (function == nullptr) continue;
    const int64_t index = int_of(field(call, "index"));
    if (kind_ != item_kind::call || index != call_index_) {
      out += close_item();
      out += open_item(item_kind::call, text_of(field(call, "id")),
                       text_of(field(*function, "name")), index);
    }
    if (std::string_view arguments = text_of(field(*function, "arguments")); !arguments.empty()) {
      text_ += arguments;
      out += event("response.function_call_arguments.delta",
                   fmt::format(R"("delta":{},"item_id":"{}","output_index":{})", quoted(arguments),
                               item_id_, output_index_));
    }
  }
  return out;
}

}  // namespace troupe::http
