#include "http/tool_choice.hpp"

#include <string>
#include <string_view>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;
using allocator = Document::AllocatorType;

constexpr const char* correct_usage =
    "Correct usage: `{\"type\": \"function\", \"function\": {\"name\": \"my_function\"}}`";

std::string_view view(const Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

bool is_string(const Value* v, std::string_view expected) {
  return v != nullptr && v->IsString() && view(*v) == expected;
}

std::string to_json(const Value& v) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  v.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

// A value as vLLM's f-string messages show it (str() of the Python value; containers as JSON).
std::string python_str(const Value* v) {
  if (v == nullptr || v->IsNull()) return "None";
  if (v->IsString()) return std::string(view(*v));
  if (v->IsBool()) return v->GetBool() ? "True" : "False";
  return to_json(*v);
}

const char* python_type_name(const Value& v) {
  if (v.IsNull()) return "NoneType";
  if (v.IsBool()) return "bool";
  if (v.IsString()) return "str";
  if (v.IsArray()) return "list";
  if (v.IsObject()) return "dict";
  return v.IsDouble() ? "float" : "int";
}

// A tool's function name and parameters (null when absent); `tools` was checked by
// http/chat_messages, so every tool has a function with a string name.
std::string_view tool_name(const Value& tool) {
  return view(tool["function"]["name"]);
}
const Value* tool_parameters(const Value& tool) {
  return member(tool["function"], "parameters");
}

// vLLM's check_tool_usage on {"type": "function", "function": {"name"}}: the name of a function
// in `tools`.
parse_error read_named_choice(const Value& choice, const Value& tools, std::string& name) {
  const Value* function = member(choice, "function");
  if (function == nullptr || !function->IsObject()) {
    return validation_error(fmt::format("Invalid value for `function`: `{}` in `tool_choice`! {}",
                                        python_str(function), correct_usage),
                            "tool_choice.function");
  }
  auto it = function->FindMember("name");  // a null name is there, and invalid
  if (it == function->MemberEnd()) {
    return validation_error(
        fmt::format("Expected field `name` in `function` in `tool_choice`! {}", correct_usage),
        "tool_choice.function.name");
  }
  if (!it->value.IsString() || it->value.GetStringLength() == 0) {
    return validation_error(fmt::format("Invalid `name` in `function`: `{}` in `tool_choice`! {}",
                                        python_str(&it->value), correct_usage),
                            "tool_choice.function.name");
  }
  name = view(it->value);
  bool found = false;
  for (const Value& tool : tools.GetArray())
    found = found || tool_name(tool) == name;
  if (!found) {
    return validation_error(
        "The tool specified in `tool_choice` does not match any of the specified `tools`",
        "tool_choice");
  }
  if (const Value* type = member(choice, "type"); type != nullptr && !is_string(type, "function"))
    return bad_request("`tool_choice.type` must be \"function\".", "tool_choice");
  return std::nullopt;
}

// vLLM's check_tool_usage: the mode, or a 400.
parse_error read_mode(const Value& body, bool enable_auto_tool_choice, tool_choice_mode& mode) {
  const Value* tools = member(body, "tools");
  if (tools != nullptr && tools->IsArray() && tools->Empty()) {
    return validation_error(
        "`tools` must not be an empty array. Either provide at least one tool or omit the field "
        "entirely.",
        "tools");
  }
  const Value* choice = member(body, "tool_choice");
  const bool has_tools = tools != nullptr && !tools->IsNull();
  if (choice == nullptr || choice->IsNull()) {
    mode.parse_auto = enable_auto_tool_choice && has_tools;
    return std::nullopt;
  }
  if (is_string(choice, "none")) return std::nullopt;
  if (tools == nullptr)
    return validation_error("When using `tool_choice`, `tools` must be set.", "tool_choice");
  if (is_string(choice, "auto")) {
    if (!enable_auto_tool_choice) {
      return bad_request(
          "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be "
          "set");
    }
    mode.parse_auto = has_tools;
    return std::nullopt;
  }
  if (is_string(choice, "required")) {
    mode.type = tool_choice_mode::kind::required;
    return std::nullopt;
  }
  if (!choice->IsObject()) {
    return validation_error(fmt::format("Invalid value for `tool_choice`: {}! Only named tools, "
                                        "\"none\", \"auto\" or \"required\" are supported.",
                                        python_str(choice)),
                            "tool_choice");
  }
  mode.type = tool_choice_mode::kind::named;
  return read_named_choice(*choice, *tools, mode.function_name);
}

// vLLM's check_structured_outputs_count: a named choice excludes these constraints.
parse_error check_no_constraint(const Value& body) {
  const Value* so = member(body, "structured_outputs");
  if (so == nullptr || !so->IsObject()) return std::nullopt;
  for (const char* key : {"json", "regex", "choice"}) {
    if (member(*so, key) != nullptr) {
      return bad_request(
          "You can only either use constraints for structured outputs or tools, not both.");
    }
  }
  return std::nullopt;
}

parse_error check_parameters(const Value* params, std::string_view name) {
  if (params == nullptr || params->IsObject()) return std::nullopt;
  return bad_request(fmt::format("The `parameters` of tool '{}' must be an object.", name),
                     "tools");
}

// vLLM's _params_or_empty_object: missing or empty parameters still mean a JSON object.
Value params_or_empty_object(const Value* params, allocator& a) {
  if (params != nullptr && params->MemberCount() > 0) return Value(*params, a);
  Value empty(rapidjson::kObjectType);
  empty.AddMember("type", "object", a);
  empty.AddMember("properties", Value(rapidjson::kObjectType), a);
  return empty;
}

// Moves the `$defs` of `params` (a copy) into `defs`, as vLLM's _get_tool_schema_defs does.
parse_error move_defs(Value& params, std::string_view name, Value& defs, allocator& a) {
  auto it = params.FindMember("$defs");
  if (it == params.MemberEnd()) return std::nullopt;
  if (!it->value.IsObject()) {
    return bad_request(fmt::format("`$defs` in the parameters of tool '{}' must be an object, "
                                   "got {}.",
                                   name, python_type_name(it->value)),
                       "tools");
  }
  for (auto& def : it->value.GetObject()) {
    auto same = defs.FindMember(def.name);
    if (same == defs.MemberEnd()) {
      defs.AddMember(Value(def.name, a), Value(def.value, a), a);
    } else if (same->value != def.value) {
      return bad_request(fmt::format("Tool definition '{}' has multiple schemas, which is not "
                                     "supported.",
                                     view(def.name)),
                         "tools");
    }
  }
  params.RemoveMember(it);
  return std::nullopt;
}

// The schema of a named choice: the function's parameters (the last tool of that name).
parse_error named_schema(const Value& tools, std::string_view name, std::string& out) {
  const Value* params = nullptr;
  for (const Value& tool : tools.GetArray()) {
    if (tool_name(tool) == name) params = tool_parameters(tool);
  }
  if (auto e = check_parameters(params, name)) return e;
  Document doc;
  out = to_json(params_or_empty_object(params, doc.GetAllocator()));
  return std::nullopt;
}

// One tool's kind of array element: {"name": that name, "parameters": its schema}.
Value call_schema(std::string_view name, Value params, allocator& a) {
  Value names(rapidjson::kArrayType);
  names.PushBack(Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a), a);
  Value name_schema(rapidjson::kObjectType);
  name_schema.AddMember("type", "string", a);
  name_schema.AddMember("enum", names, a);
  Value properties(rapidjson::kObjectType);
  properties.AddMember("name", name_schema, a);
  properties.AddMember("parameters", params, a);
  Value required(rapidjson::kArrayType);
  required.PushBack("name", a).PushBack("parameters", a);
  Value schema(rapidjson::kObjectType);
  schema.AddMember("properties", properties, a);
  schema.AddMember("required", required, a);
  return schema;
}

