#include "http/llama_tool_tag.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "runtime/grammar/structural_tag_grammar.hpp"

namespace troupe::http {
namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key_string(writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// {"type": "tag", "begin": '{"name": "N", "parameters": ', "content": json_schema, "end": "}"}:
// the schema is the tool's parameters when it is strict and has them, else `true`
// (xgrammar's _get_function_parameters after vLLM's resolve_tool_strictness).
void write_call(writer& w, const Value& tool, bool all_strict) {
  const Value& function = tool["function"];
  const std::string_view name(function["name"].GetString(), function["name"].GetStringLength());
  const Value* strict = member(function, "strict");
  const bool pinned = all_strict || (strict != nullptr && strict->IsBool() && strict->GetBool());
  const Value* params = member(function, "parameters");
  w.StartObject();
  key_string(w, "type", "tag");
  key_string(w, "begin", "{\"name\": \"" + std::string(name) + "\", \"parameters\": ");
  w.Key("content");
  w.StartObject();
  key_string(w, "type", "json_schema");
  w.Key("json_schema");
  if (pinned && params != nullptr) {
    params->Accept(w);
  } else {
    w.Bool(true);
  }
  w.EndObject();
  key_string(w, "end", "}");
  w.EndObject();
}

}  // namespace

parse_error llama_tool_grammar(const Value& tools, const llama_tool_tag& tag, std::string& out) {
  for (const Value& tool : tools.GetArray()) {
    const Value* params = member(tool["function"], "parameters");
    if (params != nullptr && !params->IsObject()) {
      return bad_request("The `parameters` of tool '" +
                             std::string(tool["function"]["name"].GetString()) +
                             "' must be an object.",
                         "tools");
    }
  }
  rapidjson::StringBuffer buffer;
  writer w(buffer);
  w.StartObject();
  key_string(w, "type", "structural_tag");
  w.Key("format");
  if (tag.kind == llama_tool_tag::choice::forced) {
    for (const Value& tool : tools.GetArray()) {
      const Value& name = tool["function"]["name"];
      if (std::string_view(name.GetString(), name.GetStringLength()) == tag.forced_name)
        write_call(w, tool, tag.all_strict);
    }
  } else {
    w.StartObject();
    key_string(w, "type", "triggered_tags");
    w.Key("triggers");
    w.StartArray();
    w.String("{\"name\": ");
    w.EndArray();
    w.Key("tags");
    w.StartArray();
    for (const Value& tool : tools.GetArray())
      write_call(w, tool, tag.all_strict);
    w.EndArray();
    w.Key("excludes");
    w.StartArray();
    w.String("<think>");
    w.String("</think>");
    w.EndArray();
    w.Key("at_least_one");
    w.Bool(tag.kind == llama_tool_tag::choice::required);
    w.Key("stop_after_first");
    w.Bool(tag.single);
    w.EndObject();
  }
  w.EndObject();
  auto text = runtime::grammar::structural_tag_to_grammar(
      std::string_view(buffer.GetString(), buffer.GetSize()));
  if (!text) return bad_request("Invalid tool schema: " + text.message() + ".", "tools");
  out = std::move(*text);
  return std::nullopt;
}

}  // namespace troupe::http
