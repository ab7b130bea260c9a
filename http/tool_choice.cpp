#include "http/tool_choice.hpp"

#include <algorithm>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/llama_tool_tag.hpp"
#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;
using allocator = Document::AllocatorType;

constexpr const char* correct_usage =
    "Correct usage: `{\"type\": \"function\", \"function\": {\"name\": \"my_function\"}}`";

bool is_string(const Value* v, std::string_view expected) {
  return v != nullptr && v->IsString() && view(*v) == expected;
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
    return validation_error(fmt::format("`$defs` in the parameters of tool '{}' must be an object, "
                                        "got {}.",
                                        name, python_type_name(it->value)),
                            "tools");
  }
  for (auto& def : it->value.GetObject()) {
    auto same = defs.FindMember(def.name);
    if (same == defs.MemberEnd()) {
      defs.AddMember(Value(def.name, a), Value(def.value, a), a);
    } else if (same->value != def.value) {
      return validation_error(fmt::format("Tool definition '{}' has multiple schemas, which is not "
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

// One tool's kind of array element: {"name": that name, `key` (vLLM's "parameters", mistral's
// "arguments"): its schema}.
Value call_schema(std::string_view name, const char* key, Value params, allocator& a) {
  Value names(rapidjson::kArrayType);
  names.PushBack(Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a), a);
  Value name_schema(rapidjson::kObjectType);
  name_schema.AddMember("type", "string", a);
  name_schema.AddMember("enum", names, a);
  Value properties(rapidjson::kObjectType);
  properties.AddMember("name", name_schema, a);
  properties.AddMember(rapidjson::StringRef(key), params, a);
  Value required(rapidjson::kArrayType);
  required.PushBack("name", a).PushBack(rapidjson::StringRef(key), a);
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
    any_of.PushBack(call_schema(name, "parameters", std::move(schema_params), a), a);
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

// vLLM's MistralParser._build_guided_schema_pre_v11: a forced call's answer is a bare JSON array
// of {"name": one of the tools, "arguments": its parameters ({"type": "object"} when absent or
// empty)}, at least one, at most one for a named choice (parallel_tool_calls aside).
void mistral_schema(const Value& tools, const tool_choice_mode& mode, std::string& out) {
  Document doc(rapidjson::kObjectType);
  allocator& a = doc.GetAllocator();
  Value any_of(rapidjson::kArrayType);
  for (const Value& tool : tools.GetArray()) {
    const std::string_view name = tool_name(tool);
    if (mode.type == tool_choice_mode::kind::named && name != mode.function_name) continue;
    const Value* params = tool_parameters(tool);
    Value arguments(rapidjson::kObjectType);
    if (params != nullptr && !(params->IsObject() && params->MemberCount() == 0)) {
      arguments.CopyFrom(*params, a);
    } else {
      arguments.AddMember("type", "object", a);
    }
    Value call = call_schema(name, "arguments", std::move(arguments), a);
    call.AddMember("type", "object", a);
    any_of.PushBack(call, a);
  }
  Value items(rapidjson::kObjectType);
  items.AddMember("type", "object", a);
  items.AddMember("anyOf", any_of, a);
  doc.AddMember("type", "array", a);
  doc.AddMember("minItems", 1, a);
  if (mode.type == tool_choice_mode::kind::named) doc.AddMember("maxItems", 1, a);
  doc.AddMember("items", items, a);
  out = to_json(doc);
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

// What vLLM 0.32's hermes structural tag (tool_parsers/structural_tag_registry.py, with
// xgrammar's formats) holds an answer to.
struct hermes_tag {
  // "auto" (xgrammar's triggered tags): any text, in which "<tool_call>" begins a call that must
  // then be whole; after it any text again. Otherwise the answer is calls only, nothing between.
  bool free_text = false;
  bool single = false;      // nothing after the first call (stop_after_first)
  bool all_strict = false;  // --tool-strict-level parameter: every tool's arguments pinned
};

constexpr std::string_view hermes_trigger = "<tool_call>";

// A GBNF character-class member for `c` (ASCII).
std::string class_char(char c) {
  if (c == '\\' || c == ']' || c == '[' || c == '-' || c == '^') return std::string{'\\', c};
  return std::string(1, c);
}

// Rules text0 .. text<n-1> (n = trigger's length, ASCII): any text in which `trigger` does not
// occur, ending anywhere; the character that completes the trigger continues with `then`
// instead (xgrammar's TagDispatch). State k is the length of the longest prefix of the trigger
// that the text so far ends with.
std::string trigger_text_rules(std::string_view trigger, std::string_view then) {
  const size_t n = trigger.size();
  std::string chars;  // the trigger's distinct characters
  for (char c : trigger) {
    if (chars.find(c) == std::string::npos) chars += c;
  }
  std::string others = "[^";
  for (char c : chars)
    others += class_char(c);
  others += "]";
  std::string rules;
  for (size_t k = 0; k < n; ++k) {
    rules += fmt::format("text{} ::= \"\" | {} text0", k, others);
    for (char c : chars) {
      // The next state: the longest prefix of the trigger that (prefix k) + c ends with.
      std::string seen = std::string(trigger.substr(0, k)) + c;
      size_t next = std::min(seen.size(), n);
      while (next > 0 && seen.compare(seen.size() - next, next, trigger, 0, next) != 0)
        --next;
      const std::string literal = grammar_literal(std::string_view(&c, 1));
      if (next == n) {
        rules += fmt::format(" | {} {}", literal, then);
      } else {
        rules += fmt::format(" | {} text{}", literal, next);
      }
    }
    rules += "\n";
  }
  return rules;
}

// The grammar of a hermes answer held as `tag` says: calls "<tool_call>\n{"name": "N",
// "arguments": ARGS}\n</tool_call>" or the same without the two newlines. ARGS follows the
// tool's parameters schema for a tool with "strict": true (or with tag.all_strict), any JSON
// value otherwise. A named choice offers only that function.
parse_error hermes_grammar(const Value& tools, const tool_choice_mode& mode, const hermes_tag& tag,
                           const structured_outputs_config& server, std::string& out) {
  namespace g = runtime::grammar;
  g::json_schema_options options;
  options.any_whitespace = !server.disable_any_whitespace;
  options.disable_additional_properties = server.disable_additional_properties;
  std::string bodies;  // what follows "<tool_call>", per tool
  std::string rules;
  int32_t n = 0;
  for (const Value& tool : tools.GetArray()) {
    const std::string_view name = tool_name(tool);
    if (mode.type == tool_choice_mode::kind::named && name != mode.function_name) continue;
    const Value* params = tool_parameters(tool);
    if (auto e = check_parameters(params, name)) return e;
    const Value* strict = member(tool["function"], "strict");
    const bool pinned =
        tag.all_strict || (strict != nullptr && strict->IsBool() && strict->GetBool());
    auto args =
        g::json_schema_to_grammar(pinned && params != nullptr ? to_json(*params) : "true", options);
    if (!args) return bad_request("Invalid tool schema: " + args.message() + ".", "tools");
    const std::string prefix = fmt::format("tool{}-", n);
    const std::string head = fmt::format(R"({{"name": "{}", "arguments": )", name);
    bodies += fmt::format("{}{} {}root {} | {} {}root {}", n == 0 ? "" : " | ",
                          grammar_literal("\n" + head), prefix, grammar_literal("}\n</tool_call>"),
                          grammar_literal(head), prefix, grammar_literal("}</tool_call>"));
    rules += g::prefix_rule_names(*args, prefix) + "\n";
    ++n;
  }
  std::string text = "body ::= " + bodies + "\n";
  if (tag.free_text) {
    text = "root ::= text0\n" +
           trigger_text_rules(hermes_trigger, tag.single ? "body" : "body text0") + text;
  } else {
    text = fmt::format("root ::= call{}\ncall ::= {} body\n", tag.single ? "" : "+",
                       grammar_literal(hermes_trigger)) +
           text;
  }
  out = text + rules;
  return std::nullopt;
}

parse_error set_call_grammar(std::string text, runtime::sampling_params& sampling) {
  if (auto compiled = runtime::grammar::compile_grammar(text); !compiled)
    return bad_request("Invalid tool schema: " + compiled.message() + ".", "tools");
  sampling.grammar = std::move(text);
  return std::nullopt;
}

bool any_tool_strict(const Value& tools) {
  for (const Value& tool : tools.GetArray()) {
    const Value* strict = member(tool["function"], "strict");
    if (strict != nullptr && strict->IsBool() && strict->GetBool()) return true;
  }
  return false;
}

// vLLM's Parser.adjust_request for tool_choice "auto" under hermes (`llama` false) or
// llama3_json: the structural tag applies when a tool is strict, the server's level is above
// "auto" or parallel_tool_calls is false. With a structured output the answer is either calls
// or that output (xgrammar's "or"; hermes' calls only, llama's starting with a call).
parse_error auto_call_grammar(const Value& tools, const tool_choice_mode& mode,
                              const structured_outputs_config& server, tool_strict_level level,
                              bool llama, runtime::sampling_params& sampling) {
  const bool structured = !sampling.grammar.empty();
  const bool single = !mode.parallel_tool_calls;
  // Limiting the number of calls needs the call format in the grammar; with a structured output
  // vLLM leaves that one alone.
  if (single && !structured) level = std::max(level, tool_strict_level::function);
  if (level == tool_strict_level::automatic && !any_tool_strict(tools)) return std::nullopt;
  std::string text;
  if (llama) {
    // With a structured output vLLM asks for the "required" tag (calls first) beside it.
    const llama_tool_tag tag{
        structured ? llama_tool_tag::choice::required : llama_tool_tag::choice::automatic,
        {},
        single,
        level == tool_strict_level::parameter};
    if (auto e = llama_tool_grammar(tools, tag, text)) return e;
  } else {
    const hermes_tag tag{!structured, single, level == tool_strict_level::parameter};
    if (auto e = hermes_grammar(tools, mode, tag, server, text)) return e;
  }
  if (structured) {
    text = "root ::= calls-root | output-root\n" +
           runtime::grammar::prefix_rule_names(text, "calls-") + "\n" +
           runtime::grammar::prefix_rule_names(sampling.grammar, "output-");
  }
  return set_call_grammar(std::move(text), sampling);
}

}  // namespace

std::optional<tool_strict_level> find_tool_strict_level(std::string_view name) {
  if (name == "auto") return tool_strict_level::automatic;
  if (name == "function") return tool_strict_level::function;
  if (name == "parameter") return tool_strict_level::parameter;
  return std::nullopt;
}

parse_error read_tool_choice(const Value& body, const structured_outputs_config& server,
                             std::optional<tool_parser_kind> server_parser, tool_choice_mode& mode,
                             runtime::sampling_params& sampling, tool_strict_level strict_level) {
  mode = {};
  if (auto e = read_mode(body, server_parser.has_value(), mode)) return e;
  if (mode.type == tool_choice_mode::kind::named) {
    if (auto e = check_no_constraint(body)) return e;
  }
  if (auto e = read_bool(body, "parallel_tool_calls", mode.parallel_tool_calls)) return e;
  const bool hermes = server_parser == tool_parser_kind::hermes;
  const bool llama = server_parser == tool_parser_kind::llama3_json;
  if (mode.type == tool_choice_mode::kind::none) {
    // vLLM makes an absent tool_choice "auto" (with tools); an explicit null stays None, which
    // its parser still reads as "auto" but holds to nothing.
    const bool absent = !body.HasMember("tool_choice");
    if ((hermes || llama) && mode.parse_auto &&
        (absent || is_string(member(body, "tool_choice"), "auto"))) {
      return auto_call_grammar(*member(body, "tools"), mode, server, strict_level, llama, sampling);
    }
    return std::nullopt;
  }
  const Value& tools = *member(body, "tools");
  if (server_parser == tool_parser_kind::mistral) {
    // vLLM 0.32's mistral parser reads forced calls itself (supports_required_and_named false):
    // the answer is held to a bare array of calls unless the request brings its own
    // structured_outputs, which then stay.
    mode.parser_format = true;
    const Value* so = member(body, "structured_outputs");
    if (so != nullptr && so->IsObject()) return std::nullopt;
    for (const Value& tool : tools.GetArray()) {
      if (auto e = check_parameters(tool_parameters(tool), tool_name(tool))) return e;
    }
    std::string schema;
    mistral_schema(tools, mode, schema);
    return set_grammar(schema, server, sampling);
  }
  if (llama) {
    // vLLM 0.32 holds forced llama3_json calls to xgrammar's "llama" tag too, and the parser
    // reads them back.
    mode.parser_format = true;
    const bool named = mode.type == tool_choice_mode::kind::named;
    const llama_tool_tag tag{
        named ? llama_tool_tag::choice::forced : llama_tool_tag::choice::required,
        mode.function_name, !mode.parallel_tool_calls,
        strict_level == tool_strict_level::parameter};
    std::string text;
    if (auto e = llama_tool_grammar(tools, tag, text)) return e;
    return set_call_grammar(std::move(text), sampling);
  }
  if (hermes) {
    mode.parser_format = true;
    const hermes_tag tag{false,
                         mode.type == tool_choice_mode::kind::named || !mode.parallel_tool_calls,
                         strict_level == tool_strict_level::parameter};
    std::string text;
    if (auto e = hermes_grammar(tools, mode, tag, server, text)) return e;
    return set_call_grammar(std::move(text), sampling);
  }
  std::string schema;
  parse_error e = mode.type == tool_choice_mode::kind::named
                      ? named_schema(tools, mode.function_name, schema)
                      : required_schema(tools, mode.parallel_tool_calls, schema);
  return e ? e : set_grammar(schema, server, sampling);
}

}  // namespace troupe::http
