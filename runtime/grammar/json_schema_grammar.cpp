#include "runtime/grammar/json_schema_grammar.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "runtime/grammar/json_schema_grammar_rules.hpp"

namespace troupe::runtime::grammar {

namespace {

using namespace json_schema_detail;

// A grammar expression for (part of) a schema.
struct piece {
  std::string expr;
  bool atomic = true;              // usable as one element of a sequence as it is
  std::vector<std::string> heads;  // generated rules it may begin with, before any character
};

const json_value* member(const json_value& o, const char* key) {
  auto it = o.FindMember(key);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

// Deep enough for any schema within vLLM's nesting limit plus long $ref chains, shallow enough
// for a small thread stack.
constexpr int max_visit_depth = 400;

class converter {
 public:
  converter(const json_value& root, const json_schema_options& options)
      : root_(root), options_(options) {}

  result<std::string> run() {
    rule_for(root_, "root");
    check_left_recursion();
    if (error_) return error{*error_};
    return text();
  }

 private:
  // -- rules ---------------------------------------------------------------------------------

  // A fresh rule name (hint, or hint-2, hint-3, ...) with a place in the output order; the body
  // comes with define(), once known (after the rules it uses, for a recursive schema).
  std::string reserve(const std::string& hint) {
    std::string name = hint;
    for (int n = 2; rule_index_.count(name) || is_fixed(name); ++n)
      name = hint + "-" + std::to_string(n);
    rule_index_[name] = rules_.size();
    rules_.emplace_back(name, "");
    return name;
  }

  static bool is_fixed(const std::string& name) {
    auto fixed = fixed_rules();
    return std::any_of(fixed.begin(), fixed.end(), [&](auto& r) { return name == r.name; });
  }

  void define(const std::string& name, const piece& body) {
    rules_[rule_index_.at(name)].second = body.expr;
    heads_[name] = body.heads;
  }

  piece rule_ref(const std::string& name) { return {name, true, {name}}; }

  piece atom(const piece& p, const std::string& hint) {
    if (p.atomic || error_) return p;
    std::string name = reserve(hint);
    define(name, p);
    return rule_ref(name);
  }

  // A named rule per schema object reached by $ref (and the root), so recursion has a name.
  piece rule_for(const json_value& schema, const std::string& hint) {
    if (auto it = schema_rules_.find(&schema); it != schema_rules_.end())
      return rule_ref(it->second);
    std::string name = reserve(hint);
    schema_rules_[&schema] = name;
    define(name, visit(schema, name));
    return rule_ref(name);
  }

  piece basic(const char* name) {
    basics_used_.insert(name);
    return {name, true, {}};
  }

  std::string ws() { return options_.any_whitespace ? basic("ws").expr : ""; }
  std::string colon() { return seq({ws(), R"(":")", ws()}); }
  std::string comma() { return seq({ws(), R"(",")", ws()}); }

  piece fail(std::string message) {
    if (!error_) error_ = std::move(message);
    return {"\"\"", true, {}};
  }

  // -- schemas -------------------------------------------------------------------------------

  piece visit(const json_value& s, const std::string& hint) {
    if (error_) return {};
    if (depth_ >= max_visit_depth) return fail("the schema is nested too deeply");
    ++depth_;
    piece p = visit_unguarded(s, hint);
    --depth_;
    return p;
  }

  piece visit_unguarded(const json_value& s, const std::string& hint) {
    if (s.IsBool())
      return s.GetBool() ? basic("json-value") : fail("the schema `false` accepts no value");
    if (!s.IsObject()) return fail("a schema must be an object or a boolean");
    if (auto r = member(s, "$ref")) return ref(*r);
    if (auto c = member(s, "const")) return {gbnf_literal(compact_json(*c)), true, {}};
    if (auto e = member(s, "enum")) {
      if (!e->IsArray() || e->Empty()) return fail("enum must be a non-empty array");
      std::vector<piece> alts;
      for (const auto& v : e->GetArray())
        alts.push_back({gbnf_literal(compact_json(v)), true, {}});
      return any_of(alts);
    }
    for (const char* key : {"anyOf", "oneOf"})
      if (auto a = member(s, key)) return one_of(*a, key, hint);
    if (auto a = member(s, "allOf")) {
      if (!a->IsArray()) return fail("allOf must be an array");
      if (a->Size() > 1) return fail("allOf with more than one schema is not supported");
      return a->Empty() ? basic("json-value") : visit((*a)[0], hint);
    }
    if (auto t = member(s, "type")) {
      if (t->IsString()) return typed(s, t->GetString(), hint);
      if (!t->IsArray()) return fail("type must be a string or an array of strings");
      std::vector<piece> alts;
      std::set<std::string> seen;
      for (const auto& x : t->GetArray()) {
        if (!x.IsString()) return fail("type must be a string or an array of strings");
        if (!seen.insert(x.GetString()).second) continue;
        std::string name = hint + "-" + sanitize(x.GetString());
        alts.push_back(atom(typed(s, x.GetString(), name), name));
      }
      if (!alts.empty()) return any_of(alts);
    }
    for (const char* key : {"properties", "additionalProperties", "unevaluatedProperties"})
      if (member(s, key)) return object(s, hint);
    for (const char* key : {"items", "prefixItems", "unevaluatedItems"})
      if (member(s, key)) return array(s, hint);
    return basic("json-value");
  }

  piece any_of(const std::vector<piece>& alts) {
    if (alts.size() == 1) return alts[0];
    piece out{"(", true, {}};
    for (size_t i = 0; i < alts.size(); ++i) {
      out.expr += (i == 0 ? " " : " | ") + alts[i].expr;
      out.heads.insert(out.heads.end(), alts[i].heads.begin(), alts[i].heads.end());
    }
    out.expr += " )";
    return out;
  }

  piece one_of(const json_value& a, const std::string& key, const std::string& hint) {
    if (!a.IsArray() || a.Empty()) return fail(key + " must be a non-empty array");
    std::vector<piece> alts;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      std::string name = hint + "-case-" + std::to_string(i);
      alts.push_back(atom(visit(a[i], name), name));
    }
    return any_of(alts);
  }

  piece ref(const json_value& r) {
    if (!r.IsString()) return fail("$ref must be a string");
    std::string uri(r.GetString(), r.GetStringLength());
    if (uri == "#") return rule_for(root_, "root");
    if (uri.rfind("#/", 0) != 0)
      return fail("$ref \"" + uri +
                  "\" is not supported: only \"#\" and \"#/...\" refer to the schema");
    auto target = resolve_pointer(root_, uri);
    if (!target) return fail(target.message());
    std::string name;
    for (const auto& seg : target->segments)
      if (seg != "$defs" && seg != "definitions") name += (name.empty() ? "" : "-") + sanitize(seg);
    bool usable = !name.empty() && std::isalpha(static_cast<unsigned char>(name[0]));
    return rule_for(*target->value, usable ? name : "def-" + name);
  }

  piece typed(const json_value& s, const std::string& type, const std::string& hint) {
    if (type == "string") return string(s);
    if (type == "integer") return number(s, true);
    if (type == "number") return number(s, false);
    if (type == "boolean") return basic("json-boolean");
    if (type == "null") return {R"("null")", true, {}};
    if (type == "object") return object(s, hint);
    if (type == "array") return array(s, hint);
    return fail("unsupported type \"" + type + "\"");
  }

  bool only_annotations(const json_value& s) {
    for (const auto& m : s.GetObject())
      if (!is_annotation({m.name.GetString(), m.name.GetStringLength()})) return false;
    return true;
  }

  // A count keyword (minItems, ...): a non-negative integer that fits an int, else an error.
  std::optional<int64_t> count(const json_value& s, const char* key) {
    const json_value* v = member(s, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsInt64() || v->GetInt64() < 0 || v->GetInt64() > INT32_MAX) {
      fail(std::string(key) + " must be a non-negative integer not exceeding 2147483647");
      return std::nullopt;
    }
    return v->GetInt64();
  }

  piece string(const json_value& s) {
    if (member(s, "pattern")) return fail("pattern is not supported in a JSON schema");
    if (const json_value* f = member(s, "format")) {
      const char* rule =
          f->IsString() ? format_rule({f->GetString(), f->GetStringLength()}) : nullptr;
      if (rule == nullptr) return fail("format " + compact_json(*f) + " is not supported");
      return {seq({R"("\"")", basic(rule).expr, R"("\"")"}), true, {}};
    }
    auto lo = count(s, "minLength"), hi = count(s, "maxLength");
    if (!lo && !hi) return basic("json-string");
    if (lo && hi && *lo > *hi) return fail("minLength is greater than maxLength");
    std::string chars = repeat(R"([^"\\\x00-\x1f])", lo.value_or(0), hi.value_or(-1));
    return {seq({R"("\"")", chars, R"("\"")"}), true, {}};
  }

  piece number(const json_value& s, bool integer) {
    auto range = integer ? integer_range_expr(s) : number_range_expr(s);
    if (!range) return fail(range.message());
    if (*range) return {**range, true, {}};
    return basic(integer ? "json-integer" : "json-number");
  }

  // A listed member: its key as JSON text (without quotes) and its value's grammar.
  struct property {
    std::string key;
    std::string value;
    bool required;
  };
  piece object(const json_value& s, const std::string& hint);
  piece map_object(const std::string& value, int64_t min, std::optional<int64_t> max);
  piece listed_object(const std::vector<property>& props, const std::string& other_value,
                      const std::string& hint);
  piece array(const json_value& s, const std::string& hint);

  // -- output --------------------------------------------------------------------------------

  void check_left_recursion() {
    std::map<std::string, int> state;  // 1: on the path, 2: done
    std::function<void(const std::string&)> walk = [&](const std::string& name) {
      if (error_ || state[name] == 2) return;
      if (state[name] == 1) {
        fail("the schema reaches itself through $ref (rule " + name +
             ") before an object or array opens: no value could end");
        return;
      }
      state[name] = 1;
      for (const auto& h : heads_[name])
        walk(h);
      state[name] = 2;
    };
    for (const auto& r : rules_)
      walk(r.first);
  }

  std::string text() {
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& b : fixed_rules()) {
        if (!basics_used_.count(b.name)) continue;
        for (const char* u : b.uses) {
          bool wanted = u != nullptr && (std::string_view(u) != "ws" || options_.any_whitespace);
          if (wanted && basics_used_.insert(u).second) grew = true;
        }
      }
    }
    std::string out;
    for (const auto& [name, body] : rules_)
      out += name + " ::= " + body + "\n";
    for (const auto& b : fixed_rules()) {
      if (!basics_used_.count(b.name)) continue;
      std::string body = b.body;
      for (size_t at; (at = body.find("WS ")) != body.npos;)
        body.replace(at, 3, options_.any_whitespace ? "ws " : "");
      out += std::string(b.name) + " ::= " + body + "\n";
    }
    return out;
  }

  const json_value& root_;
  const json_schema_options& options_;
  std::optional<std::string> error_;
  std::vector<std::pair<std::string, std::string>> rules_;  // in order of creation, root first
  std::map<std::string, size_t> rule_index_;
  std::unordered_map<const json_value*, std::string> schema_rules_;
  std::map<std::string, std::vector<std::string>> heads_;
  std::set<std::string> basics_used_;
  int depth_ = 0;
};

piece converter::object(const json_value& s, const std::string& hint) {
  if (only_annotations(s)) return basic("json-object");
  for (const char* key : {"patternProperties", "propertyNames"})
    if (member(s, key)) return fail(std::string(key) + " is not supported in a JSON schema");
  const json_value* listed = member(s, "properties");
  if (listed && !listed->IsObject()) return fail("properties must be an object");
  std::set<std::string> required;
  if (const json_value* r = member(s, "required")) {
    if (!r->IsArray()) return fail("required must be an array of strings");
    for (const auto& x : r->GetArray()) {
      if (!x.IsString()) return fail("required must be an array of strings");
      required.emplace(x.GetString(), x.GetStringLength());
    }
  }
  std::vector<property> props;
  std::set<std::string> seen;
  if (listed) {
    for (const auto& m : listed->GetObject()) {
      std::string key(m.name.GetString(), m.name.GetStringLength());
      if (!seen.insert(key).second) continue;
      std::string name = hint + "-" + sanitize(key);
      props.push_back(
          {json_string_body(key), atom(visit(m.value, name), name).expr, required.count(key) > 0});
    }
  }
  // Other members: as additionalProperties says, else unevaluatedProperties; none in strict mode.
  const json_value* extra = member(s, "additionalProperties");
  if (!extra && !(options_.disable_additional_properties && listed))
    extra = member(s, "unevaluatedProperties");
  std::string extra_value;
  if (extra && extra->IsBool() && extra->GetBool()) extra_value = basic("json-value").expr;
  if (extra && extra->IsObject())
    extra_value = atom(visit(*extra, hint + "-extra"), hint + "-extra").expr;
  if (extra && !extra->IsBool() && !extra->IsObject())
    return fail("additionalProperties must be a boolean or an object");
  auto min_props = count(s, "minProperties"), max_props = count(s, "maxProperties");
  if (error_) return {};
  if ((min_props || max_props) && !props.empty())
    return fail("minProperties and maxProperties are not supported on an object with properties");
  if (min_props && max_props && *min_props > *max_props)
    return fail("minProperties is greater than maxProperties");
  if (extra_value.empty() && min_props.value_or(0) > 0)
    return fail(
        "minProperties is greater than the number of properties, but additional "
        "properties are not allowed");
  if (props.empty()) return map_object(extra_value, min_props.value_or(0), max_props);
  return listed_object(props, extra_value, hint);
}

// Only members with any key, maybe counted: "{" ws kv ( sep kv ){lo,hi} ws "}".
piece converter::map_object(const std::string& value, int64_t min, std::optional<int64_t> max) {
  std::string empty = seq({R"("{")", ws(), R"("}")"});
  if (value.empty() || max == 0) return {empty, true, {}};
  std::string kv = seq({basic("json-string").expr, colon(), value});
  std::string more = repeat(seq({comma(), kv}), std::max<int64_t>(min, 1) - 1, max ? *max - 1 : -1);
  std::string full = seq({R"("{")", ws(), kv, more, ws(), R"("}")"});
  return min > 0 ? piece{full, true, {}} : piece{full + " | " + empty, false, {}};
}

// Members in the order of `properties`, any subset holding the required ones, then other
// members (keys none of the listed ones) when `other_value` is not empty. rest-i is what may
// follow once a member before i is written:
//   root        ::= "{" ws ( a rest-1 | b rest-2 | c ) ws "}" | "{" ws "}"
//   root-rest-1 ::= ( sep b rest-2 | rest-2 )     (b optional; when required: sep b rest-2)
//   root-rest-2 ::= ( sep c )?                     (then `( sep other-member )*` if allowed)
piece converter::listed_object(const std::vector<property>& props, const std::string& other_value,
                               const std::string& hint) {
  auto kv = [&](const property& p) {
    return seq({gbnf_literal("\"" + p.key + "\""), colon(), p.value});
  };
  size_t n = props.size();
  std::vector<std::string> rest(n + 1);
  std::string other_kv;
  if (!other_value.empty()) {
    std::vector<std::string> keys;
    for (const auto& p : props)
      keys.push_back(p.key);
    auto name = [&](size_t i) {
      return reserve(hint + "-other-key" + (i == 0 ? "" : "-" + std::to_string(i)));
    };
    auto rules = string_except_rules(name, keys);
    for (const auto& r : rules)
      define(r.name, {r.body, false, {}});
    basic("json-string-rest");
    basic("json-escape");
    other_kv = seq({R"("\"")", rules[0].name, colon(), other_value});
    rest[n] = repeat(seq({comma(), other_kv}), 0, -1);
  }
  for (size_t i = 1; i < n; ++i)
    rest[i] = reserve(hint + "-rest-" + std::to_string(i));
  for (size_t i = n - 1; i >= 1; --i) {
    std::string with = seq({comma(), kv(props[i]), rest[i + 1]});
    std::string body = props[i].required     ? with
                       : rest[i + 1].empty() ? "( " + with + " )?"
                                             : "( " + with + " | " + rest[i + 1] + " )";
    define(rest[i], {body, true, {}});
  }
  // The first member: any listed one up to the first required one, or another member.
  bool any_required = std::any_of(props.begin(), props.end(), [](auto& p) { return p.required; });
  std::string first;
  int num_first = 0;
  for (size_t i = 0; i < n; ++i) {
    first += (num_first++ == 0 ? "" : " | ") + seq({kv(props[i]), rest[i + 1]});
    if (props[i].required) break;
  }
  if (!other_kv.empty() && !any_required) {
    first += " | " + seq({other_kv, rest[n]});
    ++num_first;
  }
  if (num_first > 1) first = "( " + first + " )";
  std::string full = seq({R"("{")", ws(), first, ws(), R"("}")"});
  if (any_required) return {full, true, {}};
  return {full + " | " + seq({R"("{")", ws(), R"("}")"}), false, {}};
}

// prefixItems in order, then items: with P = 2 and minItems = 1,
//   "[" ws p0 ( sep p1 ( sep item )* )? ws "]"
piece converter::array(const json_value& s, const std::string& hint) {
  if (only_annotations(s)) return basic("json-array");
  std::vector<std::string> prefix;
  if (const json_value* p = member(s, "prefixItems")) {
    if (!p->IsArray()) return fail("prefixItems must be an array");
    for (rapidjson::SizeType i = 0; i < p->Size(); ++i) {
      std::string name = hint + "-" + std::to_string(i);
      prefix.push_back(atom(visit((*p)[i], name), name).expr);
    }
  }
  const json_value* items = member(s, "items");
  if (!items) items = member(s, "unevaluatedItems");
  std::string item;
  if (items && items->IsBool() && items->GetBool()) item = basic("json-value").expr;
  if (items && items->IsObject()) item = atom(visit(*items, hint + "-item"), hint + "-item").expr;
  if (items && !items->IsBool() && !items->IsObject())
    return fail("items must be a boolean or an object (prefixItems lists the items of a tuple)");
  int64_t lo = count(s, "minItems").value_or(0);
  std::optional<int64_t> hi = count(s, "maxItems");
  if (error_) return {};
  auto n = static_cast<int64_t>(prefix.size());
  if (hi && lo > *hi) return fail("minItems is greater than maxItems");
  if (item.empty() && lo > n)
    return fail(
        "minItems is greater than the number of prefixItems, but additional items are "
        "not allowed");
  if (hi && *hi < n) return fail("maxItems is less than the number of prefixItems");

  std::string empty = seq({R"("[")", ws(), R"("]")"});
  if ((n == 0 && item.empty()) || hi == 0) return {empty, true, {}};
  std::string comma = this->comma(), items_expr;
  if (n == 0) {
    items_expr =
        seq({item, repeat(seq({comma, item}), std::max<int64_t>(lo, 1) - 1, hi ? *hi - 1 : -1)});
  } else {
    std::string tail =
        item.empty() ? ""
                     : repeat(seq({comma, item}), std::max<int64_t>(lo - n, 0), hi ? *hi - n : -1);
    for (int64_t i = n - 1; i >= 1; --i) {
      std::string t = seq({comma, prefix[static_cast<size_t>(i)], tail});
      tail = i < lo ? t : "( " + t + " )?";
    }
    items_expr = seq({prefix[0], tail});
  }
  std::string full = seq({R"("[")", ws(), items_expr, ws(), R"("]")"});
  return lo > 0 ? piece{full, true, {}} : piece{full + " | " + empty, false, {}};
}

}  // namespace

result<std::string> json_schema_to_grammar(std::string_view schema_json,
                                           const json_schema_options& options) {
  rapidjson::Document doc;
  // Iterative: a hostile, deeply nested document cannot exhaust the stack while parsing.
  constexpr unsigned flags = rapidjson::kParseIterativeFlag |
                             rapidjson::kParseValidateEncodingFlag |
                             rapidjson::kParseFullPrecisionFlag;
  doc.Parse<flags>(schema_json.data(), schema_json.size());
  if (doc.HasParseError())
    return error{std::string("the JSON schema is not valid JSON: ") +
                 rapidjson::GetParseError_En(doc.GetParseError()) + " (at offset " +
                 std::to_string(doc.GetErrorOffset()) + ")"};
  if (!doc.IsObject() && !doc.IsBool()) return error{"the JSON schema must be an object or true"};
  if (auto why = vllm_rejection(doc)) return error{*why};
  return converter(doc, options).run();
}

std::string json_object_grammar(bool any_whitespace) {
  json_schema_options options;
  options.any_whitespace = any_whitespace;
  return json_schema_to_grammar(R"({"type": "object"})", options).value();
}

}  // namespace troupe::runtime::grammar
