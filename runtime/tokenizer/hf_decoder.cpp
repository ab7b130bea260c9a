#include "runtime/tokenizer/hf_decoder.hpp"

#include <rapidjson/document.h>

#include "runtime/tokenizer/byte_level.hpp"
#include "runtime/tokenizer/hf_pattern.hpp"
#include "runtime/tokenizer/hf_text.hpp"
#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime {

enum class step_kind { byte_level, metaspace, byte_fallback, fuse, strip, replace };

struct hf_decoder::step {
  step_kind kind;
  std::string content;  // Strip content, Replace content, Metaspace replacement
  size_t start = 0, stop = 0;
  bool prepend = true;  // Metaspace: prepend_scheme != never
  hf_pattern pattern = hf_pattern::literal("");
};

namespace {

using step = hf_decoder::step;

std::string json_string(const rapidjson::Value& json, const char* key, std::string fallback = {}) {
  if (!json.HasMember(key) || !json[key].IsString()) return fallback;
  return std::string(json[key].GetString(), json[key].GetStringLength());
}

// "<0xXX>" -> the byte, or -1.
int byte_token(std::string_view t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
  int value = 0;
  for (const char c : t.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9')
      value += c - '0';
    else if (c >= 'A' && c <= 'F')
      value += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      value += c - 'a' + 10;
    else
      return -1;
  }
  return value;
}

// Rust's from_utf8_lossy: one U+FFFD per maximal invalid subpart.
std::string lossy(std::string_view bytes) {
  std::string out;
  (void)utf8::append_repaired(bytes, /*final=*/true, out);
  return out;
}

// Byte-level text -> raw bytes; a token with a character outside the alphabet stays as it is.
std::string byte_level_bytes(const std::string& token) {
  for (size_t pos = 0; pos < token.size();) {
    const auto [cpt, length] = hf_text::next_codepoint(token, pos);
    if (byte_level::byte_of_codepoint(cpt) < 0) return token;
    pos += length;
  }
  return byte_level::decode(token);
}

std::string metaspace_token(const step& s, const std::string& token, size_t index) {
  const bool drop = index == 0 && s.prepend;
  return hf_pattern::literal(s.content).replace_all(token, drop ? "" : " ");
}

std::string strip_token(const step& s, const std::string& token) {
  // Up to `start` leading and `stop` trailing characters equal to `content`.
  std::string_view t = token;
  for (size_t i = 0; i < s.start && !s.content.empty() && t.starts_with(s.content); ++i)
    t.remove_prefix(s.content.size());
  for (size_t i = 0; i < s.stop && !s.content.empty() && t.ends_with(s.content); ++i)
    t.remove_suffix(s.content.size());
  return std::string(t);
}

std::vector<std::string> byte_fallback_chain(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  std::string bytes;
  size_t num_bytes = 0;
  const auto flush = [&] {
    if (num_bytes == 0) return;
    std::string repaired;
    (void)utf8::append_repaired(bytes, true, repaired);
    if (repaired == bytes)
      out.push_back(bytes);
    else
      for (size_t i = 0; i < num_bytes; ++i)
        out.emplace_back(utf8::replacement_char);
    bytes.clear();
    num_bytes = 0;
  };
  for (auto& t : tokens) {
    if (const int b = byte_token(t); b >= 0) {
      bytes += static_cast<char>(b);
      ++num_bytes;
    } else {
      flush();
      out.push_back(std::move(t));
    }
  }
  flush();
  return out;
}

std::vector<std::string> apply(const step& s, std::vector<std::string> tokens) {
  switch (s.kind) {
    case step_kind::byte_level: {
      std::string bytes;
      for (const auto& t : tokens)
        bytes += byte_level_bytes(t);
      return {lossy(bytes)};
    }
    case step_kind::fuse: {
      std::string joined;
      for (const auto& t : tokens)
        joined += t;
      return {joined};
    }
    case step_kind::byte_fallback:
      return byte_fallback_chain(std::move(tokens));
    case step_kind::metaspace:
      for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = metaspace_token(s, tokens[i], i);
      return tokens;
    case step_kind::strip:
      for (auto& t : tokens)
        t = strip_token(s, t);
      return tokens;
    case step_kind::replace:
      for (auto& t : tokens)
        t = s.pattern.replace_all(t, s.content);
      return tokens;
  }
  return tokens;
}

result<std::shared_ptr<const step>> make_step(const rapidjson::Value& json,
                                              const std::string& type) {
  auto s = std::make_shared<step>();
  if (type == "ByteLevel")
    s->kind = step_kind::byte_level;
  else if (type == "Fuse")
    s->kind = step_kind::fuse;
  else if (type == "ByteFallback")
    s->kind = step_kind::byte_fallback;
  else if (type == "Metaspace") {
    s->kind = step_kind::metaspace;
    s->content = json_string(json, "replacement", "\xE2\x96\x81");
    const std::string scheme = json_string(json, "prepend_scheme", "always");
    s->prepend = scheme != "never";
    if (json.HasMember("add_prefix_space") && json["add_prefix_space"].IsBool() &&
        !json.HasMember("prepend_scheme"))
      s->prepend = json["add_prefix_space"].GetBool();
  } else if (type == "Strip") {
    s->kind = step_kind::strip;
    s->content = json_string(json, "content", " ");
    s->start = json.HasMember("start") && json["start"].IsUint() ? json["start"].GetUint() : 0;
    s->stop = json.HasMember("stop") && json["stop"].IsUint() ? json["stop"].GetUint() : 0;
  } else if (type == "Replace") {
    s->kind = step_kind::replace;
    if (!json.HasMember("pattern")) return error{"Replace decoder without pattern"};
    auto pattern = hf_pattern::from_json(json["pattern"]);
    if (!pattern) return error{"Replace decoder: " + pattern.message()};
    s->pattern = std::move(pattern).value();
    s->content = json_string(json, "content");
  } else {
    return error{"unsupported decoder type '" + type + "'"};
  }
  return std::shared_ptr<const step>(std::move(s));
}

error flatten(const rapidjson::Value& json, std::vector<std::shared_ptr<const step>>& steps) {
  if (!json.IsObject()) return error{"decoder is not an object"};
  const std::string type = json_string(json, "type");
  if (type == "Sequence") {
    if (!json.HasMember("decoders") || !json["decoders"].IsArray())
      return error{"Sequence decoder without decoders"};
    for (const auto& d : json["decoders"].GetArray())
      if (auto e = flatten(d, steps); !e.message.empty()) return e;
    return error{""};
  }
  auto made = make_step(json, type);
  if (!made) return made.err();
  steps.push_back(std::move(made).value());
  return error{""};
}

}  // namespace

