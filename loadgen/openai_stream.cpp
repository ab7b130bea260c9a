#include "loadgen/openai_stream.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace troupe::loadgen {
namespace {

using rapidjson::Value;

void set(rapidjson::Document& doc, const char* key, Value value) {
  doc.AddMember(Value(key, doc.GetAllocator()), value, doc.GetAllocator());
}

Value text(const std::string& s, rapidjson::Document& doc) {
  return Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), doc.GetAllocator());
}

}  // namespace

status validate(const body_options& options) {
  if (options.extra_body.empty()) return ok_status();
  rapidjson::Document doc;
  doc.Parse(options.extra_body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) return error{"--extra-body must be a JSON object"};
  return ok_status();
}

std::string request_body(const body_options& options, const std::string& prompt,
                         int32_t max_tokens) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  if (!options.model.empty()) set(doc, "model", text(options.model, doc));  // else: served model
  const bool chat = options.backend == "openai-chat";
  if (chat) {
    Value message(rapidjson::kObjectType), messages(rapidjson::kArrayType);
    message.AddMember("role", "user", alloc);
    message.AddMember("content", text(prompt, doc), alloc);
    messages.PushBack(message, alloc);
    set(doc, "messages", std::move(messages));
    set(doc, "max_completion_tokens", Value(max_tokens));
  } else {
    set(doc, "prompt", text(prompt, doc));
    set(doc, "max_tokens", Value(max_tokens));
  }
  set(doc, "stream", Value(true));
  Value stream_options(rapidjson::kObjectType);
  stream_options.AddMember("include_usage", true, alloc);
  set(doc, "stream_options", std::move(stream_options));
  if (options.ignore_eos) set(doc, "ignore_eos", Value(true));
  // benchmark_serving sends temperature 0 (greedy) when none is given, whatever the server's
  // own default is.
  set(doc, "temperature", Value(options.temperature.value_or(0.0)));
  if (options.top_p) set(doc, "top_p", Value(*options.top_p));
  if (options.top_k) set(doc, "top_k", Value(*options.top_k));
  // benchmark_serving turns llama-server's prompt cache off, so each prompt is computed.
  if (options.backend == "llama.cpp") set(doc, "cache_prompt", Value(false));
  if (!options.extra_body.empty()) {
    rapidjson::Document extra;
    extra.Parse(options.extra_body.c_str());
    for (auto& m : extra.GetObject()) {
      doc.RemoveMember(m.name);
      doc.AddMember(Value(m.name, alloc), Value(m.value, alloc), alloc);
    }
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return buffer.GetString();
}

void sse_parser::feed(std::string_view bytes, double t) {
  pending_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(pending_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind("data:", 0) != 0) continue;  // blank separators, comments, other fields
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    on_data(line, t);
  }
  pending_.erase(0, start);
}

void sse_parser::on_data(std::string_view data, double t) {
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  rapidjson::Document doc;
  doc.Parse(data.data(), data.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  if (doc.HasMember("error")) {
    const auto& e = doc["error"];
    error_ = e.IsObject() && e.HasMember("message") && e["message"].IsString()
                 ? e["message"].GetString()
                 : "the server streamed an error";
    return;
  }
  if (doc.HasMember("choices") && doc["choices"].IsArray() && !doc["choices"].Empty()) {
    if (first_ < 0) {
      first_ = t;
    } else {
      itl_.push_back(t - last_);
    }
    last_ = t;
    const auto& choice = doc["choices"][0];
    const Value* holder =
        chat_ ? (choice.HasMember("delta") ? &choice["delta"] : nullptr) : &choice;
    const char* field = chat_ ? "content" : "text";
    if (holder && holder->IsObject() && holder->HasMember(field) && (*holder)[field].IsString()) {
      text_ += (*holder)[field].GetString();
    }
  } else if (doc.HasMember("usage") && doc["usage"].IsObject()) {
    const auto& usage = doc["usage"];
    if (usage.HasMember("completion_tokens") && usage["completion_tokens"].IsInt()) {
      output_tokens_ = usage["completion_tokens"].GetInt();
    }
  }
}

}  // namespace troupe::loadgen