// The schema of "required": an array of calls to any of the tools (vLLM's
// _get_json_schema_from_tools).
parse_error required_schema(const Value& tools, bool parallel, std::string& out) {
  Document doc(rapidjson::kObjectType);
  allocator& a = doc.GetAllocator();
  Value any_of(rapidjson::kArrayType);
  Value defs(rapidjson::kObjectType);
  for (const Value& tool : tools.GetArray()) {
    const std::string_view name = tool_name(tool);
    const Value* params = tool_parameters(tool);
    if (auto e = check_parameters(params, name)) return e;
    // Emptiness is judged before $defs move: {"$defs": ...} alone then allows any value, as in
    // vLLM, which pops them from the dict its schema already holds.
    Value schema_params = params_or_empty_object(params, a);
    if (params != nullptr) {
      if (auto e = move_defs(schema_params, name, defs, a)) return e;
    }
    any_of.PushBack(call_schema(name, std::move(schema_params), a), a);
  }
  Value items(rapidjson::kObjectType);
  items.AddMember("type", "object", a);
  items.AddMember("anyOf", any_of, a);
  doc.AddMember("type", "array", a);
  doc.AddMember("minItems", 1, a);
  doc.AddMember("items", items, a);
  if (!parallel) doc.AddMember("maxItems", 1, a);
  if (defs.MemberCount() > 0) doc.AddMember("$defs", defs, a);
  out = to_json(doc);
  return std::nullopt;
}

