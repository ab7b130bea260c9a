#pragma once
// The pieces every OpenAI-style JSON body of http/ is written with (completions and chat alike).
// Internal to http/: it exposes rapidjson's writer.
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/openai_json.hpp"

namespace troupe::http {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s);
void write_key(json_writer& w, std::string_view key);
// An empty string renders as null.
void write_string_or_null(json_writer& w, std::string_view s);
// "id", "object", "created", "model" members of a response or chunk.
void write_meta(json_writer& w, const completion_meta& meta, std::string_view object);
// The usage object; `with_details` adds "prompt_tokens_details": null (vLLM writes it on
// completions and on chat usage chunks, not on chat completions).
void write_usage(json_writer& w, const completion_usage& usage, bool with_details);

}  // namespace troupe::http
