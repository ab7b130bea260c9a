#include "http/anthropic_responder.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include "http/anthropic_request.hpp"
#include "http/chat_rewrite.hpp"
#include "http/json_write.hpp"
#include "http/wire.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;
using rapidjson::Value;

// vLLM's _to_anthropic_stop_reason: (stop_reason, stop_sequence) of a chat finish reason and
// stop_reason (a string when a stop string matched).
std::pair<std::string, std::optional<std::string>> stop_reason(
    std::string_view finish_reason, const std::optional<std::string>& stop_string, bool tool_used,
    bool tool_complete) {
  if (finish_reason == "length") return {"max_tokens", std::nullopt};
  if (finish_reason != "stop" && finish_reason != "tool_calls") return {"", std::nullopt};
  if (tool_complete) return {"tool_use", std::nullopt};
  if (stop_string) return {"stop_sequence", stop_string};
  if (finish_reason == "tool_calls" || tool_used) return {"tool_use", std::nullopt};
  return {"end_turn", std::nullopt};
}

std::optional<std::string> stop_string_of(const Value& choice) {
  const Value* reason = field(choice, "stop_reason");
  if (reason == nullptr || !reason->IsString()) return std::nullopt;
  return std::string(text_of(reason));
}

// vLLM's _build_anthropic_usage: the prompt tokens less those read from the cache, which are
// reported apart when the chat usage details them.
void write_usage(json_writer& w, const Value* usage) {
  int64_t input = 0;
  int64_t output = 0;
  std::optional<int64_t> cached;
  if (usage != nullptr) {
    if (const Value* v = field(*usage, "completion_tokens"); v != nullptr && v->IsInt64())
      output = v->GetInt64();
    if (const Value* v = field(*usage, "prompt_tokens"); v != nullptr && v->IsInt64())
      input = v->GetInt64();
    const Value* details = field(*usage, "prompt_tokens_details");
    if (const Value* v = details != nullptr ? field(*details, "cached_tokens") : nullptr;
        v != nullptr && v->IsInt64()) {
      cached = v->GetInt64();
      input -= *cached;
    }
  }
  w.StartObject();
  write_key(w, "input_tokens");
  w.Int64(std::max<int64_t>(0, input));
  write_key(w, "output_tokens");
  w.Int64(output);
  if (cached) {
    write_key(w, "cache_read_input_tokens");
    w.Int64(*cached);
  }
  w.EndObject();
}

// A random 32-hex-digit thinking signature (vLLM's uuid4().hex).
std::string new_signature() {
  return make_completion_id().substr(5);
}

std::string event(std::string_view type, std::string_view data) {
  std::string out = "event: ";
  out += type;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

// The error of a chat error body ({"error": {"message", "code", ...}}), as an api_error.
api_error error_of(const Value& body, int status) {
  const Value* error = field(body, "error");
  return api_error{
      status, std::string(text_of(error != nullptr ? field(*error, "message") : nullptr)), {}};
}

void write_text_block(json_writer& w, std::string_view text) {
  w.StartObject();
  write_key(w, "type");
  write_string(w, "text");
  write_key(w, "text");
  write_string(w, text);
  w.EndObject();
}

// A complete answer's content blocks: thinking, text, then one tool_use block a call.
void write_blocks(json_writer& w, const Value* message, const Value* calls) {
  w.StartArray();
  int blocks = 0;
  if (std::string_view reasoning = text_of(message ? field(*message, "reasoning") : nullptr);
      !reasoning.empty()) {
    w.StartObject();
    write_key(w, "type");
    write_string(w, "thinking");
    write_key(w, "thinking");
    write_string(w, reasoning);
    write_key(w, "signature");
    write_string(w, new_signature());
    w.EndObject();
    ++blocks;
  }
  if (std::string_view content = text_of(message ? field(*message, "content") : nullptr);
      !content.empty()) {
    write_text_block(w, content);
    ++blocks;
  }
  for (rapidjson::SizeType i = 0; calls != nullptr && i < calls->Size(); ++i) {
    const Value& call = (*calls)[i];
    const Value* function = field(call, "function");
    std::string_view arguments = text_of(function ? field(*function, "arguments") : nullptr);
    Document input;
    input.Parse(arguments.data(), arguments.size());
    w.StartObject();
    write_key(w, "type");
    write_string(w, "tool_use");
    write_key(w, "id");
    write_string(w, text_of(field(call, "id")));
    write_key(w, "name");
    write_string(w, text_of(function ? field(*function, "name") : nullptr));
    write_key(w, "input");
    input.Accept(w);  // an object: checked before
    w.EndObject();
    ++blocks;
  }
  if (blocks == 0) write_text_block(w, "");  // Anthropic's empty answer: one empty text block
  w.EndArray();
}

}  // namespace

