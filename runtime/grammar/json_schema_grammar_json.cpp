// The JSON side of the converter: rules that do not depend on the schema (JSON values, string
// formats), the JSON text of values, JSON pointers, and the checks vLLM makes on a schema
// before it reaches xgrammar.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <set>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "runtime/grammar/json_schema_grammar_rules.hpp"

namespace troupe::runtime::grammar::json_schema_detail {

namespace {

// The formats xgrammar 0.2.8 knows (vLLM's STRING_SUPPORTED_FORMATS).
constexpr std::pair<const char*, const char*> formats[] = {
    {"email", "format-email"},
    {"date", "format-date"},
    {"time", "format-time"},
    {"date-time", "format-date-time"},
    {"duration", "format-duration"},
    {"ipv4", "format-ipv4"},
    {"ipv6", "format-ipv6"},
    {"hostname", "format-hostname"},
    {"uuid", "format-uuid"},
    {"uri", "format-uri"},
    {"uri-reference", "format-uri-reference"},
    {"uri-template", "format-uri-template"},
    {"json-pointer", "format-json-pointer"},
    {"relative-json-pointer", "format-relative-json-pointer"},
};

constexpr fixed_rule fixed[] = {
    // JSON values, as xgrammar's basic_* rules.
    {"json-value",
     R"(json-object | json-array | json-string | json-number | "true" | "false" | "null")",
     {"json-object", "json-array", "json-string", "json-number"}},
    {"json-object",
     R"("{" WS ( json-string WS ":" WS json-value ( WS "," WS json-string WS ":" WS )"
     R"(json-value )* WS )? "}")",
     {"json-string", "json-value", "ws"}},
    {"json-array",
     R"("[" WS ( json-value ( WS "," WS json-value )* WS )? "]")",
     {"json-value", "ws"}},
    {"json-string", R"("\"" json-char* "\"")", {"json-char"}},
    {"json-string-rest", R"(json-char* "\"")", {"json-char"}},
    {"json-char", R"([^"\\\x00-\x1f] | "\\" json-escape)", {"json-escape"}},
    {"json-escape", R"(["\\/bfnrt] | "u" [0-9a-fA-F]{4})", {}},
    {"json-number", R"("-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [+\-]? [0-9]+ )?)", {}},
    {"json-integer", R"("0" | "-"? [1-9] [0-9]*)", {}},
    {"json-boolean", R"("true" | "false")", {}},
    {"ws", R"([ \t\n\r]*)", {}},

    // String formats: the text between the quotes, transcribed from the regular expressions of
    // xgrammar 0.2.8. Where those let through what is not JSON (a raw `"` or control character,
    // a backslash before any character), these rules keep to JSON.
    {"format-email",
     R"(format-email-local "@" [A-Za-z0-9] ( [\-A-Za-z0-9]* [A-Za-z0-9] )? )"
     R"(( "." [A-Za-z0-9] [\-A-Za-z0-9]* [A-Za-z0-9] )*)",
     {"format-email-local"}},
    {"format-email-local",
     R"(format-atext+ ( "." format-atext+ )* )"
     R"(| "\\\"" ( [ !#-\[\]-~] | "\\" ["\\/bfnrt] )* "\\\"")",
     {"format-atext"}},
    {"format-atext", R"([a-zA-Z0-9_!#$%&'*+/=?\^`{|}~\-])", {}},
    {"format-date",
     R"([0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ))",
     {}},
    {"format-time",
     R"(format-hour ":" [0-5] [0-9] ":" ( [0-5] [0-9] | "60" ) ( "." [0-9]+ )? )"
     R"(( "Z" | [+\-] format-hour ":" [0-5] [0-9] ))",
     {"format-hour"}},
    {"format-hour", R"([01] [0-9] | "2" [0-3])", {}},
    {"format-date-time", R"(format-date "T" format-time)", {"format-date", "format-time"}},
    {"format-duration",
     R"("P" ( format-duration-date ( "T" format-duration-time )? | "T" format-duration-time )"
     R"(| [0-9]+ "W" ))",
     {"format-duration-date", "format-duration-time"}},
    {"format-duration-date",
     R"([0-9]+ "D" | [0-9]+ "M" ( [0-9]+ "D" )? | [0-9]+ "Y" ( [0-9]+ "M" ( [0-9]+ "D" )? )?)",
     {}},
    {"format-duration-time",
     R"([0-9]+ "S" | [0-9]+ "M" ( [0-9]+ "S" )? | [0-9]+ "H" ( [0-9]+ "M" ( [0-9]+ "S" )? )?)",
     {}},
    {"format-ipv4", R"(( format-ipv4-octet "." ){3} format-ipv4-octet)", {"format-ipv4-octet"}},
    {"format-ipv4-octet", R"("25" [0-5] | "2" [0-4] [0-9] | [01]? [0-9]? [0-9])", {}},
    {"format-ipv6",
     R"(( format-h16 ":" ){7} format-h16 | ( format-h16 ":" ){1,7} ":" )"
     R"(| ( format-h16 ":" ){1,6} ":" format-h16 )"
     R"(| ( format-h16 ":" ){1,5} ( ":" format-h16 ){1,2} )"
     R"(| ( format-h16 ":" ){1,4} ( ":" format-h16 ){1,3} )"
     R"(| ( format-h16 ":" ){1,3} ( ":" format-h16 ){1,4} )"
     R"(| ( format-h16 ":" ){1,2} ( ":" format-h16 ){1,5} )"
     R"(| format-h16 ":" ( ":" format-h16 ){1,6} | ":" ( ( ":" format-h16 ){1,7} | ":" ) )"
     R"(| "::" ( "ffff" ( ":" "0"{1,4} )? ":" )? ( format-ipv6-octet "." ){3} format-ipv6-octet )"
     R"(| ( format-h16 ":" ){1,4} ":" ( format-ipv6-octet "." ){3} format-ipv6-octet)",
     {"format-h16", "format-ipv6-octet"}},
    {"format-h16", R"([0-9a-fA-F]{1,4})", {}},
    {"format-ipv6-octet", R"("25" [0-5] | ( "2" [0-4] | "1"? [0-9] )? [0-9])", {}},
    {"format-hostname",
     R"([a-z0-9] ( [a-z0-9\-]* [a-z0-9] )? ( "." [a-z0-9] ( [a-z0-9\-]* [a-z0-9] )? )*)",
     {}},
    {"format-uuid",
     R"([0-9A-Fa-f]{8} "-" [0-9A-Fa-f]{4} "-" [0-9A-Fa-f]{4} "-" [0-9A-Fa-f]{4} "-" )"
     R"([0-9A-Fa-f]{12})",
     {}},
    {"format-uri",
     R"([a-zA-Z] [a-zA-Z+.\-]* ":" ( format-uri-authority )"
     R"(| "/"? ( format-uri-pchar+ ( "/" format-uri-pchar* )* )? ) format-uri-tail)",
     {"format-uri-authority", "format-uri-pchar", "format-uri-tail"}},
    {"format-uri-reference",
     R"(( format-uri-authority | "/" ( format-uri-pchar+ ( "/" format-uri-pchar* )* )? )"
     R"(| ( [a-zA-Z0-9_.~!$&'()*+,;=@\-] | format-uri-pct )+ ( "/" format-uri-pchar* )* )? )"
     R"(format-uri-tail)",
     {"format-uri-authority", "format-uri-pchar", "format-uri-pct", "format-uri-tail"}},
    {"format-uri-authority",
     R"("//" ( ( [a-zA-Z0-9_.~!$&'()*+,;=:\-] | format-uri-pct )* "@" )? )"
     R"(( [a-zA-Z0-9_.~!$&'()*+,;=\-] | format-uri-pct )* ( ":" [0-9]* )? )"
     R"(( "/" format-uri-pchar* )*)",
     {"format-uri-pct", "format-uri-pchar"}},
    {"format-uri-tail",
     R"(( "?" format-uri-qchar* )? ( "#" format-uri-qchar* )?)",
     {"format-uri-qchar"}},
    {"format-uri-pchar", R"([a-zA-Z0-9_.~!$&'()*+,;=:@\-] | format-uri-pct)", {"format-uri-pct"}},
    {"format-uri-qchar", R"([a-zA-Z0-9_.~!$&'()*+,;=:@/?\-] | format-uri-pct)", {"format-uri-pct"}},
    {"format-uri-pct", R"("%" [0-9A-Fa-f]{2})", {}},
    {"format-uri-template",
     R"(( [!#-$&(-;=?-\[\]_a-z~] | format-uri-pct | "{" [+#./;?&=,!@|]? format-uri-variable )"
     R"(( "," format-uri-variable )* "}" )*)",
     {"format-uri-pct", "format-uri-variable"}},
    {"format-uri-variable",
     R"(format-uri-varchar ( "."? format-uri-varchar )* ( ":" [1-9] [0-9]{0,3} | "*" )?)",
     {"format-uri-varchar"}},
    {"format-uri-varchar", R"([a-zA-Z0-9_] | format-uri-pct)", {"format-uri-pct"}},
    {"format-json-pointer",
     R"(( "/" ( [^/~"\\\x00-\x1f] | "\\" json-escape | "~" [01] )* )*)",
     {"json-escape"}},
    {"format-relative-json-pointer",
     R"(( "0" | [1-9] [0-9]* ) ( "#" | format-json-pointer ))",
     {"format-json-pointer"}},
};

