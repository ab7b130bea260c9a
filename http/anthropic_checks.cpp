#include "http/anthropic_checks.hpp"

#include <array>
#include <string>

#include <fmt/format.h>

#include "http/pydantic_checks.hpp"

namespace troupe::http {
namespace {

constexpr std::array<std::string_view, 9> block_types = {
    "text",           "image",    "tool_use",          "tool_result",
    "tool_reference", "thinking", "redacted_thinking", "tool_addition",
    "tool_removal"};

parse_error check_tool(const Value& tool, const std::string& loc) {
  if (!tool.IsObject()) return invalid(loc, "Input should be a valid dictionary");
  if (auto e = check_string(tool, "name", loc, /*required=*/true)) return e;
  if (auto e = check_string(tool, "description", loc)) return e;
  const Value* schema = member(tool, "input_schema");
  if (schema == nullptr) return invalid(at(loc, "input_schema"), "Field required");
  if (!schema->IsObject())
    return invalid(at(loc, "input_schema"), "Input should be a valid dictionary");
  if (auto e = check_kind(tool, "strict", loc, &Value::IsBool, "boolean")) return e;
  return check_kind(tool, "defer_loading", loc, &Value::IsBool, "boolean");
}

// A tool_addition / tool_removal block's `tool`.
parse_error check_tool_change(const Value& block, std::string_view type, const std::string& loc) {
  const Value* tool = member(block, "tool");
  if (tool == nullptr || !tool->IsObject()) {
    return invalid(loc, fmt::format("Value error, tool is required for {} blocks", type));
  }
  const std::string tool_loc = at(loc, "tool");
  static constexpr std::array<std::string_view, 2> kinds = {"tool_reference", "tool_definition"};
  if (auto e = check_literal(member(*tool, "type"), kinds, at(tool_loc, "type"))) return e;
  if (view(*member(*tool, "type")) == "tool_reference")
    return check_string(*tool, "name", tool_loc, /*required=*/true);
  if (type == "tool_removal")
    return invalid(loc, "Value error, tool_removal only accepts a tool_reference");
  const Value* definition = member(*tool, "definition");
  if (definition == nullptr) return invalid(at(tool_loc, "definition"), "Field required");
  return check_tool(*definition, at(tool_loc, "definition"));
}

parse_error check_block(const Value& block, const std::string& loc) {
  if (!block.IsObject()) return invalid(loc, "Input should be a valid dictionary");
  if (auto e = check_literal(member(block, "type"), block_types, at(loc, "type"))) return e;
  for (const char* text_key : {"text", "id", "tool_use_id", "name", "thinking", "signature"}) {
    if (auto e = check_string(block, text_key, loc)) return e;
  }
  if (auto e = check_kind(block, "input", loc, &Value::IsObject, "dictionary")) return e;
  if (auto e = check_kind(block, "source", loc, &Value::IsObject, "dictionary")) return e;
  if (const Value* content = member(block, "content");
      content != nullptr && !content->IsString() && !content->IsArray()) {
    return invalid(at(loc, "content"), "Input should be a valid string or list");
  }
  std::string_view kind = view(*member(block, "type"));
  if (kind == "tool_addition" || kind == "tool_removal") return check_tool_change(block, kind, loc);
  return std::nullopt;
}

// A tool_addition / tool_removal block outside a system message: the refusal at `loc` (the
// message's, as vLLM's message validator reports it).
parse_error check_tool_changes_in_system(const Value& content, bool system_role,
                                         const std::string& loc) {
  if (system_role || content.IsString()) return std::nullopt;
  for (const Value& block : content.GetArray()) {
    std::string_view kind = view(*member(block, "type"));
    if (kind == "tool_addition" || kind == "tool_removal") {
      return invalid(loc, fmt::format("Value error, {} blocks are only allowed in messages with "
                                      "role \"system\"",
                                      kind));
    }
  }
  return std::nullopt;
}

// A message's or the system field's content: a string or a list of blocks.
parse_error check_content(const Value& content, const std::string& loc) {
  if (content.IsString()) return std::nullopt;
  if (!content.IsArray()) return invalid(loc, "Input should be a valid string or list");
  for (rapidjson::SizeType i = 0; i < content.Size(); ++i) {
    // pydantic reports a bad block at the content (the union of a string and a list).
    if (auto e = check_block(content[i], at(loc, i))) {
      if (e->param == at(at(loc, i), "type")) e->param = loc;
      return e;
    }
  }
  return std::nullopt;
}

parse_error check_messages(const Value& body) {
  const Value* messages = member(body, "messages");
  if (messages == nullptr) return invalid("messages", "Field required");
  if (!messages->IsArray()) return invalid("messages", "Input should be a valid list");
  static constexpr std::array<std::string_view, 3> roles = {"user", "assistant", "system"};
  for (rapidjson::SizeType i = 0; i < messages->Size(); ++i) {
    const Value& message = (*messages)[i];
    const std::string loc = at("messages", i);
    if (!message.IsObject()) return invalid(loc, "Input should be a valid dictionary");
    if (auto e = check_literal(member(message, "role"), roles, at(loc, "role"))) return e;
    const Value* content = member(message, "content");
    if (content == nullptr) return invalid(at(loc, "content"), "Field required");
    if (auto e = check_content(*content, at(loc, "content"))) return e;
    if (auto e =
            check_tool_changes_in_system(*content, view(*member(message, "role")) == "system", loc))
      return e;
  }
  return std::nullopt;
}

parse_error check_tool_choice(const Value& body) {
  const Value* choice = member(body, "tool_choice");
  if (choice == nullptr) return std::nullopt;
  if (!choice->IsObject()) return invalid("tool_choice", "Input should be a valid dictionary");
  static constexpr std::array<std::string_view, 4> types = {"auto", "any", "tool", "none"};
  if (auto e = check_literal(member(*choice, "type"), types, "tool_choice.type")) return e;
  if (auto e = check_string(*choice, "name", "tool_choice")) return e;
  const Value* name = member(*choice, "name");
  if (view(*member(*choice, "type")) == "tool" && (name == nullptr || name->GetStringLength() == 0))
    return invalid("tool_choice", "Value error, tool_choice.name is required when type is 'tool'");
  return check_kind(*choice, "disable_parallel_tool_use", "tool_choice", &Value::IsBool, "boolean");
}

parse_error check_thinking(const Value& body, std::optional<int64_t> max_tokens) {
  const Value* thinking = member(body, "thinking");
  if (thinking == nullptr) return std::nullopt;
  if (!thinking->IsObject()) return invalid("thinking", "Input should be a valid dictionary");
  static constexpr std::array<std::string_view, 3> types = {"enabled", "disabled", "adaptive"};
  if (!is_one_of(member(*thinking, "type"), types)) {
    return invalid("thinking",
                   "Input tag does not match any of the expected tags: 'enabled', 'disabled', "
                   "'adaptive'");
  }
  if (view(*member(*thinking, "type")) != "enabled") return std::nullopt;
  const Value* budget = member(*thinking, "budget_tokens");
  const std::string loc = "thinking.enabled.budget_tokens";
  if (budget == nullptr) return invalid(loc, "Field required");
  std::optional<int64_t> tokens = as_integer(*budget);
  if (!tokens) return invalid(loc, "Input should be a valid integer");
  if (*tokens < 1024) return invalid(loc, "Input should be greater than or equal to 1024");
  if (max_tokens && *tokens >= *max_tokens)
    return invalid("", "Value error, thinking.budget_tokens must be less than max_tokens");
  return std::nullopt;
}

parse_error check_output_config(const Value& body) {
  const Value* config = member(body, "output_config");
  if (config == nullptr) return std::nullopt;
  if (!config->IsObject()) return invalid("output_config", "Input should be a valid dictionary");
  if (const Value* effort = member(*config, "effort")) {
    if (auto e = check_literal(effort, anthropic_efforts, "output_config.effort")) return e;
  }
  const Value* format = member(*config, "format");
  if (format == nullptr) return std::nullopt;
  if (!format->IsObject())
    return invalid("output_config.format", "Input should be a valid dictionary");
  static constexpr std::array<std::string_view, 1> types = {"json_schema"};
  if (const Value* type = member(*format, "type")) {
    if (auto e = check_literal(type, types, "output_config.format.type")) return e;
  }
  return check_kind(*format, "schema", "output_config.format", &Value::IsObject, "dictionary");
}

parse_error check_sampling(const Value& body) {
  const Value* max = member(body, "max_tokens");
  if (max == nullptr) return invalid("max_tokens", "Field required");
  if (!as_integer(*max)) return invalid("max_tokens", "Input should be a valid integer");
  if (*as_integer(*max) <= 0)
    return invalid("max_tokens", "Value error, max_tokens must be positive");
  if (const Value* stop = member(body, "stop_sequences")) {
    if (!stop->IsArray()) return invalid("stop_sequences", "Input should be a valid list");
    for (rapidjson::SizeType i = 0; i < stop->Size(); ++i) {
      if (!(*stop)[i].IsString())
        return invalid(at("stop_sequences", i), "Input should be a valid string");
    }
  }
  if (auto e = check_kind(body, "stream", "", &Value::IsBool, "boolean")) return e;
  if (auto e = check_kind(body, "metadata", "", &Value::IsObject, "dictionary")) return e;
  for (const char* key : {"temperature", "top_p"}) {
    if (auto e = check_kind(body, key, "", &Value::IsNumber, "number")) return e;
  }
  if (const Value* top_k = member(body, "top_k"); top_k != nullptr && !as_integer(*top_k))
    return invalid("top_k", "Input should be a valid integer");
  if (const Value* salt = member(body, "cache_salt")) {
    if (!salt->IsString()) return invalid("cache_salt", "Input should be a valid string");
    if (salt->GetStringLength() == 0)
      return invalid("cache_salt", "String should have at least 1 character");
  }
  return std::nullopt;
}

}  // namespace

parse_error check_anthropic_body(const Value& body, anthropic_endpoint endpoint) {
  const Value* model = member(body, "model");
  if (model == nullptr) return invalid("model", "Field required");
  if (!model->IsString()) return invalid("model", "Input should be a valid string");
  if (model->GetStringLength() == 0) return invalid("model", "Value error, Model is required");
  if (auto e = check_messages(body)) return e;
  std::optional<int64_t> max_tokens;
  if (endpoint == anthropic_endpoint::messages) {
    if (auto e = check_sampling(body)) return e;
    max_tokens = as_integer(*member(body, "max_tokens"));
  }
  if (const Value* system = member(body, "system")) {
    if (auto e = check_content(*system, "system")) return e;
  }
  if (const Value* tools = member(body, "tools")) {
    if (!tools->IsArray()) return invalid("tools", "Input should be a valid list");
    for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
      if (auto e = check_tool((*tools)[i], at("tools", i))) return e;
    }
  }
  if (auto e = check_tool_choice(body)) return e;
  if (auto e = check_thinking(body, max_tokens)) return e;
  if (auto e = check_output_config(body)) return e;
  return check_kind(body, "chat_template_kwargs", "", &Value::IsObject, "dictionary");
}

}  // namespace troupe::http