anthropic_responder::anthropic_responder(completion_meta meta, chat_responder_options options)
    : chat_(std::move(meta),
            [&] {
              options.bare = true;
              return options;
            }()),
      stream_(options.response.stream),
      request_id_(options.response.request_id),
      wire_(options.response.chunked, options.response.request_id) {}

std::string anthropic_responder::on_event(const actors::generation_event& event) {
  if (chat_.done()) return {};
  std::string bytes = chat_.on_event(event);
  if (!stream_ || chat_.status() != 200) {
    if (bytes.empty() || wire_.started()) return {};
    return complete(bytes);
  }
  const std::string out =
      each_sse_payload(bytes, [this](std::string_view data) { return convert(data); });
  return wire_.send(out, chat_.done(), chat_.keep_alive());
}

std::string anthropic_responder::complete(const std::string& body) {
  const int status = chat_.status();
  Document doc;
  doc.Parse(body.data(), body.size());
  if (status != 200 || doc.HasParseError()) {
    const api_error error =
        doc.HasParseError() ? api_error{status, body, {}} : error_of(doc, status);
    return format_response(error.status, json_content_type, anthropic_error_json(error),
                           chat_.keep_alive(), request_id_);
  }
  const Value& choice = (*field(doc, "choices"))[0];
  const Value* message = field(choice, "message");
  const Value* calls = message != nullptr ? field(*message, "tool_calls") : nullptr;
  const bool has_calls = calls != nullptr && calls->IsArray() && !calls->Empty();
  // A tool_use block's input is an object: vLLM refuses an answer whose call arguments are not
  // one (a call forced without a strict schema may give any JSON).
  for (rapidjson::SizeType i = 0; has_calls && i < calls->Size(); ++i) {
    const Value* function = field((*calls)[i], "function");
    std::string_view arguments = text_of(function ? field(*function, "arguments") : nullptr);
    Document input;
    input.Parse(arguments.data(), arguments.size());
    if (input.HasParseError() || !input.IsObject()) {
      status_ = 400;
      api_error error{
          400,
          fmt::format("A tool_use block's input must be a JSON object; the call of "
                      "'{}' has arguments {}",
                      text_of(function ? field(*function, "name") : nullptr), arguments),
          {}};
      return format_response(400, json_content_type, anthropic_error_json(error),
                             chat_.keep_alive(), request_id_);
    }
  }
  auto [reason, sequence] = stop_reason(text_of(field(choice, "finish_reason")),
                                        stop_string_of(choice), has_calls, has_calls);
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "id");
  write_string(w, text_of(field(doc, "id")));
  write_key(w, "type");
  write_string(w, "message");
  write_key(w, "role");
  write_string(w, "assistant");
  write_key(w, "content");
  write_blocks(w, message, has_calls ? calls : nullptr);
  write_key(w, "model");
  write_string(w, text_of(field(doc, "model")));
  write_key(w, "stop_reason");
  if (reason.empty()) {
    w.Null();
  } else {
    write_string(w, reason);
  }
  if (sequence) {
    write_key(w, "stop_sequence");
    write_string(w, *sequence);
  }
  write_key(w, "usage");
  write_usage(w, field(doc, "usage"));
  w.EndObject();
  return format_response(200, json_content_type, std::string_view(out.GetString(), out.GetSize()),
                         chat_.keep_alive(), request_id_);
}