// -- JSON text -------------------------------------------------------------------------------

void append_compact(const json_value& v, std::string& out) {
  if (v.IsNull()) out += "null";
  if (v.IsBool()) out += v.GetBool() ? "true" : "false";
  if (v.IsString()) out += '"' + json_string_body({v.GetString(), v.GetStringLength()}) + '"';
  if (v.IsNumber()) {
    double d = v.IsDouble() ? v.GetDouble() : 0;
    bool whole_double = v.IsDouble() && std::floor(d) == d && std::fabs(d) < 9e15;
    out += whole_double ? std::to_string(static_cast<int64_t>(d)) : number_text(v);
  }
  if (v.IsArray()) {
    out += '[';
    for (auto it = v.Begin(); it != v.End(); ++it) {
      if (it != v.Begin()) out += ',';
      append_compact(*it, out);
    }
    out += ']';
  }
  if (v.IsObject()) {
    out += '{';
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      if (m != v.MemberBegin()) out += ',';
      append_compact(m->name, out);
      out += ':';
      append_compact(m->value, out);
    }
    out += '}';
  }
}

// -- vLLM's pre-checks -----------------------------------------------------------------------

constexpr int max_nesting = 64;  // vLLM's MAX_STRUCTURED_OUTPUT_JSON_NESTING

