// check_responses_request: vLLM's ResponsesRequest as pydantic checks it
// (http/responses_request.hpp).
#include <array>
#include <string>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "http/pydantic_checks.hpp"
#include "http/responses_request.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;

constexpr std::array<std::string_view, 4> roles = {"user", "assistant", "system", "developer"};
constexpr std::array<std::string_view, 4> item_types = {"message", "function_call",
                                                        "function_call_output", "reasoning"};
constexpr std::array<std::string_view, 6> part_types = {
    "input_text", "output_text", "refusal", "input_image", "input_file", "input_audio"};

// pydantic reports a bad input item at `input` (the union of a string and the item list).
api_error bad_input(std::string message) {
  return invalid("input", std::move(message));
}

parse_error check_item(const Value& item) {
  if (!item.IsObject()) return bad_input("Input should be a valid dictionary");
  const Value* type = member(item, "type");
  if (type != nullptr && !is_one_of(type, item_types)) {
    return bad_input(
        fmt::format("Input item type '{}' is not one of message, function_call, "
                    "function_call_output, reasoning",
                    type->IsString() ? view(*type) : "?"));
  }
  const std::string_view kind = type != nullptr ? view(*type) : "message";
  if (kind == "function_call") {
    for (const char* key : {"call_id", "name", "arguments"}) {
      const Value* v = member(item, key);
      if (v == nullptr || !v->IsString())
        return bad_input(fmt::format("A function_call needs a string `{}`", key));
    }
    return std::nullopt;
  }
  if (kind == "function_call_output") {
    const Value* output = member(item, "output");
    if (output == nullptr || (!output->IsString() && !output->IsArray()))
      return bad_input("A function_call_output needs an `output`");
    return std::nullopt;
  }
  if (kind == "reasoning") {
    const Value* summary = member(item, "summary");
    if (summary != nullptr && !summary->IsArray()) return bad_input("Input should be a valid list");
    return std::nullopt;
  }
  if (!is_one_of(member(item, "role"), roles))
    return bad_input(
        "Input should be a message with role 'user', 'assistant', 'system' or 'developer'");
  const Value* content = member(item, "content");
  if (content == nullptr) return bad_input("Field required");
  if (content->IsString()) return std::nullopt;
  if (!content->IsArray()) return bad_input("Input should be a valid string or list");
  for (const Value& part : content->GetArray()) {
    if (!part.IsObject() || !is_one_of(member(part, "type"), part_types))
      return bad_input("Content parts must be input_text, output_text, refusal or media parts");
  }
  return std::nullopt;
}

parse_error check_tools(const Value& body) {
  const Value* tools = member(body, "tools");
  if (tools == nullptr) return std::nullopt;
  if (!tools->IsArray()) return invalid("tools", "Input should be a valid list");
  for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
    const Value& tool = (*tools)[i];
    if (!tool.IsObject()) return invalid(at("tools", i), "Input should be a valid dictionary");
    const Value* type = member(tool, "type");
    if (type == nullptr || !type->IsString()) return invalid(at("tools", i), "Field required");
    if (view(*type) != "function") continue;  // refused later, with the reason
    const std::string loc = at(at("tools", i), "FunctionTool");
    if (auto e = check_string(tool, "name", loc, /*required=*/true)) return e;
    if (auto e = check_string(tool, "description", loc)) return e;
    if (auto e = check_kind(tool, "parameters", loc, &Value::IsObject, "dictionary")) return e;
    if (auto e = check_kind(tool, "strict", loc, &Value::IsBool, "boolean")) return e;
  }
  return std::nullopt;
}

parse_error check_tool_choice(const Value& body) {
  const Value* choice = member(body, "tool_choice");
  if (choice == nullptr) return std::nullopt;
  static constexpr std::array<std::string_view, 3> modes = {"auto", "none", "required"};
  if (choice->IsString()) {
    if (is_one_of(choice, modes)) return std::nullopt;
    return invalid("tool_choice", "Input should be 'none', 'auto' or 'required'");
  }
  if (!choice->IsObject() || !member(*choice, "type"))
    return invalid("tool_choice", "Input should be a valid dictionary");
  return std::nullopt;
}

parse_error check_text(const Value& body) {
  const Value* text = member(body, "text");
  if (text == nullptr) return std::nullopt;
  if (!text->IsObject()) return invalid("text", "Input should be a valid dictionary");
  const Value* format = member(*text, "format");
  if (format == nullptr) return std::nullopt;
  // pydantic's location of a format that matches no branch of the union.
  const std::string loc = "text.format.ResponseFormatText.type";
  static constexpr std::array<std::string_view, 3> types = {"text", "json_schema", "json_object"};
  if (!format->IsObject() || !is_one_of(member(*format, "type"), types))
    return invalid(loc, "Input should be 'text'");
  if (view(*member(*format, "type")) != "json_schema") return std::nullopt;
  const Value* schema = member(*format, "schema");
  const Value* name = member(*format, "name");
  if (schema == nullptr || !schema->IsObject() || name == nullptr || !name->IsString())
    return invalid(loc, "Input should be 'text'");
  return std::nullopt;
}

