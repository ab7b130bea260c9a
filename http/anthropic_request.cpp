#include "http/anthropic_request.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/anthropic_checks.hpp"
#include "http/json_write.hpp"
#include "http/pydantic_checks.hpp"
#include "http/request_fields.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;
using allocator = Document::AllocatorType;

constexpr std::string_view billing_header = "x-anthropic-billing-header";

// -- the translation (vLLM's AnthropicServingMessages.to_chat_completion_request) -----------

// The text of a system message's blocks (a string as it is), billing headers left out.
std::optional<std::string> system_text(const Value& content) {
  if (content.IsString()) {
    if (view(content).starts_with(billing_header)) return std::nullopt;
    return std::string(view(content));
  }
  std::string text;
  bool any = false;
  for (const Value& block : content.GetArray()) {
    const Value* t = member(block, "text");
    if (view(*member(block, "type")) != "text" || t == nullptr || t->GetStringLength() == 0)
      continue;
    if (view(*t).starts_with(billing_header)) continue;
    text += view(*t);
    any = true;
  }
  if (!any) return std::nullopt;
  return text;
}

// The tool result's text: a string as it is, a list's text blocks joined with "\n".
std::string tool_result_text(const Value& block) {
  const Value* content = member(block, "content");
  if (content == nullptr) return {};
  if (content->IsString()) return std::string(view(*content));
  std::string text;
  bool first = true;
  for (const Value& item : content->GetArray()) {
    const Value* type = item.IsObject() ? member(item, "type") : nullptr;
    if (type == nullptr || !type->IsString() || view(*type) != "text") continue;
    const Value* t = member(item, "text");
    if (!first) text += '\n';
    first = false;
    if (t != nullptr && t->IsString()) text += view(*t);
  }
  return text;
}

// An image block's source as vLLM makes it a URL: the url of a "url" source, else a data URI
// (none: an empty one).
std::string image_url(const Value* source) {
  if (source == nullptr || !source->IsObject()) return "data:image/jpeg;base64,";
  const Value* type = member(*source, "type");
  if (type != nullptr && type->IsString() && view(*type) == "url") {
    const Value* url = member(*source, "url");
    return url != nullptr && url->IsString() ? std::string(view(*url)) : std::string();
  }
  const Value* media = member(*source, "media_type");
  const Value* data = member(*source, "data");
  return fmt::format("data:{};base64,{}",
                     media != nullptr && media->IsString() ? view(*media) : "image/jpeg",
                     data != nullptr && data->IsString() ? view(*data) : "");
}

class chat_builder {
 public:
  chat_builder(const Value& body, const anthropic_template_traits& traits)
      : body_(body), traits_(traits), messages_(rapidjson::kArrayType) {}

  // The chat body, or vLLM's refusal of a tool change naming an undeclared tool.
  std::variant<std::string, api_error> build(anthropic_endpoint endpoint);

 private:
  void add_system();
  void add_message(const Value& message);
  void add_block(const Value& block, std::string_view role, Value& parts, Value& calls,
                 std::string& reasoning);
  void add_tool_result(const Value& block);
  void add_sampling(Document& chat);
  void add_output_and_thinking(Document& chat);
  // The tools in effect at the end of the conversation: `tools`, then the system messages'
  // tool_addition / tool_removal blocks in order (`declared`: either came). Refuses a change
  // naming an undeclared tool, as vLLM does.
  parse_error resolve_tools(std::vector<std::pair<std::string, Value>>& tools, bool& declared);
  // tool_choice and tools; refuses a named tool that is not among the tools.
  parse_error add_tools(Document& chat);
  void set(Document& chat, const char* key, const Value& value) {
    chat.AddMember(rapidjson::StringRef(key), Value(value, a()), a());
  }
  allocator& a() { return doc_.GetAllocator(); }

  const Value& body_;
  const anthropic_template_traits& traits_;
  Document doc_{rapidjson::kObjectType};
  Value messages_;
};

