#include "runtime/tokenizer/sentencepiece_config.hpp"

#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace troupe::runtime {
namespace {

result<rapidjson::Document> read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot read " + path.string()};
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return error{path.string() + ": not a JSON object"};
  return doc;
}

// A token given as "text", {"content": "text", ...} (an AddedToken) or null.
result<std::optional<std::string>> token_text(const rapidjson::Value& v, const std::string& key) {
  if (v.IsNull()) return std::optional<std::string>{};
  if (v.IsString()) return std::optional<std::string>{v.GetString()};
  if (v.IsObject() && v.HasMember("content") && v["content"].IsString()) {
    return std::optional<std::string>{v["content"].GetString()};
  }
  return error{key + " must be a string, an AddedToken object or null"};
}

status read_bool(const rapidjson::Value& doc, const char* key, bool& out) {
  if (!doc.HasMember(key) || doc[key].IsNull()) return ok_status();
  if (!doc[key].IsBool()) return error{std::string(key) + " must be a boolean"};
  out = doc[key].GetBool();
  return ok_status();
}

// bos/eos/unk/pad_token and additional_special_tokens, when `doc` names them.
status read_named_tokens(const rapidjson::Value& doc, sentencepiece_config& c) {
  for (auto [key, field] : {std::pair{"bos_token", &c.bos}, std::pair{"eos_token", &c.eos},
                            std::pair{"unk_token", &c.unk}, std::pair{"pad_token", &c.pad}}) {
    if (!doc.HasMember(key)) continue;
    auto text = token_text(doc[key], key);
    if (!text) return text.err();
    *field = *text;
  }
  if (doc.HasMember("additional_special_tokens")) {
    const auto& list = doc["additional_special_tokens"];
    if (!list.IsArray()) return error{"additional_special_tokens must be a list"};
    c.additional_special.clear();
    for (const auto& item : list.GetArray()) {
      auto text = token_text(item, "additional_special_tokens");
      if (!text) return text.err();
      if (*text) c.additional_special.push_back(**text);
    }
  }
  return ok_status();
}

status read_added_tokens(const rapidjson::Value& decoder, sentencepiece_config& c) {
  if (!decoder.IsObject()) return error{"added_tokens_decoder must be an object"};
  for (const auto& m : decoder.GetObject()) {
    const std::string id_text = m.name.GetString();
    const auto& v = m.value;
    char* end = nullptr;
    const long id = std::strtol(id_text.c_str(), &end, 10);
    if (id_text.empty() || *end != '\0' || id < 0 || id > INT32_MAX || !v.IsObject() ||
        !v.HasMember("content") || !v["content"].IsString()) {
      return error{"added_tokens_decoder entry '" + id_text + "' is malformed"};
    }
    sp_added_token t;
    t.id = static_cast<int32_t>(id);
    t.content = v["content"].GetString();
    for (auto [key, flag] :
         {std::pair{"lstrip", &t.lstrip}, std::pair{"rstrip", &t.rstrip},
          std::pair{"single_word", &t.single_word}, std::pair{"special", &t.special}}) {
      if (auto ok = read_bool(v, key, *flag); !ok) return ok;
    }
    c.added.push_back(std::move(t));
  }
  return ok_status();
}

status read_tokenizer_config(const rapidjson::Document& doc, sentencepiece_config& c) {
  for (auto [key, flag] :
       {std::pair{"legacy", &c.legacy}, std::pair{"add_prefix_space", &c.add_prefix_space},
        std::pair{"add_bos_token", &c.add_bos}, std::pair{"add_eos_token", &c.add_eos},
        std::pair{"clean_up_tokenization_spaces", &c.clean_up_spaces}}) {
    if (auto ok = read_bool(doc, key, *flag); !ok) return ok;
  }
  if (auto ok = read_named_tokens(doc, c); !ok) return ok;
  if (doc.HasMember("added_tokens_decoder"))
    return read_added_tokens(doc["added_tokens_decoder"], c);
  return ok_status();
}

}  // namespace

result<sentencepiece_config> read_sentencepiece_config(const std::string& dir) {
  sentencepiece_config c;
  const std::filesystem::path config = std::filesystem::path(dir) / "tokenizer_config.json";
  if (std::filesystem::exists(config)) {
    auto doc = read_json(config);
    if (!doc) return doc.err();
    if (auto ok = read_tokenizer_config(*doc, c); !ok)
      return error{config.string() + ": " + ok.message()};
  }
  // from_pretrained lets special_tokens_map.json override the named tokens of the config.
  const std::filesystem::path map = std::filesystem::path(dir) / "special_tokens_map.json";
  if (std::filesystem::exists(map)) {
    auto doc = read_json(map);
    if (!doc) return doc.err();
    if (auto ok = read_named_tokens(*doc, c); !ok) return error{map.string() + ": " + ok.message()};
  }
  return c;
}

}  // namespace troupe::runtime