// -- streams ---------------------------------------------------------------------------------

std::string anthropic_responder::convert(std::string_view data) {
  if (failed_) return {};
  if (data == "[DONE]")
    return stop_and_flush() + event("message_stop", R"({"type":"message_stop"})");
  return convert_chunk(data);
}

std::string anthropic_responder::delta_event(std::string_view delta_type, std::string_view key,
                                             std::string_view value) const {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "type");
  write_string(w, "content_block_delta");
  write_key(w, "delta");
  w.StartObject();
  write_key(w, "type");
  write_string(w, delta_type);
  write_key(w, key);
  write_string(w, value);
  w.EndObject();
  write_key(w, "index");
  w.Int(state_.block_index);
  w.EndObject();
  return event("content_block_delta", std::string_view(out.GetString(), out.GetSize()));
}

std::string anthropic_responder::start_block(std::string_view block_json, std::string_view type,
                                             std::string_view tool_use_id) {
  std::string data = R"({"type":"content_block_start","content_block":)";
  data += block_json;
  data += R"(,"index":)" + std::to_string(state_.next_index) + "}";
  state_.block_type = type;
  state_.block_index = state_.next_index;
  state_.signature = type == "thinking" ? new_signature() : std::string();
  state_.tool_use_id = tool_use_id;
  return event("content_block_start", data);
}

std::string anthropic_responder::stop_block() {
  if (state_.block_type.empty()) return {};
  std::string out;
  if (!state_.signature.empty())
    out += delta_event("signature_delta", "signature", state_.signature);
  out += event("content_block_stop", R"({"type":"content_block_stop","index":)" +
                                         std::to_string(state_.block_index) + "}");
  state_.block_type.clear();
  state_.signature.clear();
  state_.tool_use_id.clear();
  ++state_.next_index;
  return out;
}

std::string anthropic_responder::stop_and_flush() {
  std::string held;
  for (const auto& text : state_.pending_text)
    held += text;
  state_.pending_text.clear();
  std::string out = stop_block();
  if (held.empty()) return out;
  out += start_block(R"({"type":"text","text":""})", "text");
  return out + delta_event("text_delta", "text", held);
}