void chat_builder::add_system() {
  std::string text;
  if (const Value* system = member(body_, "system")) {
    if (system->IsString()) {
      text = view(*system);
    } else if (auto blocks = system_text(*system)) {
      text = *blocks;
    }
  }
  if (traits_.merge_inline_system) {
    for (const Value& message : member(body_, "messages")->GetArray()) {
      if (view(*member(message, "role")) != "system") continue;
      if (auto inline_text = system_text(*member(message, "content"))) text += *inline_text;
    }
  }
  if (text.empty()) return;
  Value message(rapidjson::kObjectType);
  message.AddMember("role", "system", a());
  message.AddMember("content", string_value(text, a()), a());
  messages_.PushBack(message, a());
}

void chat_builder::add_message(const Value& message) {
  std::string_view role = view(*member(message, "role"));
  const Value& content = *member(message, "content");
  if (role == "system") {
    if (traits_.merge_inline_system) return;
    if (auto text = system_text(content)) {
      Value system(rapidjson::kObjectType);
      system.AddMember("role", "system", a());
      system.AddMember("content", string_value(*text, a()), a());
      messages_.PushBack(system, a());
    }
    return;
  }
  Value out(rapidjson::kObjectType);
  out.AddMember("role", string_value(role, a()), a());
  if (content.IsString()) {
    out.AddMember("content", Value(content, a()), a());
    messages_.PushBack(out, a());
    return;
  }
  Value parts(rapidjson::kArrayType);
  Value calls(rapidjson::kArrayType);
  std::string reasoning;
  bool has_reasoning = false;
  for (const Value& block : content.GetArray()) {
    has_reasoning = has_reasoning || (view(*member(block, "type")) == "thinking" &&
                                      member(block, "thinking") != nullptr);
    add_block(block, role, parts, calls, reasoning);
  }
  if (has_reasoning) out.AddMember("reasoning", string_value(reasoning, a()), a());
  if (!calls.Empty()) out.AddMember("tool_calls", calls, a());
  if (parts.Size() == 1 && view(*member(parts[0], "type")) == "text") {
    out.AddMember("content", Value(parts[0]["text"], a()), a());
  } else if (!parts.Empty()) {
    out.AddMember("content", parts, a());
  }
  // A user turn of tool results only has become the "tool" messages alone.
  if (role == "user" && !out.HasMember("content")) return;
  messages_.PushBack(out, a());
}

void chat_builder::add_block(const Value& block, std::string_view role, Value& parts, Value& calls,
                             std::string& reasoning) {
  std::string_view type = view(*member(block, "type"));
  if (type == "text") {
    const Value* text = member(block, "text");
    if (text == nullptr || text->GetStringLength() == 0) return;
    Value part(rapidjson::kObjectType);
    part.AddMember("type", "text", a());
    part.AddMember("text", Value(*text, a()), a());
    parts.PushBack(part, a());
  } else if (type == "image") {
    const Value* source = member(block, "source");
    if (source == nullptr) return;
    Value url(rapidjson::kObjectType);
    url.AddMember("url", string_value(image_url(source), a()), a());
    Value part(rapidjson::kObjectType);
    part.AddMember("type", "image_url", a());
    part.AddMember("image_url", url, a());
    parts.PushBack(part, a());
  } else if (type == "thinking") {
    if (const Value* thinking = member(block, "thinking")) reasoning += view(*thinking);
  } else if (type == "tool_use") {
    const Value* id = member(block, "id");
    const Value* name = member(block, "name");
    const Value* input = member(block, "input");
    using namespace std::chrono;
    const auto now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
    Value function(rapidjson::kObjectType);
    function.AddMember("name", name != nullptr ? Value(*name, a()) : Value("", a()), a());
    function.AddMember("arguments",
                       string_value(input != nullptr ? to_json(*input) : std::string("{}"), a()),
                       a());
    Value call(rapidjson::kObjectType);
    call.AddMember("id",
                   id != nullptr && id->GetStringLength() > 0
                       ? Value(*id, a())
                       : string_value(fmt::format("call_{}", now), a()),
                   a());
    call.AddMember("type", "function", a());
    call.AddMember("function", function, a());
    calls.PushBack(call, a());
  } else if (type == "tool_result") {
    if (role == "user") return add_tool_result(block);
    Value part(rapidjson::kObjectType);
    part.AddMember("type", "text", a());
    part.AddMember("text", string_value("Tool result: " + tool_result_text(block), a()), a());
    parts.PushBack(part, a());
  }
  // redacted_thinking (opaque), tool_reference, tool_addition and tool_removal add nothing here.
}