bool too_deep(const json_value& v, int depth) {
  if (!v.IsObject() && !v.IsArray()) return false;
  if (depth >= max_nesting) return true;
  if (v.IsArray())
    return std::any_of(v.Begin(), v.End(), [&](auto& c) { return too_deep(c, depth + 1); });
  for (const auto& m : v.GetObject())
    if (too_deep(m.value, depth + 1)) return true;
  return false;
}

bool has(const json_value& o, const char* key) {
  return o.HasMember(key);
}

bool has_length_with_pattern(const json_value& o) {
  return (has(o, "pattern") || has(o, "format")) && (has(o, "minLength") || has(o, "maxLength"));
}

// One schema object, as vLLM's check_object judges it before recursing.
std::optional<std::string> vllm_rejection_here(const json_value& o) {
  std::set<std::string> types;
  if (auto t = o.FindMember("type"); t != o.MemberEnd()) {
    if (t->value.IsString()) types.insert(t->value.GetString());
    if (t->value.IsArray())
      for (const auto& x : t->value.GetArray())
        if (x.IsString()) types.insert(x.GetString());
  }
  if ((types.count("integer") || types.count("number")) && has(o, "multipleOf"))
    return "multipleOf is not supported for integers and numbers";
  if (types.count("array"))
    for (const char* k : {"uniqueItems", "contains", "minContains", "maxContains"})
      if (has(o, k)) return std::string(k) + " is not supported for arrays";
  if (types.count("string") && has(o, "format")) {
    const auto& f = o["format"];
    if (!f.IsString() || !format_rule({f.GetString(), f.GetStringLength()}))
      return "format " + compact_json(f) + " is not supported";
  }
  if (types.count("string") && has_length_with_pattern(o))
    return "pattern or format together with minLength or maxLength is not supported";
  if (types.count("object") && has(o, "propertyNames")) {
    const auto& names = o["propertyNames"];
    if (names.IsObject() && has_length_with_pattern(names))
      return "propertyNames with a pattern or format and a length is not supported";
    if (has(o, "patternProperties")) return "propertyNames with patternProperties is not supported";
    if (has(o, "properties")) return "propertyNames with properties is not supported";
    auto u = o.FindMember("unevaluatedProperties");
    if (u != o.MemberEnd() && !(u->value.IsBool() && u->value.GetBool()))
      return "propertyNames with unevaluatedProperties is not supported";
  }
  if (types.count("object") && has(o, "patternProperties") && o["patternProperties"].IsObject()) {
    if (has(o, "properties")) return "patternProperties with properties is not supported";
    if (o["patternProperties"].MemberCount() > 1)
      return "more than one patternProperties is not supported";
  }
  if (has(o, "allOf") && o["allOf"].IsArray() && o["allOf"].Size() >= 2)
    return "allOf with more than one schema is not supported";
  return std::nullopt;
}

