#include "http/chat_messages.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace troupe::http {
namespace {

using rapidjson::Document;
using allocator = Document::AllocatorType;

bool is_string(const Value* v, std::string_view expected) {
  return v != nullptr && v->IsString() && view(*v) == expected;
}

// One content part's text, or the 400 for a part troupe cannot take.
parse_error read_part(const Value& part, size_t i, std::string& text) {
  const char* param = "messages";
  if (!part.IsObject()) return bad_request("Each content part must be an object.", param);
  const Value* type = member(part, "type");
  if (type == nullptr || !type->IsString()) {
    return bad_request("Each content part needs a string `type`.", param);
  }
  std::string_view kind = view(*type);
  // vLLM's text part types: the Responses API's input_text and output_text read as text.
  const bool is_text = kind == "text" || kind == "input_text" || kind == "output_text";
  const char* key = is_text ? "text" : kind == "refusal" ? "refusal" : nullptr;
  if (key == nullptr) {
    return bad_request(fmt::format("Content part {} has type '{}': only text parts are supported "
                                   "(troupe serves text-only models).",
                                   i, kind),
                       param);
  }
  const Value* value = member(part, key);
  if (value == nullptr || !value->IsString()) {
    return bad_request(fmt::format("A '{}' content part needs a string `{}`.", kind, key), param);
  }
  text = value->GetString();
  return std::nullopt;
}

// Message content as the template sees it: a string (parts joined with "\n").
parse_error read_content(const Value& message, std::string& out) {
  const Value* content = member(message, "content");
  if (content == nullptr) return std::nullopt;
  if (content->IsString()) {
    out.assign(content->GetString(), content->GetStringLength());
    return std::nullopt;
  }
  if (!content->IsArray()) {
    return type_error("content", "a string or a list of content parts");
  }
  for (size_t i = 0; i < content->Size(); ++i) {
    std::string text;
    if (auto e = read_part((*content)[static_cast<rapidjson::SizeType>(i)], i, text)) return e;
    if (i > 0) out += '\n';
    out += text;
  }
  return std::nullopt;
}

// An assistant's tool calls with each function's "arguments" as an object (vLLM parses the
// JSON string; empty or null becomes {}).
parse_error read_tool_calls(const Value& calls, Value& out, allocator& a) {
  if (!calls.IsArray()) return type_error("tool_calls", "a list");
  out.CopyFrom(calls, a);
  for (Value& call : out.GetArray()) {
    if (!call.IsObject()) return bad_request("Each tool call must be an object.", "messages");
    auto fn = call.FindMember("function");
    if (fn == call.MemberEnd() || !fn->value.IsObject()) {
      return bad_request("Each tool call needs a `function` object.", "messages");
    }
    auto args = fn->value.FindMember("arguments");
    if (args == fn->value.MemberEnd()) continue;
    Value parsed(rapidjson::kObjectType);
    if (args->value.IsString() && args->value.GetStringLength() > 0) {
      std::string_view text = view(args->value);
      if (auto e = check_json_depth(text)) return e;
      Document doc(&a);
      doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
      if (doc.HasParseError()) {
        return bad_request("A tool call's `arguments` is not valid JSON.", "messages");
      }
      parsed.CopyFrom(doc, a);
    } else if (args->value.IsObject() || args->value.IsArray()) {
      continue;
    }
    args->value = parsed;
  }
  return std::nullopt;
}

parse_error read_message(const Value& message, Value& out, allocator& a) {
  if (!message.IsObject()) return type_error("messages", "a list of message objects");
  const Value* role = member(message, "role");
  if (role == nullptr || !role->IsString()) {
    return bad_request("Each message needs a string `role`.", "messages");
  }
  std::string content;
  if (auto e = read_content(message, content)) return e;
  out.SetObject();
  out.AddMember("role", Value(role->GetString(), role->GetStringLength(), a), a);
  out.AddMember("content",
                Value(content.data(), static_cast<rapidjson::SizeType>(content.size()), a), a);
  const Value* calls = member(message, "tool_calls");
  const Value* call_id = member(message, "tool_call_id");
  if (view(*role) == "assistant" && calls != nullptr) {
    Value copy;
    if (auto e = read_tool_calls(*calls, copy, a)) return e;
    out.AddMember("tool_calls", copy, a);
  } else if (view(*role) == "tool" && call_id != nullptr && call_id->IsString()) {
    out.AddMember("tool_call_id", Value(*call_id, a), a);
  }
  // vLLM 0.32 hands an assistant's reasoning (interleaved thinking) to the template under both
  // names; Qwen3's template reads reasoning_content.
  if (const Value* reasoning = member(message, "reasoning");
      view(*role) == "assistant" && reasoning != nullptr && !reasoning->IsNull()) {
    out.AddMember("reasoning", Value(*reasoning, a), a);
    out.AddMember("reasoning_content", Value(*reasoning, a), a);
  }
  if (const Value* name = member(message, "name"); name != nullptr && name->IsString()) {
    out.AddMember("name", Value(*name, a), a);
  }
  return std::nullopt;
}

parse_error read_messages(const Value& body, runtime::chat_request& out) {
  const Value* messages = member(body, "messages");
  if (messages == nullptr) return bad_request("`messages` is required.", "messages");
  if (!messages->IsArray()) return type_error("messages", "a list of message objects");
  Document doc(rapidjson::kArrayType);
  for (const Value& message : messages->GetArray()) {
    Value m;
    if (auto e = read_message(message, m, doc.GetAllocator())) return e;
    doc.PushBack(m, doc.GetAllocator());
  }
  out.messages_json = to_json(doc);
  return std::nullopt;
}

// tools as vLLM hands them to the template: [{"type": "function", "function": {"name",
// "description", "parameters"}}] (pydantic's model_dump writes the unset ones as null).
parse_error read_tools(const Value& body, runtime::chat_request& out) {
  const Value* tools = member(body, "tools");
  if (tools == nullptr) return std::nullopt;
  if (!tools->IsArray()) return type_error("tools", "a list of tool objects");
  Document doc(rapidjson::kArrayType);
  allocator& a = doc.GetAllocator();
  for (const Value& tool : tools->GetArray()) {
    const Value* fn = tool.IsObject() ? member(tool, "function") : nullptr;
    const Value* name = fn != nullptr && fn->IsObject() ? member(*fn, "name") : nullptr;
    if (!is_string(member(tool, "type"), "function") || name == nullptr || !name->IsString()) {
      return bad_request(
          "Each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}.", "tools");
    }
    Value function(rapidjson::kObjectType);
    for (const char* key : {"name", "description", "parameters"}) {
      const Value* v = member(*fn, key);
      function.AddMember(rapidjson::StringRef(key), v ? Value(*v, a) : Value(), a);
    }
    Value entry(rapidjson::kObjectType);
    entry.AddMember("type", "function", a);
    entry.AddMember("function", function, a);
    doc.PushBack(entry, a);
  }
  out.tools_json = to_json(doc);
  return std::nullopt;
}

void set_member(Value& object, const Value& key, const Value& value, allocator& a) {
  if (auto it = object.FindMember(key); it != object.MemberEnd()) {
    it->value.CopyFrom(value, a);
  } else {
    object.AddMember(Value(key, a), Value(value, a), a);
  }
}

// vLLM's reasoning_effort: the template variable of that name (over chat_template_kwargs'), and
// enable_thinking (effort other than "none") unless chat_template_kwargs sets it.
parse_error read_reasoning_effort(const Value& body, Document& extra) {
  const Value* effort = member(body, "reasoning_effort");
  if (effort == nullptr) return std::nullopt;
  static constexpr std::string_view efforts[] = {"none", "minimal", "low", "medium",
                                                 "high", "xhigh",   "max"};
  if (!effort->IsString() ||
      std::find(std::begin(efforts), std::end(efforts), view(*effort)) == std::end(efforts)) {
    return bad_request(
        "`reasoning_effort` must be \"none\", \"minimal\", \"low\", \"medium\", \"high\", "
        "\"xhigh\" or \"max\".",
        "reasoning_effort");
  }
  allocator& a = extra.GetAllocator();
  set_member(extra, Value("reasoning_effort"), *effort, a);
  const Value* kwargs = member(body, "chat_template_kwargs");
  if (kwargs == nullptr || !kwargs->HasMember("enable_thinking"))
    set_member(extra, Value("enable_thinking"), Value(view(*effort) != "none"), a);
  return std::nullopt;
}

// documents and chat_template_kwargs as template variables.
parse_error read_extra_context(const Value& body, chat_inputs& out) {
  Document extra(rapidjson::kObjectType);
  allocator& a = extra.GetAllocator();
  if (const Value* docs = member(body, "documents")) {
    if (!docs->IsArray()) return type_error("documents", "a list of objects");
    set_member(extra, Value("documents"), *docs, a);
  }
  if (const Value* kwargs = member(body, "chat_template_kwargs")) {
    if (!kwargs->IsObject()) return type_error("chat_template_kwargs", "an object");
    for (const auto& m : kwargs->GetObject()) {
      std::string_view key = view(m.name);
      if (key == "chat_template") {
        return bad_request("`chat_template_kwargs.chat_template` is not allowed.",
                           "chat_template_kwargs");
      }
      if (key == "add_generation_prompt" && m.value.IsBool()) {
        out.chat.add_generation_prompt = m.value.GetBool();
      } else if (key == "continue_final_message" && m.value.IsBool()) {
        out.continue_final_message = m.value.GetBool();
      } else if (key == "tools" && m.value.IsArray()) {
        out.chat.tools_json = to_json(m.value);
      } else {
        set_member(extra, m.name, m.value, a);
      }
    }
  }
  if (auto e = read_reasoning_effort(body, extra)) return e;
  out.chat.extra_context_json = extra.MemberCount() == 0 ? "" : to_json(extra);
  return std::nullopt;
}

}  // namespace

parse_error read_chat_inputs(const Value& body, chat_inputs& out) {
  if (const Value* tpl = member(body, "chat_template"); tpl != nullptr && !tpl->IsNull()) {
    if (!tpl->IsString()) return type_error("chat_template", "a string");
    out.chat_template.emplace(tpl->GetString(), tpl->GetStringLength());
  }
  out.chat.add_generation_prompt = true;
  if (auto e = read_bool(body, "add_generation_prompt", out.chat.add_generation_prompt)) return e;
  if (auto e = read_bool(body, "continue_final_message", out.continue_final_message)) return e;
  if (out.continue_final_message && out.chat.add_generation_prompt) {
    return bad_request(
        "Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
        "continue_final_message");
  }
  parse_error error = read_messages(body, out.chat);
  if (!error) error = read_tools(body, out.chat);
  if (!error) error = read_extra_context(body, out);
  return error;
}

}  // namespace troupe::http
