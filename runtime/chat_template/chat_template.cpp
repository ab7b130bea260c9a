#include "runtime/chat_template/chat_template.hpp"

#include <rapidjson/document.h>

#include "runtime/chat_template/lexer.hpp"
#include "runtime/chat_template/parser.hpp"
#include "runtime/chat_template/renderer.hpp"

namespace troupe::runtime {

struct chat_template::program {
  jinja::stmt_list body;
};

namespace {

using jinja::value;

// JSON nested deeper than this is rejected (rendering walks values recursively).
constexpr int max_json_depth = 128;

value from_json(const rapidjson::Value& j, int depth, bool& too_deep) {
  if (depth > max_json_depth) {
    too_deep = true;
    return value(jinja::none_t{});
  }
  if (j.IsNull()) return value(jinja::none_t{});
  if (j.IsBool()) return value(j.GetBool());
  if (j.IsInt64()) return value(static_cast<int64_t>(j.GetInt64()));
  if (j.IsNumber()) return value(j.GetDouble());
  if (j.IsString()) return value(std::string(j.GetString(), j.GetStringLength()));
  if (j.IsArray()) {
    jinja::value_list l;
    for (const auto& e : j.GetArray())
      l.push_back(from_json(e, depth + 1, too_deep));
    return value(std::move(l));
  }
  auto o = std::make_shared<jinja::value_object>();
  for (const auto& m : j.GetObject()) {
    o->set(std::string(m.name.GetString(), m.name.GetStringLength()),
           from_json(m.value, depth + 1, too_deep));
  }
  return value(o);
}

result<value> parse_json(const std::string& text, const char* what) {
  rapidjson::Document d;
  // Iterative parsing: deeply nested input must not exhaust the stack.
  d.Parse<rapidjson::kParseIterativeFlag>(text.c_str(), text.size());
  if (d.HasParseError()) return error{std::string("invalid JSON in ") + what};
  bool too_deep = false;
  value v = from_json(d, 0, too_deep);
  if (too_deep) return error{std::string("JSON nested too deeply in ") + what};
  return v;
}

result<jinja::value_object> make_context(const chat_request& req) {
  jinja::value_object ctx;
  auto messages = parse_json(req.messages_json, "messages");
  if (!messages) return messages.err();
  if (!messages->is_list()) return error{"messages must be a JSON array"};
  ctx.set("messages", *messages);
  ctx.set("add_generation_prompt", value(req.add_generation_prompt));
  value tools(jinja::none_t{});
  if (req.tools_json) {
    auto t = parse_json(*req.tools_json, "tools");
    if (!t) return t.err();
    tools = *t;
  }
  ctx.set("tools", tools);
  ctx.set("documents", value(jinja::none_t{}));
  for (const auto& [name, text] : req.special_tokens) {
    if (!text.empty() && text[0] == '[') {
      auto list = parse_json(text, "special tokens");
      if (!list) return list.err();
      ctx.set(name, *list);
    } else {
      ctx.set(name, value(text));
    }
  }
  if (!req.extra_context_json.empty()) {
    auto extra = parse_json(req.extra_context_json, "extra context");
    if (!extra) return extra.err();
    if (!extra->is_object()) return error{"extra context must be a JSON object"};
    for (const auto& [k, v] : extra->as_object().items)
      ctx.set(k, v);
  }
  return ctx;
}

}  // namespace

chat_template::chat_template(std::string source, std::shared_ptr<const program> p)
    : source_(std::move(source)), program_(std::move(p)) {}

result<chat_template> chat_template::parse(std::string source) {
  auto tokens = jinja::tokenize(source);
  if (!tokens) return tokens.err();
  auto body = jinja::parse_template(*tokens);
  if (!body) return body.err();
  auto p = std::make_shared<program>();
  p->body = std::move(body).value();
  return chat_template(std::move(source), std::move(p));
}

result<std::string> chat_template::render(const chat_request& request) const {
  auto ctx = make_context(request);
  if (!ctx) return ctx.err();
  try {
    jinja::renderer r(program_->body, *ctx);
    return r.run();
  } catch (const jinja::raised_error& e) {
    return error{e.what()};
  } catch (const jinja::template_error& e) {
    return error{e.what()};
  } catch (const std::exception& e) {  // e.g. bad_alloc, out_of_range from a bad number
    return error{std::string("template error: ") + e.what()};
  }
}

result<std::string> chat_template_from_tokenizer_config(const std::string& json_text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseDefaultFlags>(json_text.c_str(), json_text.size());
  if (d.HasParseError() || !d.IsObject()) return error{"tokenizer config is not a JSON object"};
  auto it = d.FindMember("chat_template");
  if (it == d.MemberEnd() || it->value.IsNull())
    return error{"tokenizer config has no chat_template"};
  const auto& t = it->value;
  if (t.IsString()) return std::string(t.GetString(), t.GetStringLength());
  if (t.IsArray()) {
    for (const auto& entry : t.GetArray()) {
      if (!entry.IsObject()) continue;
      auto name = entry.FindMember("name");
      auto tmpl = entry.FindMember("template");
      if (name != entry.MemberEnd() && tmpl != entry.MemberEnd() && name->value.IsString() &&
          tmpl->value.IsString() && std::string(name->value.GetString()) == "default") {
        return std::string(tmpl->value.GetString(), tmpl->value.GetStringLength());
      }
    }
    return error{"tokenizer config's chat_template list has no \"default\" entry"};
  }
  return error{"tokenizer config's chat_template is neither a string nor a list"};
}

}  // namespace troupe::runtime