parse_error check_fields(const Value& body) {
  if (auto e = check_string(body, "model", "")) return e;
  if (auto e = check_string(body, "instructions", "")) return e;
  if (auto e = check_string(body, "previous_response_id", "")) return e;
  if (auto e = check_string(body, "user", "")) return e;
  const Value* input = member(body, "input");
  if (input == nullptr) return invalid("input", "Field required");
  if (!input->IsString() && !input->IsArray())
    return invalid("input", "Input should be a valid string");
  if (input->IsArray()) {
    for (const Value& item : input->GetArray()) {
      if (auto e = check_item(item)) return e;
    }
  }
  for (const char* key : {"background", "store", "stream", "parallel_tool_calls"}) {
    if (auto e = check_kind(body, key, "", &Value::IsBool, "boolean")) return e;
  }
  for (const char* key : {"max_output_tokens", "max_tool_calls", "top_logprobs"}) {
    const Value* v = member(body, key);
    if (v != nullptr && !as_integer(*v)) return invalid(key, "Input should be a valid integer");
  }
  if (const Value* metadata = member(body, "metadata")) {
    if (!metadata->IsObject()) return invalid("metadata", "Input should be a valid dictionary");
    for (const auto& m : metadata->GetObject()) {
      if (!m.value.IsString())
        return invalid(at("metadata", view(m.name)), "Input should be a valid string");
    }
  }
  if (const Value* include = member(body, "include")) {
    static constexpr std::array<std::string_view, 6> includes = {
        "code_interpreter_call.outputs", "computer_call_output.output.image_url",
        "file_search_call.results",      "message.input_image.image_url",
        "message.output_text.logprobs",  "reasoning.encrypted_content"};
    if (!include->IsArray()) return invalid("include", "Input should be a valid list");
    for (rapidjson::SizeType i = 0; i < include->Size(); ++i) {
      if (auto e = check_literal(&(*include)[i], includes, at("include", i))) return e;
    }
  }
  if (const Value* reasoning = member(body, "reasoning")) {
    static constexpr std::array<std::string_view, 7> efforts = {"none", "minimal", "low", "medium",
                                                                "high", "xhigh",   "max"};
    if (!reasoning->IsObject()) return invalid("reasoning", "Input should be a valid dictionary");
    if (const Value* effort = member(*reasoning, "effort")) {
      if (auto e = check_literal(effort, efforts, "reasoning.effort")) return e;
    }
  }
  static constexpr std::array<std::string_view, 5> tiers = {"auto", "default", "flex", "scale",
                                                            "priority"};
  if (const Value* tier = member(body, "service_tier")) {
    if (auto e = check_literal(tier, tiers, "service_tier")) return e;
  }
  static constexpr std::array<std::string_view, 2> truncations = {"auto", "disabled"};
  if (const Value* truncation = member(body, "truncation")) {
    if (auto e = check_literal(truncation, truncations, "truncation")) return e;
  }
  if (auto e = check_tools(body)) return e;
  if (auto e = check_tool_choice(body)) return e;
  return check_text(body);
}

}  // namespace

std::variant<responses_lookup, pydantic_error, api_error> check_responses_request(
    std::string_view body, std::string_view content_type) {
  Document doc;
  if (auto e = read_pydantic_body(body, content_type, doc)) return std::move(*e);
  // vLLM's before-validators, which run ahead of the field checks.
  if (member(doc, "prompt") != nullptr)
    return validation_error("prompt template is not supported", "prompt");
  const Value* background = member(doc, "background");
  const Value* store = member(doc, "store");
  const bool is_background = background != nullptr && background->IsBool() && background->GetBool();
  const bool is_stored = store == nullptr || !store->IsBool() || store->GetBool();
  if (is_background && !is_stored)
    return validation_error("background can only be used when `store` is true", "background");
  if (const Value* salt = member(doc, "cache_salt");
      salt != nullptr && (!salt->IsString() || salt->GetStringLength() == 0)) {
    return validation_error("Parameter 'cache_salt' must be a non-empty string if provided.",
                            "cache_salt");
  }
  if (auto e = check_fields(doc)) return pydantic_refusal(*e);
  responses_lookup lookup;
  lookup.background = is_background;
  lookup.store = is_stored;
  if (const Value* previous = member(doc, "previous_response_id"))
    lookup.previous_response_id = std::string(view(*previous));
  return lookup;
}

}  // namespace troupe::http
