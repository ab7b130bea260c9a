// The JSONL protocol of `troupe chat-template` (tools/cli/chat_template_command.cpp), here so
// that it is unit-tested without the CLI.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "runtime/chat_template/chat_template.hpp"

namespace troupe::runtime {
namespace {

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string one_member(const char* key, const std::string& text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key(key);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

result<chat_request> parse_request(const std::string& line) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(line.c_str(), line.size());
  if (d.HasParseError() || !d.IsObject()) return error{"line is not a JSON object"};
  auto messages = d.FindMember("messages");
  if (messages == d.MemberEnd() || !messages->value.IsArray()) {
    return error{"\"messages\" must be an array"};
  }
  chat_request req;
  req.messages_json = to_text(messages->value);
  auto gen = d.FindMember("add_generation_prompt");
  if (gen != d.MemberEnd()) {
    if (!gen->value.IsBool()) return error{"\"add_generation_prompt\" must be a boolean"};
    req.add_generation_prompt = gen->value.GetBool();
  }
  auto tools = d.FindMember("tools");
  if (tools != d.MemberEnd() && !tools->value.IsNull()) req.tools_json = to_text(tools->value);
  auto extra = d.FindMember("extra_context");
  if (extra != d.MemberEnd() && !extra->value.IsNull()) {
    if (!extra->value.IsObject()) return error{"\"extra_context\" must be an object"};
    req.extra_context_json = to_text(extra->value);
  }
  return req;
}

}  // namespace

std::string render_jsonl_line(
    const chat_template& tpl,
    const std::vector<std::pair<std::string, std::string>>& special_tokens,
    const std::string& line) {
  auto req = parse_request(line);
  if (!req) return one_member("error", req.message());
  req->special_tokens = special_tokens;
  auto out = tpl.render(*req);
  if (!out) return one_member("error", out.message());
  return one_member("rendered", *out);
}

}  // namespace troupe::runtime
