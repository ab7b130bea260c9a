#include "runtime/grammar/structural_tag_grammar.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar_rules.hpp"
#include "runtime/grammar/regex_grammar.hpp"

namespace troupe::runtime::grammar {
namespace {

using json_value = rapidjson::Value;
using json_schema_detail::gbnf_literal;
using strings = std::vector<std::string>;

std::string to_json(const json_value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The code points of UTF-8 text (RapidJSON validated it).
std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n && i + static_cast<size_t>(k) < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

std::string class_member(char32_t cp) {
  return cp <= 0xFFFF ? fmt::format("\\u{:04X}", static_cast<uint32_t>(cp))
                      : fmt::format("\\U{:08X}", static_cast<uint32_t>(cp));
}

std::string code_point_literal(char32_t cp) {
  return "\"" + class_member(cp) + "\"";
}

// `( "a" | "b" )`: one of the strings, or nothing for none.
std::string one_of(const strings& texts) {
  if (texts.empty()) return "";
  std::string out = "(";
  for (size_t i = 0; i < texts.size(); ++i)
    out += (i == 0 ? " " : " | ") + gbnf_literal(texts[i]);
  return out + " )";
}

// What completing one of free text's strings does; the lower value wins when several complete
// at the same character.
enum class pattern_kind { exclude, end, trigger };

// Free text as an automaton over the strings that matter to it (module comment).
struct free_text {
  strings excludes;
  strings ends;                   // the text stops after one of these, which it then holds
  strings triggers;               // each continues with its continuation instead
  strings trigger_continuations;  // grammar after a trigger's last character
  bool may_stop = true;           // the text may end anywhere (when it has no ends)
};

// Free text that stops after one of `ends` (an empty one: anywhere), or anywhere without ends.
free_text text_until(const strings& ends) {
  free_text spec;
  spec.may_stop = ends.empty();
  for (const auto& end : ends) {
    if (end.empty()) {
      spec.may_stop = true;
    } else {
      spec.ends.push_back(end);
    }
  }
  return spec;
}

class builder {
 public:
  explicit builder(const json_schema_options& options) : options_(options) {}

  // A rule matching `f` followed by one of `ends` (nothing when empty).
  result<std::string> build(const json_value& f, const strings& ends, int depth);
  std::string text() const { return rules_; }

 private:
  std::string add(std::string_view kind, const std::string& body) {
    std::string name = fmt::format("st{}-{}", next_++, kind);
    rules_ += name + " ::= " + body + "\n";
    return name;
  }
  // A rule name for an embedded grammar with its own `root`.
  std::string embed(const std::string& grammar_text) {
    const std::string prefix = fmt::format("st{}-", next_++);
    rules_ += prefix_rule_names(grammar_text, prefix) + "\n";
    return prefix + "root";
  }
  std::string automaton(const free_text& spec);
  result<std::string> build_tag(const json_value& tag, const strings& ends, int depth);
  result<std::string> build_triggered(const json_value& f, const strings& ends, int depth);
  result<std::string> build_separated(const json_value& f, const strings& ends, int depth);
  result<std::string> build_leaf(std::string_view type, const json_value& f, const strings& ends);

  const json_schema_options& options_;
  std::string rules_;
  int next_ = 0;
};

error invalid(std::string_view what) {
  return error{fmt::format("Invalid structural tag specification: {}.", what)};
}

const json_value* field(const json_value& f, const char* key) {
  auto it = f.FindMember(key);
  return it == f.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

result<std::string> string_field(const json_value& f, const char* key) {
  const json_value* v = field(f, key);
  if (v == nullptr || !v->IsString()) return invalid(fmt::format("'{}' must be a string", key));
  return std::string(v->GetString(), v->GetStringLength());
}

result<strings> string_list(const json_value& f, const char* key, bool allow_empty_strings) {
  strings out;
  const json_value* v = field(f, key);
  if (v == nullptr) return out;
  if (!v->IsArray()) return invalid(fmt::format("'{}' must be a list of strings", key));
  for (const auto& s : v->GetArray()) {
    if (!s.IsString() || (!allow_empty_strings && s.GetStringLength() == 0))
      return invalid(fmt::format("'{}' must be a list of non-empty strings", key));
    out.emplace_back(s.GetString(), s.GetStringLength());
  }
  return out;
}

bool flag(const json_value& f, const char* key) {
  const json_value* v = field(f, key);
  return v != nullptr && v->IsBool() && v->GetBool();
}

result<std::string> builder::build(const json_value& f, const strings& ends, int depth) {
  if (depth > max_structural_tag_depth) return invalid("nested too deeply");
  if (!f.IsObject()) return invalid("a format must be an object");
  auto type = string_field(f, "type");
  if (!type) return type.err();
  const std::string after = one_of(ends);
  if (*type == "sequence" || *type == "or") {
    const json_value* elements = field(f, "elements");
    if (elements == nullptr || !elements->IsArray() || elements->Empty())
      return invalid(fmt::format("'{}' needs a non-empty list of elements", *type));
    const auto& list = elements->GetArray();
    std::string body;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      // A sequence's ends belong to its last element (free text there runs until them).
      const bool last = i + 1 == list.Size();
      auto part = build(list[i], *type == "or" || last ? ends : strings{}, depth + 1);
      if (!part) return part.err();
      body += (i == 0 ? "" : *type == "or" ? " | " : " ") + *part;
    }
    return add(*type == "or" ? "or" : "seq", body);
  }
  if (*type == "tag") return build_tag(f, ends, depth);
  if (*type == "triggered_tags") return build_triggered(f, ends, depth);
  if (*type == "tags_with_separator") return build_separated(f, ends, depth);
  if (*type == "optional" || *type == "plus" || *type == "star" || *type == "repeat") {
    const json_value* content = field(f, "content");
    if (content == nullptr) return invalid(fmt::format("'{}' needs a content", *type));
    auto inner = build(*content, {}, depth + 1);
    if (!inner) return inner.err();
    std::string bound = *type == "optional" ? "?" : *type == "plus" ? "+" : "*";
    if (*type == "repeat") {
      const json_value* lo = field(f, "min");
      const json_value* hi = field(f, "max");
      if (lo == nullptr || hi == nullptr || !lo->IsInt() || !hi->IsInt() || lo->GetInt() < 0 ||
          hi->GetInt() < -1 || (hi->GetInt() >= 0 && hi->GetInt() < lo->GetInt()))
        return invalid("'repeat' needs 0 <= min <= max (or max -1)");
      bound = hi->GetInt() < 0 ? fmt::format("{{{},}}", lo->GetInt())
                               : fmt::format("{{{},{}}}", lo->GetInt(), hi->GetInt());
    }
    return add(*type, fmt::format("( {} ){} {}", *inner, bound, after));
  }
  return build_leaf(*type, f, ends);
}

result<std::string> builder::build_leaf(std::string_view type, const json_value& f,
                                        const strings& ends) {
  const std::string after = one_of(ends);
  if (type == "const_string") {
    auto value = string_field(f, "value");
    if (!value) return value.err();
    return add("const", gbnf_literal(*value) + " " + after);
  }
  if (type == "any_text") {
    if (field(f, "max_tokens") != nullptr || field(f, "max_chars") != nullptr)
      return error{
          "structural tag any_text with max_tokens or max_chars is not supported by troupe."};
    auto excludes = string_list(f, "excludes", false);
    if (!excludes) return excludes.err();
    free_text spec = text_until(ends);
    spec.excludes = std::move(*excludes);
    return automaton(spec);
  }
  std::string grammar_text;
  if (type == "json_schema") {
    const json_value* schema = field(f, "json_schema");
    if (schema == nullptr || !(schema->IsObject() || schema->IsBool()))
      return invalid("'json_schema' must be an object or a boolean");
    const json_value* style = field(f, "style");
    if ((style != nullptr &&
         !(style->IsString() && std::string_view(style->GetString()) == "json")) ||
        flag(f, "any_order") || field(f, "max_whitespace_cnt") != nullptr ||
        (field(f, "excludes") != nullptr &&
         !(field(f, "excludes")->IsArray() && field(f, "excludes")->Empty())))
      return error{
          "structural tag json_schema with a style other than \"json\", any_order, "
          "max_whitespace_cnt or excludes is not supported by troupe."};
    auto g = json_schema_to_grammar(to_json(*schema), options_);
    if (!g) return g.err();
    grammar_text = std::move(*g);
  } else if (type == "grammar") {
    auto g = string_field(f, "grammar");
    if (!g) return g.err();
    if (auto compiled = compile_grammar(*g); !compiled)
      return invalid("grammar: " + compiled.message());
    grammar_text = std::move(*g);
  } else if (type == "regex") {
    auto pattern = string_field(f, "pattern");
    if (!pattern) return pattern.err();
    auto g = regex_to_grammar(*pattern);
    if (!g) return g.err();
    grammar_text = std::move(*g);
  } else {
    return error{fmt::format("structural tag format '{}' is not supported by troupe.", type)};
  }
  return add("leaf", embed(grammar_text) + " " + after);
}

// begin, then the content running until one of the tag's ends, then the outer ends.
result<std::string> builder::build_tag(const json_value& tag, const strings& ends, int depth) {
  if (!tag.IsObject()) return invalid("a tag must be an object");
  const json_value* begin = field(tag, "begin");
  const json_value* end = field(tag, "end");
  const json_value* content = field(tag, "content");
  if (begin != nullptr && begin->IsObject())
    return error{"structural tag token begins and ends are not supported by troupe."};
  auto begin_text = string_field(tag, "begin");
  if (!begin_text) return begin_text.err();
  strings tag_ends;
  if (end != nullptr && end->IsString()) {
    tag_ends.emplace_back(end->GetString(), end->GetStringLength());
  } else if (end != nullptr && end->IsArray() && !end->Empty()) {
    auto list = string_list(tag, "end", true);
    if (!list) return list.err();
    tag_ends = std::move(*list);
  } else if (end != nullptr && end->IsObject()) {
    return error{"structural tag token begins and ends are not supported by troupe."};
  } else {
    return invalid("a tag's 'end' must be a string or a list of strings");
  }
  if (content == nullptr) return invalid("a tag needs a content");
  auto inner = build(*content, tag_ends, depth + 1);
  if (!inner) return inner.err();
  return add("tag", gbnf_literal(*begin_text) + " " + *inner + " " + one_of(ends));
}

result<std::string> builder::build_triggered(const json_value& f, const strings& ends, int depth) {
  auto triggers = string_list(f, "triggers", false);
  if (!triggers) return triggers.err();
  auto excludes = string_list(f, "excludes", false);
  if (!excludes) return excludes.err();
  const json_value* tags = field(f, "tags");
  if (triggers->empty() || tags == nullptr || !tags->IsArray() || tags->Empty())
    return invalid("triggered_tags needs triggers and tags");
  const bool single = flag(f, "stop_after_first");
  // Each tag, whole and as what follows its trigger.
  std::vector<std::string> whole;
  std::vector<std::string> after_trigger(triggers->size());
  for (const auto& tag : tags->GetArray()) {
    auto begin = tag.IsObject() ? string_field(tag, "begin") : invalid("a tag must be an object");
    if (!begin) return begin.err();
    size_t matched = triggers->size();
    for (size_t t = 0; t < triggers->size(); ++t) {
      if (begin->compare(0, (*triggers)[t].size(), (*triggers)[t]) == 0) {
        if (matched != triggers->size()) return invalid("a tag matches more than one trigger");
        matched = t;
      }
    }
    if (matched == triggers->size()) return invalid("a tag does not match any trigger");
    auto rule = build_tag(tag, {}, depth + 1);
    if (!rule) return rule.err();
    whole.push_back(*rule);
    // The tag without its trigger: the rest of its begin, its content and its end.
    rapidjson::Document::AllocatorType allocator;
    json_value rest;
    rest.CopyFrom(tag, allocator);
    const std::string tail = begin->substr((*triggers)[matched].size());
    rest["begin"].SetString(tail.data(), static_cast<rapidjson::SizeType>(tail.size()), allocator);
    auto rest_rule = build_tag(rest, {}, depth + 1);
    if (!rest_rule) return rest_rule.err();
    auto& alternatives = after_trigger[matched];
    alternatives += (alternatives.empty() ? "" : " | ") + *rest_rule;
  }
  // After a tag: more text, or with stop_after_first the outer ends (or nothing).
  const std::string text_rule = fmt::format("st{}-text", next_++);
  const std::string after_tag = single ? one_of(ends) : text_rule;
  free_text spec = text_until(ends);
  spec.excludes = std::move(*excludes);
  spec.triggers = std::move(*triggers);
  for (const auto& alternatives : after_trigger) {
    // A trigger no tag begins with (each tag has one): the text cannot go on past it.
    spec.trigger_continuations.push_back(alternatives.empty()
                                             ? "[^\\u0000-\\U0010FFFF]"
                                             : fmt::format("( {} ) {}", alternatives, after_tag));
  }
  rules_ += text_rule + " ::= " + automaton(spec) + "\n";
  if (!flag(f, "at_least_one")) return text_rule;
  std::string first = "(";
  for (size_t i = 0; i < whole.size(); ++i)
    first += (i == 0 ? " " : " | ") + whole[i];
  return add("first", first + " ) " + after_tag);
}

// The tags, separated, with nothing else between them; then the outer ends.
result<std::string> builder::build_separated(const json_value& f, const strings& ends, int depth) {
  auto separator = string_field(f, "separator");
  if (!separator) return separator.err();
  const json_value* tags = field(f, "tags");
  if (tags == nullptr || !tags->IsArray() || tags->Empty())
    return invalid("tags_with_separator needs tags");
  std::string one = "(";
  for (rapidjson::SizeType i = 0; i < tags->Size(); ++i) {
    auto rule = build_tag((*tags)[i], {}, depth + 1);
    if (!rule) return rule.err();
    one += (i == 0 ? " " : " | ") + *rule;
  }
  one += " )";
  std::string body = flag(f, "stop_after_first")
                         ? one
                         : fmt::format("{} ( {} {} )*", one, gbnf_literal(*separator), one);
  if (!flag(f, "at_least_one")) body = "( " + body + " )?";
  return add("tags", body + " " + one_of(ends));
}

// The rules of free text as `spec` says; returns its start rule.
std::string builder::automaton(const free_text& spec) {
  struct node {
    std::map<char32_t, int> next;
    int fail = 0;
    std::optional<std::pair<pattern_kind, size_t>> out;  // a string completes here
  };
  std::vector<node> nodes(1);
  std::vector<char32_t> alphabet;
  auto insert = [&](const std::string& text, pattern_kind kind, size_t index) {
    int at = 0;
    for (char32_t c : code_points(text)) {
      alphabet.push_back(c);
      auto it = nodes[static_cast<size_t>(at)].next.find(c);
      if (it == nodes[static_cast<size_t>(at)].next.end()) {
        nodes.emplace_back();
        it = nodes[static_cast<size_t>(at)]
                 .next.emplace(c, static_cast<int>(nodes.size() - 1))
                 .first;
      }
      at = it->second;
    }
    auto& out = nodes[static_cast<size_t>(at)].out;
    if (!out || kind < out->first) out = std::pair(kind, index);
  };
  for (size_t i = 0; i < spec.excludes.size(); ++i)
    insert(spec.excludes[i], pattern_kind::exclude, i);
  for (size_t i = 0; i < spec.ends.size(); ++i)
    insert(spec.ends[i], pattern_kind::end, i);
  for (size_t i = 0; i < spec.triggers.size(); ++i)
    insert(spec.triggers[i], pattern_kind::trigger, i);
  std::sort(alphabet.begin(), alphabet.end());
  alphabet.erase(std::unique(alphabet.begin(), alphabet.end()), alphabet.end());
  // Failure links breadth first; a node completes what its longest proper suffix completes too.
  std::vector<int> order{0};
  for (size_t q = 0; q < order.size(); ++q) {
    const int at = order[q];
    for (const auto& [c, child] : nodes[static_cast<size_t>(at)].next) {
      int f = nodes[static_cast<size_t>(at)].fail;
      while (at != 0 && f != 0 && nodes[static_cast<size_t>(f)].next.count(c) == 0)
        f = nodes[static_cast<size_t>(f)].fail;
      const auto hit = nodes[static_cast<size_t>(f)].next.find(c);
      node& n = nodes[static_cast<size_t>(child)];
      n.fail = at != 0 && hit != nodes[static_cast<size_t>(f)].next.end() ? hit->second : 0;
      const auto& inherited = nodes[static_cast<size_t>(n.fail)].out;
      if (inherited && (!n.out || inherited->first < n.out->first)) n.out = inherited;
      order.push_back(child);
    }
  }
  auto step = [&](int at, char32_t c) {
    for (;;) {
      const auto it = nodes[static_cast<size_t>(at)].next.find(c);
      if (it != nodes[static_cast<size_t>(at)].next.end()) return it->second;
      if (at == 0) return 0;
      at = nodes[static_cast<size_t>(at)].fail;
    }
  };
  const int id = next_++;
  auto state = [id](int n) { return fmt::format("st{}-s{}", id, n); };
  std::string others = "[";
  if (alphabet.empty()) {
    others += "\\u0000-\\U0010FFFF]";
  } else {
    others += "^";
    for (char32_t c : alphabet)
      others += class_member(c);
    others += "]";
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (nodes[n].out) continue;  // a string completed: not a state of the text
    std::string body = spec.may_stop ? "\"\" | " : "";
    body += others + " " + state(0);
    for (char32_t c : alphabet) {
      const int to = step(static_cast<int>(n), c);
      const auto& out = nodes[static_cast<size_t>(to)].out;
      if (!out) {
        body += " | " + code_point_literal(c) + " " + state(to);
      } else if (out->first == pattern_kind::end) {
        body += " | " + code_point_literal(c);
      } else if (out->first == pattern_kind::trigger) {
        body += " | " + code_point_literal(c) + " " + spec.trigger_continuations[out->second];
      }  // an excluded string: no way on
    }
    rules_ += state(static_cast<int>(n)) + " ::= " + body + "\n";
  }
  return state(0);
}

}  // namespace

result<std::string> structural_tag_to_grammar(std::string_view json,
                                              const json_schema_options& options) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return invalid(fmt::format("{} at offset {}", rapidjson::GetParseError_En(doc.GetParseError()),
                               doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return invalid("it must be a JSON object");
  builder b(options);
  result<std::string> root = invalid("it needs 'format', or 'structures' and 'triggers'");
  if (const json_value* structures = field(doc, "structures")) {
    // xgrammar's from_legacy_structural_tag: triggered tags of begin, a JSON schema, end.
    if (!structures->IsArray()) return invalid("'structures' must be a list");
    rapidjson::Document legacy(rapidjson::kObjectType);
    auto& a = legacy.GetAllocator();
    json_value tags(rapidjson::kArrayType);
    for (const auto& s : structures->GetArray()) {
      if (!s.IsObject() || field(s, "schema") == nullptr)
        return invalid("a structure needs 'begin', 'schema' and 'end'");
      json_value content(rapidjson::kObjectType);
      content.AddMember("type", "json_schema", a);
      json_value schema;
      const json_value& given = *field(s, "schema");
      if (given.IsString()) {
        rapidjson::Document parsed;
        parsed.Parse(given.GetString(), given.GetStringLength());
        if (parsed.HasParseError()) return invalid("a structure's schema is not JSON");
        schema.CopyFrom(parsed, a);
      } else {
        schema.CopyFrom(given, a);
      }
      content.AddMember("json_schema", schema, a);
      json_value tag(rapidjson::kObjectType);
      tag.AddMember("type", "tag", a);
      for (const char* key : {"begin", "end"}) {
        json_value v;
        if (const json_value* given_v = field(s, key)) v.CopyFrom(*given_v, a);
        tag.AddMember(rapidjson::StringRef(key), v, a);
      }
      tag.AddMember("content", content, a);
      tags.PushBack(tag, a);
    }
    json_value triggers;
    if (const json_value* given = field(doc, "triggers")) triggers.CopyFrom(*given, a);
    legacy.AddMember("type", "triggered_tags", a);
    legacy.AddMember("triggers", triggers, a);
    legacy.AddMember("tags", tags, a);
    root = b.build(legacy, {}, 0);
  } else if (const json_value* format = field(doc, "format")) {
    root = b.build(*format, {}, 0);
  }
  if (!root) return root.err();
  std::string text = "root ::= " + *root + "\n" + b.text();
  if (auto compiled = compile_grammar(text); !compiled)
    return invalid("its grammar does not compile: " + compiled.message());
  return text;
}

}  // namespace troupe::runtime::grammar