void chat_builder::add_tool_result(const Value& block) {
  const Value* id = member(block, "tool_use_id");
  Value tool(rapidjson::kObjectType);
  tool.AddMember("role", "tool", a());
  tool.AddMember("tool_call_id", id != nullptr ? Value(*id, a()) : Value("", a()), a());
  tool.AddMember("content", string_value(tool_result_text(block), a()), a());
  messages_.PushBack(tool, a());
  // Images of a result follow as a user turn of image parts (refused later: text-only models).
  const Value* content = member(block, "content");
  if (content == nullptr || !content->IsArray()) return;
  Value images(rapidjson::kArrayType);
  for (const Value& item : content->GetArray()) {
    const Value* type = item.IsObject() ? member(item, "type") : nullptr;
    if (type == nullptr || !type->IsString() || view(*type) != "image") continue;
    Value url(rapidjson::kObjectType);
    url.AddMember("url", string_value(image_url(member(item, "source")), a()), a());
    Value part(rapidjson::kObjectType);
    part.AddMember("type", "image_url", a());
    part.AddMember("image_url", url, a());
    images.PushBack(part, a());
  }
  if (images.Empty()) return;
  Value user(rapidjson::kObjectType);
  user.AddMember("role", "user", a());
  user.AddMember("content", images, a());
  messages_.PushBack(user, a());
}

void chat_builder::add_sampling(Document& chat) {
  const Value& max_tokens = *member(body_, "max_tokens");
  set(chat, "max_tokens", max_tokens);
  set(chat, "max_completion_tokens", max_tokens);
  if (const Value* stop = member(body_, "stop_sequences")) set(chat, "stop", *stop);
  for (const char* key : {"temperature", "top_p", "top_k", "cache_salt", "vllm_xargs"}) {
    if (const Value* v = member(body_, key)) set(chat, key, *v);
  }
  if (const Value* stream = member(body_, "stream"); stream != nullptr && stream->GetBool()) {
    chat.AddMember("stream", true, a());
    Value options(rapidjson::kObjectType);
    options.AddMember("include_usage", true, a());
    options.AddMember("continuous_usage_stats", true, a());
    chat.AddMember("stream_options", options, a());
  }
}

void chat_builder::add_output_and_thinking(Document& chat) {
  std::optional<std::string> effort;
  if (const Value* config = member(body_, "output_config")) {
    const Value* format = member(*config, "format");
    if (const Value* schema = format != nullptr ? member(*format, "schema") : nullptr;
        schema != nullptr && schema->MemberCount() > 0) {
      Value json_schema(rapidjson::kObjectType);
      json_schema.AddMember("schema", Value(*schema, a()), a());
      json_schema.AddMember("name", "json_schema", a());
      Value response_format(rapidjson::kObjectType);
      response_format.AddMember("type", "json_schema", a());
      response_format.AddMember("json_schema", json_schema, a());
      chat.AddMember("response_format", response_format, a());
    }
    if (const Value* e = member(*config, "effort")) effort = view(*e);
  }
  if (const Value* thinking = member(body_, "thinking")) {
    std::string_view type = view(*member(*thinking, "type"));
    if (type == "disabled") effort = traits_.disabled_thinking_effort;
    if (type == "enabled") set(chat, "thinking_token_budget", *member(*thinking, "budget_tokens"));
  }
  if (effort) chat.AddMember("reasoning_effort", string_value(*effort, a()), a());
}

