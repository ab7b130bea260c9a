#include "http/responses_json.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include "http/json_write.hpp"
#include "http/openai_json.hpp"
#include "http/python_json.hpp"

namespace troupe::http {
namespace {

void raw(json_writer& w, std::string_view json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

void string_or_null(json_writer& w, const std::optional<std::string>& s) {
  if (s) {
    write_string(w, *s);
  } else {
    w.Null();
  }
}

// A float as Python's repr writes it (0.0, 1.0, 0.7).
void python_float(json_writer& w, double d) {
  raw(w, python_float_repr(d));
}

void write_usage(json_writer& w, const responses_usage& usage) {
  w.StartObject();
  write_key(w, "input_tokens");
  w.Int64(usage.input_tokens);
  write_key(w, "input_tokens_details");
  raw(w, fmt::format(R"({{"cached_tokens":{},"cache_write_tokens":0,"input_tokens_per_turn":[],)"
                     R"("cached_tokens_per_turn":[]}})",
                     usage.cached_tokens));
  write_key(w, "output_tokens");
  w.Int64(usage.output_tokens);
  write_key(w, "output_tokens_details");
  raw(w, fmt::format(R"({{"reasoning_tokens":{},"tool_output_tokens":0,)"
                     R"("output_tokens_per_turn":[],"tool_output_tokens_per_turn":[]}})",
                     usage.reasoning_tokens));
  write_key(w, "total_tokens");
  w.Int64(usage.input_tokens + usage.output_tokens);
  w.EndObject();
}

}  // namespace

std::string new_item_id(std::string_view prefix) {
  return std::string(prefix) + make_completion_id().substr(5, 16);
}

std::string response_object_json(const responses_echo& echo, std::string_view model,
                                 int64_t created_at, std::string_view status,
                                 int64_t max_output_tokens, std::string_view output,
                                 const std::optional<responses_usage>& usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "id");
  write_string(w, echo.id);
  write_key(w, "created_at");
  w.Int64(created_at);
  write_key(w, "incomplete_details");
  if (status == "incomplete") {
    raw(w, R"({"reason":"max_output_tokens"})");
  } else {
    w.Null();
  }
  write_key(w, "instructions");
  string_or_null(w, echo.instructions);
  write_key(w, "metadata");
  raw(w, echo.metadata);
  write_key(w, "model");
  write_string(w, model);
  write_key(w, "object");
  write_string(w, "response");
  write_key(w, "output");
  raw(w, output);
  write_key(w, "parallel_tool_calls");
  w.Bool(echo.parallel_tool_calls);
  write_key(w, "temperature");
  python_float(w, echo.temperature);
  write_key(w, "tool_choice");
  raw(w, echo.tool_choice);
  write_key(w, "tools");
  raw(w, echo.tools);
  write_key(w, "top_p");
  python_float(w, echo.top_p);
  write_key(w, "background");
  w.Bool(echo.background);
  write_key(w, "max_output_tokens");
  w.Int64(max_output_tokens);
  write_key(w, "max_tool_calls");
  raw(w, echo.max_tool_calls);
  write_key(w, "previous_response_id");
  string_or_null(w, echo.previous_response_id);
  write_key(w, "prompt");
  w.Null();
  write_key(w, "reasoning");
  raw(w, echo.reasoning);
  write_key(w, "service_tier");
  write_string(w, echo.service_tier);
  write_key(w, "status");
  write_string(w, status);
  write_key(w, "text");
  raw(w, echo.text);
  write_key(w, "top_logprobs");
  if (echo.top_logprobs) {
    w.Int64(*echo.top_logprobs);
  } else {
    w.Null();
  }
  write_key(w, "truncation");
  write_string(w, echo.truncation);
  write_key(w, "usage");
  if (usage) {
    write_usage(w, *usage);
  } else {
    w.Null();
  }
  write_key(w, "user");
  raw(w, echo.user);
  write_key(w, "presence_penalty");
  python_float(w, echo.presence_penalty);
  write_key(w, "frequency_penalty");
  python_float(w, echo.frequency_penalty);
  for (const char* key :
       {"kv_transfer_params", "ec_transfer_params", "input_messages", "output_messages"}) {
    write_key(w, key);
    w.Null();
  }
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

std::string output_text_json(std::string_view text, std::string_view logprobs) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "annotations");
  w.StartArray();
  w.EndArray();
  write_key(w, "text");
  write_string(w, text);
  write_key(w, "type");
  write_string(w, "output_text");
  write_key(w, "logprobs");
  raw(w, logprobs);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

std::string message_item_json(std::string_view id, std::string_view parts,
                              std::string_view status) {
  return fmt::format(R"({{"id":"{}","content":{},"role":"assistant","status":"{}",)"
                     R"("type":"message","phase":null}})",
                     id, parts, status);
}

std::string function_call_item_json(std::string_view arguments, std::string_view call_id,
                                    std::string_view name, std::string_view id,
                                    std::string_view status) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "arguments");
  write_string(w, arguments);
  write_key(w, "call_id");
  write_string(w, call_id);
  write_key(w, "name");
  write_string(w, name);
  write_key(w, "type");
  write_string(w, "function_call");
  write_key(w, "id");
  write_string(w, id);
  for (const char* key : {"async", "caller", "namespace"}) {
    write_key(w, key);
    w.Null();
  }
  write_key(w, "status");
  write_string(w, status);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

std::string reasoning_item_json(std::string_view id, const std::optional<std::string>& text,
                                std::string_view status) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "id");
  write_string(w, id);
  write_key(w, "summary");
  w.StartArray();
  w.EndArray();
  write_key(w, "type");
  write_string(w, "reasoning");
  write_key(w, "content");
  if (text) {
    w.StartArray();
    w.StartObject();
    write_key(w, "text");
    write_string(w, *text);
    write_key(w, "type");
    write_string(w, "reasoning_text");
    w.EndObject();
    w.EndArray();
  } else {
    w.Null();
  }
  write_key(w, "encrypted_content");
  w.Null();
  write_key(w, "status");
  if (status.empty()) {
    w.Null();  // a complete response's reasoning item, as vLLM builds it
  } else {
    write_string(w, status);
  }
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

std::string responses_logprobs_json(std::string_view chat_content, bool delta) {
  rapidjson::Document list;
  list.Parse(chat_content.data(), chat_content.size());
  if (list.HasParseError() || !list.IsArray()) return {};
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartArray();
  for (const auto& e : list.GetArray()) {
    w.StartObject();
    write_key(w, "token");
    e["token"].Accept(w);
    if (!delta) {
      write_key(w, "bytes");
      e["bytes"].Accept(w);
    }
    write_key(w, "logprob");
    e["logprob"].Accept(w);
    write_key(w, "top_logprobs");
    w.StartArray();
    if (e.HasMember("top_logprobs") && e["top_logprobs"].IsArray()) {
      for (const auto& top : e["top_logprobs"].GetArray()) {
        w.StartObject();
        write_key(w, "token");
        top["token"].Accept(w);
        if (!delta) {
          write_key(w, "bytes");
          top["bytes"].Accept(w);
        }
        write_key(w, "logprob");
        top["logprob"].Accept(w);
        w.EndObject();
      }
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace troupe::http