std::string anthropic_responder::convert_chunk(std::string_view json) {
  Document chunk;
  chunk.Parse(json.data(), json.size());
  const Value* choices = chunk.HasParseError() ? nullptr : field(chunk, "choices");
  if (choices == nullptr || !choices->IsArray()) {
    // The chat stream's error event ({"error": {...}}): Anthropic's error event ends the stream.
    failed_ = true;
    const Value* error = chunk.HasParseError() ? nullptr : field(chunk, "error");
    const Value* code = error != nullptr ? field(*error, "code") : nullptr;
    api_error e = chunk.HasParseError()
                      ? api_error{500, "Invalid data format received", {}}
                      : error_of(chunk, code && code->IsInt() ? code->GetInt() : 500);
    return stop_and_flush() + event("error", anthropic_error_json(e));
  }
  if (first_chunk_) {
    first_chunk_ = false;
    rapidjson::StringBuffer out;
    json_writer w(out);
    w.StartObject();
    write_key(w, "type");
    write_string(w, "message_start");
    write_key(w, "message");
    w.StartObject();
    write_key(w, "id");
    write_string(w, text_of(field(chunk, "id")));
    write_key(w, "type");
    write_string(w, "message");
    write_key(w, "role");
    write_string(w, "assistant");
    write_key(w, "content");
    w.StartArray();
    w.EndArray();
    write_key(w, "model");
    write_string(w, text_of(field(chunk, "model")));
    write_key(w, "stop_reason");
    w.Null();
    write_key(w, "stop_sequence");
    w.Null();
    write_key(w, "usage");
    write_usage(w, field(chunk, "usage"));
    w.EndObject();
    w.EndObject();
    return event("message_start", std::string_view(out.GetString(), out.GetSize()));
  }
  if (choices->Empty()) {  // the usage chunk
    std::string out = stop_and_flush();
    Document args;
    args.Parse(last_tool_args_.data(), last_tool_args_.size());
    auto [reason, sequence] =
        stop_reason(finish_reason_.empty() ? "stop" : finish_reason_, stop_sequence_, tool_used_,
                    tool_used_ && !args.HasParseError());
    rapidjson::StringBuffer data;
    json_writer w(data);
    w.StartObject();
    write_key(w, "type");
    write_string(w, "message_delta");
    write_key(w, "delta");
    w.StartObject();
    write_key(w, "stop_reason");
    if (reason.empty()) {
      w.Null();
    } else {
      write_string(w, reason);
    }
    write_key(w, "stop_sequence");
    if (sequence) {
      write_string(w, *sequence);
    } else {
      w.Null();
    }
    w.EndObject();
    write_key(w, "usage");
    write_usage(w, field(chunk, "usage"));
    w.EndObject();
    return out + event("message_delta", std::string_view(data.GetString(), data.GetSize()));
  }
  const Value& choice = (*choices)[0];
  if (const Value* reason = field(choice, "finish_reason")) {
    finish_reason_ = text_of(reason);
    stop_sequence_ = stop_string_of(choice);
  }
  const Value* delta = field(choice, "delta");
  if (delta == nullptr) return {};
  std::string out;
  if (std::string_view reasoning = text_of(field(*delta, "reasoning")); !reasoning.empty()) {
    if (state_.block_type != "thinking") {
      out += stop_and_flush();
      out += start_block(R"({"type":"thinking","thinking":""})", "thinking");
    }
    out += delta_event("thinking_delta", "thinking", reasoning);
  }
  if (std::string_view content = text_of(field(*delta, "content")); !content.empty()) {
    if (state_.block_type == "tool_use") {
      state_.pending_text.emplace_back(content);
    } else {
      if (state_.block_type != "text") {
        out += stop_and_flush();
        out += start_block(R"({"type":"text","text":""})", "text");
      }
      out += delta_event("text_delta", "text", content);
    }
  }
  const Value* calls = field(*delta, "tool_calls");
  if (calls == nullptr || !calls->IsArray()) return out;
  for (const Value& call : calls->GetArray()) {
    const Value* index = field(call, "index");
    const int64_t i = index != nullptr && index->IsInt64() ? index->GetInt64() : 0;
    const Value* function = field(call, "function");
    std::string_view arguments = text_of(function ? field(*function, "arguments") : nullptr);
    std::string id;
    if (const Value* given = field(call, "id")) {
      id = text_of(given);
      tool_ids_[i] = id;
      const Value* name = function != nullptr ? field(*function, "name") : nullptr;
      if (state_.tool_use_id != id && name != nullptr) {
        out += stop_and_flush();
        tool_used_ = true;
        last_tool_args_.clear();
        rapidjson::StringBuffer block;
        json_writer w(block);
        w.StartObject();
        write_key(w, "type");
        write_string(w, "tool_use");
        write_key(w, "id");
        write_string(w, id);
        write_key(w, "name");
        write_string(w, text_of(name));
        write_key(w, "input");
        w.StartObject();
        w.EndObject();
        w.EndObject();
        out += start_block(std::string_view(block.GetString(), block.GetSize()), "tool_use", id);
      }
    } else if (auto known = tool_ids_.find(i); known != tool_ids_.end()) {
      id = known->second;
    }
    if (!arguments.empty() && !id.empty() && state_.tool_use_id == id) {
      last_tool_args_ += arguments;
      out += delta_event("input_json_delta", "partial_json", arguments);
    }
  }
  return out;
}

}  // namespace troupe::http