parse_error chat_builder::resolve_tools(std::vector<std::pair<std::string, Value>>& tools,
                                        bool& declared) {
  const Value* list = member(body_, "tools");
  declared = list != nullptr;
  auto find = [&](std::string_view name) {
    return std::find_if(tools.begin(), tools.end(), [&](const auto& t) { return t.first == name; });
  };
  if (list != nullptr) {
    for (const Value& tool : list->GetArray())
      tools.emplace_back(std::string(view(*member(tool, "name"))), Value(tool, a()));
  }
  std::set<std::string> removed;
  for (const Value& message : member(body_, "messages")->GetArray()) {
    const Value& content = *member(message, "content");
    if (content.IsString()) continue;
    for (const Value& block : content.GetArray()) {
      std::string_view type = view(*member(block, "type"));
      if (type != "tool_addition" && type != "tool_removal") continue;
      declared = true;
      const Value& change = *member(block, "tool");
      std::string name;
      if (view(*member(change, "type")) == "tool_definition") {
        const Value& definition = *member(change, "definition");
        name = view(*member(definition, "name"));
        if (auto it = find(name); it != tools.end()) {
          it->second.CopyFrom(definition, a());
        } else {
          tools.emplace_back(name, Value(definition, a()));
        }
      } else {
        name = view(*member(change, "name"));
        auto it = find(name);
        if (it == tools.end()) {
          return bad_request(
              fmt::format("{} references tool '{}', which is not declared in tools", type, name));
        }
        if (type == "tool_addition") it->second.RemoveMember("defer_loading");
      }
      if (type == "tool_removal") {
        removed.insert(name);
      } else {
        removed.erase(name);
      }
    }
  }
  std::erase_if(tools, [&](const auto& t) { return removed.contains(t.first); });
  return std::nullopt;
}

parse_error chat_builder::add_tools(Document& chat) {
  std::vector<std::pair<std::string, Value>> tools;
  bool declared = false;
  if (auto e = resolve_tools(tools, declared)) return e;
  // vLLM sets the choice after the chat request's checks: a choice without tools is dropped (a
  // plain answer), a named tool that is not there refused by the tool-call grammar.
  const Value* tool_choice = member(body_, "tool_choice");
  if (tool_choice != nullptr && view(*member(*tool_choice, "type")) == "tool") {
    std::string_view name = view(*member(*tool_choice, "name"));
    if (std::none_of(tools.begin(), tools.end(), [&](const auto& t) { return t.first == name; }))
      return bad_request(
          fmt::format("The tool with name '{}' is not found in the tools list.", name));
  }
  if (!declared) return std::nullopt;
  if (tool_choice != nullptr) {
    const Value* no_parallel = member(*tool_choice, "disable_parallel_tool_use");
    chat.AddMember("parallel_tool_calls", no_parallel == nullptr || !no_parallel->GetBool(), a());
    std::string_view type = view(*member(*tool_choice, "type"));
    if (type == "tool") {
      Value function(rapidjson::kObjectType);
      function.AddMember("name", Value(*member(*tool_choice, "name"), a()), a());
      Value named(rapidjson::kObjectType);
      named.AddMember("type", "function", a());
      named.AddMember("function", function, a());
      chat.AddMember("tool_choice", named, a());
    } else {
      chat.AddMember("tool_choice", string_value(type == "any" ? "required" : type, a()), a());
    }
  } else {
    chat.AddMember("tool_choice", "auto", a());
  }
  Value functions(rapidjson::kArrayType);
  for (auto& [name, tool] : tools) {
    Value function(rapidjson::kObjectType);
    function.AddMember("name", Value(*member(tool, "name"), a()), a());
    for (const char* key : {"description", "strict", "defer_loading"}) {
      if (const Value* v = member(tool, key))
        function.AddMember(rapidjson::StringRef(key), Value(*v, a()), a());
    }
    Value parameters(*member(tool, "input_schema"), a());
    if (!parameters.HasMember("type")) parameters.AddMember("type", "object", a());
    function.AddMember("parameters", parameters, a());
    Value entry(rapidjson::kObjectType);
    entry.AddMember("type", "function", a());
    entry.AddMember("function", function, a());
    functions.PushBack(entry, a());
  }
  chat.AddMember("tools", functions, a());
  return std::nullopt;
}

