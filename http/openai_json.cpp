#include "http/openai_json.hpp"

#include <random>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace troupe::http {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_key(json_writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void write_string_or_null(json_writer& w, std::string_view s) {
  if (s.empty()) {
    w.Null();
  } else {
    write_string(w, s);
  }
}

void write_meta(json_writer& w, const completion_meta& meta) {
  write_key(w, "id");
  write_string(w, meta.id);
  write_key(w, "object");
  w.String("text_completion");
  write_key(w, "created");
  w.Int64(meta.created);
  write_key(w, "model");
  write_string(w, meta.model);
}

void write_usage(json_writer& w, const completion_usage& usage) {
  w.StartObject();
  write_key(w, "prompt_tokens");
  w.Int(usage.prompt_tokens);
  write_key(w, "total_tokens");
  w.Int(usage.prompt_tokens + usage.completion_tokens);
  write_key(w, "completion_tokens");
  w.Int(usage.completion_tokens);
  write_key(w, "prompt_tokens_details");
  w.Null();
  w.EndObject();
}

// One choice; `with_prompt_logprobs` for the non-streaming shape.
void write_choice(json_writer& w, std::string_view text, std::string_view finish_reason,
                  bool with_prompt_logprobs) {
  w.StartObject();
  write_key(w, "index");
  w.Int(0);
  write_key(w, "text");
  write_string(w, text);
  write_key(w, "logprobs");
  w.Null();
  write_key(w, "finish_reason");
  write_string_or_null(w, finish_reason);
  write_key(w, "stop_reason");
  w.Null();
  if (with_prompt_logprobs) {
    write_key(w, "prompt_logprobs");
    w.Null();
  }
  w.EndObject();
}

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return rng;
}

}  // namespace

std::string error_json(const api_error& error) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "error");
  w.StartObject();
  write_key(w, "message");
  write_string(w, error.message);
  write_key(w, "type");
  write_string(w, error_type(error.status));
  write_key(w, "param");
  write_string_or_null(w, error.param);
  write_key(w, "code");
  w.Int(error.status);
  w.EndObject();
  w.EndObject();
  return out.GetString();
}

std::string models_json(const actors::model_info& info) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "object");
  w.String("list");
  write_key(w, "data");
  w.StartArray();
  w.StartObject();
  write_key(w, "id");
  write_string(w, info.served_model_name);
  write_key(w, "object");
  w.String("model");
  write_key(w, "created");
  w.Int64(info.created);
  write_key(w, "owned_by");
  w.String("troupe");
  write_key(w, "root");
  write_string(w, info.served_model_name);
  write_key(w, "parent");
  w.Null();
  write_key(w, "max_model_len");
  w.Int(info.max_model_len);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return out.GetString();
}

std::string completion_json(const completion_meta& meta, std::string_view text,
                            std::string_view finish_reason, const completion_usage& usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta);
  write_key(w, "choices");
  w.StartArray();
  write_choice(w, text, finish_reason, /*with_prompt_logprobs=*/true);
  w.EndArray();
  write_key(w, "usage");
  write_usage(w, usage);
  w.EndObject();
  return out.GetString();
}

std::string stream_chunk_json(const completion_meta& meta, std::string_view text,
                              std::string_view finish_reason, bool with_usage_null) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta);
  write_key(w, "choices");
  w.StartArray();
  write_choice(w, text, finish_reason, /*with_prompt_logprobs=*/false);
  w.EndArray();
  if (with_usage_null) {
    write_key(w, "usage");
    w.Null();
  }
  w.EndObject();
  return out.GetString();
}

std::string usage_chunk_json(const completion_meta& meta, const completion_usage& usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta);
  write_key(w, "choices");
  w.StartArray();
  w.EndArray();
  write_key(w, "usage");
  write_usage(w, usage);
  w.EndObject();
  return out.GetString();
}

std::string make_completion_id() {
  auto& rng = thread_rng();
  return fmt::format("cmpl-{:016x}{:016x}", rng(), rng());
}

uint64_t make_random_seed() {
  return thread_rng()();
}

}  // namespace troupe::http