// The grammar of a schema built from the tools, checked to compile.
parse_error set_grammar(const std::string& schema, const structured_outputs_config& server,
                        runtime::sampling_params& sampling) {
  namespace g = runtime::grammar;
  g::json_schema_options options;
  options.any_whitespace = !server.disable_any_whitespace;
  options.disable_additional_properties = server.disable_additional_properties;
  auto text = g::json_schema_to_grammar(schema, options);
  if (!text) return bad_request("Invalid tool schema: " + text.message() + ".", "tools");
  if (auto compiled = g::compile_grammar(*text); !compiled)
    return bad_request("Invalid tool schema: " + compiled.message() + ".", "tools");
  sampling.grammar = std::move(*text);
  return std::nullopt;
}

// A GBNF literal of `text`.
std::string grammar_literal(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The grammar of a forced call in hermes' own format, as vLLM 0.32's hermes structural tag
// holds it (tool_parsers/structural_tag_registry.py): one call (named) or one or more (required),
// each "<tool_call>\n{"name": "N", "arguments": ARGS}\n</tool_call>" or the same without the
// two newlines, nothing between calls. ARGS follows the tool's parameters schema only for a
// tool with "strict": true (vLLM's default --tool-strict-level auto); any JSON value otherwise.
parse_error hermes_grammar(const Value& tools, const tool_choice_mode& mode,
                           const structured_outputs_config& server,
                           runtime::sampling_params& sampling) {
  namespace g = runtime::grammar;
  g::json_schema_options options;
  options.any_whitespace = !server.disable_any_whitespace;
  options.disable_additional_properties = server.disable_additional_properties;
  std::string calls;
  std::string rules;
  int32_t n = 0;
  for (const Value& tool : tools.GetArray()) {
    const std::string_view name = tool_name(tool);
    if (mode.type == tool_choice_mode::kind::named && name != mode.function_name) continue;
    const Value* params = tool_parameters(tool);
    if (auto e = check_parameters(params, name)) return e;
    const Value* strict = member(tool["function"], "strict");
    const bool pinned = strict != nullptr && strict->IsBool() && strict->GetBool();
    auto args =
        g::json_schema_to_grammar(pinned && params != nullptr ? to_json(*params) : "true", options);
    if (!args) return bad_request("Invalid tool schema: " + args.message() + ".", "tools");
    const std::string prefix = fmt::format("tool{}-", n++);
    const std::string head = fmt::format(R"({{"name": "{}", "arguments": )", name);
    calls += fmt::format("{}call ::= {} {}root {} | {} {}root {}\n", prefix,
                         grammar_literal("<tool_call>\n" + head), prefix,
                         grammar_literal("}\n</tool_call>"), grammar_literal("<tool_call>" + head),
                         prefix, grammar_literal("}</tool_call>"));
    rules += g::prefix_rule_names(*args, prefix) + "\n";
  }
  std::string alternatives;
  for (int32_t i = 0; i < n; ++i)
    alternatives += fmt::format("{}tool{}-call", i == 0 ? "" : " | ", i);
  std::string text =
      fmt::format("root ::= call{}\ncall ::= {}\n",
                  mode.type == tool_choice_mode::kind::named ? "" : "+", alternatives) +
      calls + rules;
  if (auto compiled = g::compile_grammar(text); !compiled)
    return bad_request("Invalid tool schema: " + compiled.message() + ".", "tools");
  sampling.grammar = std::move(text);
  return std::nullopt;
}

}  // namespace

parse_error read_tool_choice(const Value& body, const structured_outputs_config& server,
                             std::optional<tool_parser_kind> server_parser, tool_choice_mode& mode,
                             runtime::sampling_params& sampling) {
  mode = {};
  if (auto e = read_mode(body, server_parser.has_value(), mode)) return e;
  if (mode.type == tool_choice_mode::kind::named) {
    if (auto e = check_no_constraint(body)) return e;
  }
  if (auto e = read_bool(body, "parallel_tool_calls", mode.parallel_tool_calls)) return e;
  if (mode.type == tool_choice_mode::kind::none) return std::nullopt;
  const Value& tools = *member(body, "tools");
  if (server_parser == tool_parser_kind::hermes) {
    mode.parser_format = true;
    return hermes_grammar(tools, mode, server, sampling);
  }
  std::string schema;
  parse_error e = mode.type == tool_choice_mode::kind::named
                      ? named_schema(tools, mode.function_name, schema)
                      : required_schema(tools, mode.parallel_tool_calls, schema);
  return e ? e : set_grammar(schema, server, sampling);
}

}  // namespace troupe::http