std::variant<std::string, api_error> chat_builder::build(anthropic_endpoint endpoint) {
  Document chat(rapidjson::kObjectType, &a());
  set(chat, "model", *member(body_, "model"));
  add_system();
  for (const Value& message : member(body_, "messages")->GetArray())
    add_message(message);
  chat.AddMember("messages", messages_, a());
  if (const Value* kwargs = member(body_, "chat_template_kwargs"))
    set(chat, "chat_template_kwargs", *kwargs);
  if (endpoint == anthropic_endpoint::messages) add_sampling(chat);
  add_output_and_thinking(chat);
  if (auto e = add_tools(chat)) return std::move(*e);
  return to_json(chat);
}

// The prompt of a one-message conversation under `effort` (vLLM's probe), or none when the
// template refuses it.
std::optional<std::string> probe_prompt(const chat_template_setup& setup, std::string_view effort) {
  runtime::chat_request request;
  request.messages_json = R"([{"role": "user", "content": "Hi"}])";
  request.add_generation_prompt = true;
  request.extra_context_json = fmt::format(R"({{"reasoning_effort": "{}", "enable_thinking": {}}})",
                                           effort, effort != "none");
  request.special_tokens = setup.special_tokens;
  auto prompt = setup.tpl->render(request);
  if (!prompt) return std::nullopt;
  return std::move(*prompt);
}

}  // namespace

anthropic_template_traits probe_anthropic_traits(const chat_template_setup* setup,
                                                 std::string_view disabled_effort_flag) {
  anthropic_template_traits traits;
  const bool has_template = setup != nullptr && setup->tpl.has_value();
  if (has_template) {
    runtime::chat_request request;
    request.messages_json =
        R"([{"role": "system", "content": "t"}, {"role": "user", "content": "t"},)"
        R"( {"role": "system", "content": "t"}, {"role": "user", "content": "t"}])";
    request.special_tokens = setup->special_tokens;
    traits.merge_inline_system = !setup->tpl->render(request);
  } else {
    traits.merge_inline_system = true;
  }
  if (disabled_effort_flag != "auto") {
    traits.disabled_thinking_effort = disabled_effort_flag;
    return traits;
  }
  traits.disabled_thinking_effort = "low";
  if (!has_template) return traits;
  const std::optional<std::string> none = probe_prompt(*setup, "none");
  if (!none) return traits;
  for (std::string_view effort : anthropic_efforts) {
    if (probe_prompt(*setup, effort) == none) return traits;
  }
  traits.disabled_thinking_effort = "none";
  return traits;
}

std::variant<anthropic_chat_request, pydantic_error> translate_anthropic_request(
    std::string_view body, std::string_view content_type, anthropic_endpoint endpoint,
    const anthropic_template_traits& traits) {
  Document doc;
  if (auto e = read_pydantic_body(body, content_type, doc)) return std::move(*e);
  if (auto e = check_anthropic_body(doc, endpoint)) return pydantic_refusal(*e);
  chat_builder builder(doc, traits);
  auto chat = builder.build(endpoint);
  if (auto* refusal = std::get_if<api_error>(&chat)) return anthropic_chat_request{{}, *refusal};
  return anthropic_chat_request{std::move(std::get<std::string>(chat)), std::nullopt};
}

std::string anthropic_error_json(const api_error& error) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "type");
  write_string(w, "error");
  write_key(w, "error");
  w.StartObject();
  write_key(w, "type");
  write_string(w, error_type(error.status));
  write_key(w, "message");
  write_string(w, error.message);
  w.EndObject();
  w.EndObject();
  return out.GetString();
}

}  // namespace troupe::http