result<std::shared_ptr<const hf_decoder>> hf_decoder::from_json(const rapidjson::Value& json) {
  auto d = std::make_shared<hf_decoder>();
  if (json.IsNull()) {
    d->none_ = true;
    return std::shared_ptr<const hf_decoder>(std::move(d));
  }
  if (auto e = flatten(json, d->steps_); !e.message.empty()) return e;
  // A Strip after the tokens were joined strips the start of the whole text.
  bool joined = false;
  for (const auto& s : d->steps_) {
    if (s->kind == step_kind::byte_fallback) d->byte_fallback_ = true;
    if (s->kind == step_kind::fuse || s->kind == step_kind::byte_level) joined = true;
    if (joined && s->kind == step_kind::strip && s->start > 0) {
      d->strip_content_ = s->content;
      d->strip_count_ = s->start;
    }
  }
  return std::shared_ptr<const hf_decoder>(std::move(d));
}

std::string hf_decoder::decode(std::vector<std::string> tokens) const {
  std::string out;
  if (none_) {
    for (size_t i = 0; i < tokens.size(); ++i)
      out += (i > 0 ? " " : "") + tokens[i];
    return out;
  }
  for (const auto& s : steps_)
    tokens = apply(*s, std::move(tokens));
  for (const auto& t : tokens)
    out += t;
  return out;
}

int hf_decoder::fallback_byte(std::string_view token) const {
  return byte_fallback_ ? byte_token(token) : -1;
}

std::string hf_decoder::token_bytes(const std::string& token, size_t index) const {
  if (none_) return index > 0 ? " " + token : token;
  std::string t = token;
  bool joined = false;
  for (const auto& s : steps_) {
    switch (s->kind) {
      case step_kind::byte_level:
        t = byte_level_bytes(t);
        joined = true;
        break;
      case step_kind::fuse:
        joined = true;
        break;
      case step_kind::byte_fallback:
        if (const int b = byte_token(t); b >= 0) t = std::string(1, static_cast<char>(b));
        break;
      case step_kind::metaspace:
        t = metaspace_token(*s, t, joined ? 1 : index);
        break;
      case step_kind::strip:
        if (!joined) t = strip_token(*s, t);
        break;
      case step_kind::replace:
        t = s->pattern.replace_all(t, s->content);
        break;
    }
  }
  return t;
}

}  // namespace troupe::runtime