std::optional<std::string> vllm_rejection_walk(const json_value& o) {
  if (auto why = vllm_rejection_here(o)) return why;
  for (const auto& m : o.GetObject()) {
    if (m.value.IsObject()) {
      if (auto why = vllm_rejection_walk(m.value)) return why;
    } else if (m.value.IsArray()) {
      // Like vLLM: the objects of a list are checked, lists within lists are not.
      for (const auto& item : m.value.GetArray())
        if (item.IsObject())
          if (auto why = vllm_rejection_walk(item)) return why;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string number_text(const json_value& v) {
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.Double(v.GetDouble());
  return buf.GetString();
}

std::string json_string_body(std::string_view s) {
  static constexpr std::pair<char, const char*> short_escapes[] = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'\b', "\\b"}, {'\f', "\\f"},
      {'\n', "\\n"}, {'\r', "\\r"},  {'\t', "\\t"}};
  std::string out;
  for (char ch : s) {
    auto e = std::find_if(std::begin(short_escapes), std::end(short_escapes),
                          [ch](auto& p) { return p.first == ch; });
    if (e != std::end(short_escapes)) {
      out += e->second;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string compact_json(const json_value& v) {
  std::string out;
  append_compact(v, out);
  return out;
}

result<pointer_target> resolve_pointer(const json_value& root, const std::string& uri) {
  pointer_target out{&root, {}};
  // Segments between '/', with ~1 for '/' and ~0 for '~' (RFC 6901).
  for (size_t i = 2; i <= uri.size();) {
    size_t end = std::min(uri.find('/', i), uri.size());
    std::string seg;
    for (size_t k = i; k < end; ++k) {
      if (uri[k] == '~' && k + 1 < end && (uri[k + 1] == '0' || uri[k + 1] == '1'))
        seg += uri[++k] == '0' ? '~' : '/';
      else
        seg += uri[k];
    }
    i = end + 1;
    const json_value* at = out.value;
    const json_value* next = nullptr;
    if (at->IsObject()) {
      auto it = at->FindMember(json_value(rapidjson::StringRef(seg.data(), seg.size())));
      if (it != at->MemberEnd()) next = &it->value;
    }
    bool index = !seg.empty() && seg.size() < 10 && seg.find_first_not_of("0123456789") == seg.npos;
    if (at->IsArray() && index && std::stoul(seg) < at->Size())
      next = &(*at)[static_cast<rapidjson::SizeType>(std::stoul(seg))];
    if (next == nullptr) return error{"$ref \"" + uri + "\" does not resolve: no \"" + seg + "\""};
    out.value = next;
    out.segments.push_back(std::move(seg));
  }
  return out;
}

bool is_annotation(std::string_view key) {
  static constexpr std::string_view keys[] = {"type",     "title",      "default",  "description",
                                              "examples", "deprecated", "readOnly", "writeOnly",
                                              "$comment", "$schema"};
  return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}

std::span<const fixed_rule> fixed_rules() {
  return fixed;
}

const char* format_rule(std::string_view format) {
  for (const auto& [name, rule] : formats)
    if (format == name) return rule;
  return nullptr;
}

std::optional<std::string> vllm_rejection(const json_value& schema) {
  if (too_deep(schema, 0))
    return "the JSON schema is nested too deeply: objects and arrays may nest at most " +
           std::to_string(max_nesting) + " levels";
  if (!schema.IsObject()) return std::nullopt;
  return vllm_rejection_walk(schema);
}

}  // namespace troupe::runtime::grammar::json_schema_detail
