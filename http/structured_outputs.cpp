#include "http/structured_outputs.hpp"

#include "http/structured_outputs_config.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/reasoning_parsers.hpp"
#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"
#include "runtime/grammar/regex_grammar.hpp"
#include "runtime/grammar/structural_tag_grammar.hpp"

namespace troupe::http {

namespace {

namespace g = runtime::grammar;

enum class constraint_kind { none, json, regex, choice, grammar, json_object, structural_tag };

// One constraint as the request gave it, before it becomes grammar text.
struct constraint {
  constraint_kind kind = constraint_kind::none;
  const Value* value = nullptr;  // the schema, pattern, choices or grammar
  const char* param = "structured_outputs";
};

struct options {
  g::json_schema_options json;
};

std::string json_text(const Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// structured_outputs: at most one constraint, and its options.
parse_error read_structured_outputs_object(const Value& body, constraint& out, options& opts) {
  const Value* so = member(body, "structured_outputs");
  if (so == nullptr) return std::nullopt;
  if (!so->IsObject()) return type_error("structured_outputs", "an object");
  if (member(*so, "whitespace_pattern") != nullptr)
    return bad_request("structured_outputs.whitespace_pattern is not supported by troupe.",
                       "structured_outputs");
  constexpr std::pair<const char*, constraint_kind> kinds[] = {
      {"json", constraint_kind::json},
      {"regex", constraint_kind::regex},
      {"choice", constraint_kind::choice},
      {"grammar", constraint_kind::grammar},
      {"json_object", constraint_kind::json_object},
      {"structural_tag", constraint_kind::structural_tag}};
  int count = 0;
  for (auto [key, kind] : kinds) {
    if (const Value* v = member(*so, key)) {
      out = {kind, v, "structured_outputs"};
      ++count;
    }
  }
  if (count > 1) {
    return bad_request(
        "You can only use one kind of structured outputs constraint but multiple are specified.",
        "structured_outputs");
  }
  // A request can ask for less whitespace or fewer members than the server's settings, not more.
  bool any_whitespace_off = !opts.json.any_whitespace;
  if (auto e = read_bool(*so, "disable_any_whitespace", any_whitespace_off)) return e;
  opts.json.any_whitespace = opts.json.any_whitespace && !any_whitespace_off;
  bool no_additional = opts.json.disable_additional_properties;
  if (auto e = read_bool(*so, "disable_additional_properties", no_additional)) return e;
  opts.json.disable_additional_properties =
      opts.json.disable_additional_properties || no_additional;
  return std::nullopt;
}

// response_format: overrides structured_outputs' constraint (a different kind is a 400).
parse_error read_response_format(const Value& body, constraint& out) {
  const Value* rf = member(body, "response_format");
  if (rf == nullptr) return std::nullopt;
  if (!rf->IsObject()) return type_error("response_format", "an object");
  const Value* type = member(*rf, "type");
  if (type == nullptr || !type->IsString())
    return type_error("response_format.type", "'text', 'json_object' or 'json_schema'");
  const std::string_view t(type->GetString(), type->GetStringLength());
  constraint c{constraint_kind::none, nullptr, "response_format"};
  if (t == "text") return std::nullopt;
  if (t == "json_object") {
    c.kind = constraint_kind::json_object;
  } else if (t == "json_schema") {
    const Value* js = member(*rf, "json_schema");
    if (js == nullptr) {
      return validation_error(
          "When response_format type is 'json_schema', the 'json_schema' field must be provided.",
          "response_format");
    }
    if (!js->IsObject()) return type_error("response_format.json_schema", "an object");
    c.value = member(*js, "schema");
    if (c.value == nullptr)
      return bad_request("response_format.json_schema.schema must be provided.", "response_format");
    c.kind = constraint_kind::json;
  } else if (t == "structural_tag") {
    c.kind = constraint_kind::structural_tag;
    c.value = rf;  // the whole object: either spelling of a structural tag
  } else {
    return type_error("response_format.type", "'text', 'json_object' or 'json_schema'");
  }
  if (out.kind != constraint_kind::none && out.kind != c.kind) {
    return bad_request(
        "You can only use one kind of structured outputs constraint but multiple are specified.",
        "response_format");
  }
  out = c;
  return std::nullopt;
}

// The fields of vLLM before 0.11, read when nothing newer is given.
parse_error read_guided_fields(const Value& body, constraint& out) {
  constexpr std::pair<const char*, constraint_kind> kinds[] = {
      {"guided_json", constraint_kind::json},
      {"guided_regex", constraint_kind::regex},
      {"guided_choice", constraint_kind::choice},
      {"guided_grammar", constraint_kind::grammar}};
  const constraint newer = out;
  int count = 0;
  for (auto [key, kind] : kinds) {
    if (const Value* v = member(body, key)) {
      if (newer.kind != constraint_kind::none) {
        return bad_request(fmt::format("`{}` cannot be combined with structured_outputs or "
                                       "response_format.",
                                       key),
                           key);
      }
      out = {kind, v, key};
      ++count;
    }
  }
  if (count > 1) {
    return bad_request(
        "You can only use one kind of guided decoding ('guided_json', "
        "'guided_regex', 'guided_choice' or 'guided_grammar').",
        out.param);
  }
  return std::nullopt;
}

// The constraint as grammar text.
result<std::string> grammar_text(const constraint& c, const options& opts) {
  switch (c.kind) {
    case constraint_kind::json:
      if (!c.value->IsObject() && !c.value->IsString() && !c.value->IsBool())
        return error{"the JSON schema must be an object (or its text)"};
      return g::json_schema_to_grammar(json_text(*c.value), opts.json);
    case constraint_kind::json_object:
      return g::json_object_grammar(opts.json.any_whitespace);
    case constraint_kind::regex:
      if (!c.value->IsString()) return error{"the regex must be a string"};
      return g::regex_to_grammar(
          std::string_view(c.value->GetString(), c.value->GetStringLength()));
    case constraint_kind::choice: {
      if (!c.value->IsArray()) return error{"choice must be a list of strings"};
      std::vector<std::string> choices;
      for (const auto& v : c.value->GetArray()) {
        if (!v.IsString()) return error{"choice must be a list of strings"};
        choices.emplace_back(v.GetString(), v.GetStringLength());
      }
      return g::choice_to_grammar(choices);
    }
    case constraint_kind::grammar:
      if (!c.value->IsString()) return error{"the grammar must be a string"};
      return std::string(c.value->GetString(), c.value->GetStringLength());
    case constraint_kind::structural_tag:
      // As vLLM's xgrammar backend compiles it: JSON schemas inside with xgrammar's defaults,
      // whatever the server's whitespace settings.
      if (!c.value->IsObject() && !c.value->IsString()) return error{"not a structural tag"};
      return g::structural_tag_to_grammar(json_text(*c.value));
    case constraint_kind::none:
      break;
  }
  return std::string();
}

// vLLM's refusal of a malformed structural tag; troupe's own message for what it does not
// support.
api_error structural_tag_error(const std::string& message, const char* param) {
  if (message.rfind("Invalid structural tag specification", 0) == 0) {
    return validation_error(fmt::format("Invalid {} structural_tag specification.", param), param);
  }
  return bad_request(message, param);
}

}  // namespace

result<structured_outputs_config> parse_structured_outputs_config(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return error{"--structured-outputs-config must be a JSON object"};
  structured_outputs_config config;
  for (const auto& m : doc.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const Value& v = m.value;
    if (key == "backend") {
      const std::string_view b = v.IsString() ? v.GetString() : "";
      if (b != "auto" && b != "xgrammar" && b != "guidance" && b != "outlines" &&
          b != "lm-format-enforcer") {
        return error{
            "--structured-outputs-config: backend must be one of auto, xgrammar, "
            "guidance, outlines, lm-format-enforcer"};
      }
    } else if (key == "reasoning_parser") {
      if (!v.IsString() || (v.GetStringLength() > 0 && !find_reasoning_parser(v.GetString()))) {
        return error{"--structured-outputs-config: reasoning_parser must be \"\" or one of " +
                     reasoning_parser_names()};
      }
      config.reasoning_parser = v.GetString();
    } else if (key == "reasoning_parser_plugin") {
      if (!v.IsString() || v.GetStringLength() != 0)
        return error{"--structured-outputs-config: troupe loads no plugins (" + std::string(key) +
                     " must be \"\")"};
    } else if (key == "disable_any_whitespace" || key == "disable_additional_properties" ||
               key == "disable_fallback" || key == "enable_in_reasoning") {
      if (!v.IsBool())
        return error{"--structured-outputs-config: " + std::string(key) + " must be a boolean"};
      if (key == "disable_any_whitespace") config.disable_any_whitespace = v.GetBool();
      if (key == "disable_additional_properties")
        config.disable_additional_properties = v.GetBool();
      if (key == "enable_in_reasoning") config.enable_in_reasoning = v.GetBool();
    } else {
      return error{"--structured-outputs-config: unknown key '" + std::string(key) + "'"};
    }
  }
  return config;
}

parse_error read_structured_outputs(const Value& body, const structured_outputs_config& server,
                                    runtime::sampling_params& out) {
  constraint c;
  options opts;
  opts.json.any_whitespace = !server.disable_any_whitespace;
  opts.json.disable_additional_properties = server.disable_additional_properties;
  parse_error e = read_structured_outputs_object(body, c, opts);
  if (!e) e = read_response_format(body, c);
  if (!e) e = read_guided_fields(body, c);
  if (e || c.kind == constraint_kind::none) return e;
  auto text = grammar_text(c, opts);
  if (!text && c.kind == constraint_kind::structural_tag)
    return structural_tag_error(text.message(), c.param);
  if (!text) return bad_request("Invalid structured outputs: " + text.message() + ".", c.param);
  if (auto compiled = g::compile_grammar(*text); !compiled)
    return bad_request("Invalid structured outputs: " + compiled.message() + ".", c.param);
  out.grammar = std::move(*text);
  return std::nullopt;
}

}  // namespace troupe::http
