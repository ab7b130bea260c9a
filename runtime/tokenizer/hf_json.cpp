#include "runtime/tokenizer/hf_json.hpp"

#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace troupe::runtime {
namespace {

std::string_view view(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

bool json_bool(const rapidjson::Value& json, const char* key, bool fallback) {
  return json.HasMember(key) && json[key].IsBool() ? json[key].GetBool() : fallback;
}

result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open " + path.string()};
  std::string text;
  in.seekg(0, std::ios::end);
  text.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in) return error{"cannot read " + path.string()};
  return text;
}

result<std::vector<hf_added_token>> read_added(const rapidjson::Value& doc) {
  std::vector<hf_added_token> added;
  if (!doc.HasMember("added_tokens") || doc["added_tokens"].IsNull()) return added;
  if (!doc["added_tokens"].IsArray()) return error{"added_tokens is not an array"};
  for (const auto& t : doc["added_tokens"].GetArray()) {
    if (!t.IsObject() || !t.HasMember("id") || !t["id"].IsInt() || t["id"].GetInt() < 0 ||
        !t.HasMember("content") || !t["content"].IsString())
      return error{"malformed added token"};
    hf_added_token token;
    token.id = t["id"].GetInt();
    token.content = std::string(view(t["content"]));
    token.special = json_bool(t, "special", false);
    token.single_word = json_bool(t, "single_word", false);
    token.lstrip = json_bool(t, "lstrip", false);
    token.rstrip = json_bool(t, "rstrip", false);
    token.normalized = json_bool(t, "normalized", !token.special);
    added.push_back(std::move(token));
  }
  return added;
}

// The id of a token text: an added token first, then the model's vocabulary.
int32_t id_of(const hf_parts& parts, std::string_view text) {
  for (const auto& t : parts.added)
    if (t.content == text) return t.id;
  return parts.model.find_token(text);
}

error read_post_processor(const rapidjson::Value& json, hf_parts& parts);

// TemplateProcessing "single": the special tokens before and after the sequence "A".
error read_template(const rapidjson::Value& json, hf_parts& parts) {
  if (!json.HasMember("single") || !json["single"].IsArray())
    return error{"TemplateProcessing without single"};
  std::vector<int32_t> prefix, suffix;
  bool after = false;
  for (const auto& piece : json["single"].GetArray()) {
    if (piece.HasMember("Sequence")) {
      after = true;
      continue;
    }
    if (!piece.HasMember("SpecialToken") || !piece["SpecialToken"].HasMember("id"))
      return error{"TemplateProcessing: unknown piece"};
    const auto& name = piece["SpecialToken"]["id"];
    if (!json.HasMember("special_tokens") || !json["special_tokens"].HasMember(name))
      return error{"TemplateProcessing: special token not listed"};
    const auto& spec = json["special_tokens"][name];
    if (!spec.HasMember("ids") || !spec["ids"].IsArray())
      return error{"TemplateProcessing: special token without ids"};
    for (const auto& id : spec["ids"].GetArray())
      (after ? suffix : prefix).push_back(id.GetInt());
  }
  // A later processor wraps what the earlier ones produced.
  parts.prefix.insert(parts.prefix.begin(), prefix.begin(), prefix.end());
  parts.suffix.insert(parts.suffix.end(), suffix.begin(), suffix.end());
  return error{""};
}

error read_post_processor(const rapidjson::Value& json, hf_parts& parts) {
  if (json.IsNull()) return error{""};
  if (!json.IsObject() || !json.HasMember("type")) return error{"post_processor without type"};
  const std::string_view type = view(json["type"]);
  if (type == "ByteLevel") return error{""};  // offsets only
  if (type == "TemplateProcessing") return read_template(json, parts);
  if (type == "Sequence") {
    if (!json.HasMember("processors") || !json["processors"].IsArray())
      return error{"Sequence post_processor without processors"};
    for (const auto& p : json["processors"].GetArray())
      if (auto e = read_post_processor(p, parts); !e.message.empty()) return e;
    return error{""};
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    if (!json.HasMember("cls") || !json.HasMember("sep")) return error{"cls/sep missing"};
    parts.prefix.insert(parts.prefix.begin(), json["cls"][1].GetInt());
    parts.suffix.push_back(json["sep"][1].GetInt());
    return error{""};
  }
  return error{"unsupported post_processor type '" + std::string(type) + "'"};
}

// tokenizer_config.json's bos_token / eos_token: a string or {"content": ...}.
int32_t config_token(const hf_parts& parts, const rapidjson::Value& config, const char* key) {
  if (!config.HasMember(key)) return -1;
  const auto& v = config[key];
  if (v.IsString()) return id_of(parts, view(v));
  if (v.IsObject() && v.HasMember("content") && v["content"].IsString())
    return id_of(parts, view(v["content"]));
  return -1;
}

// transformers' LlamaTokenizerFast / GemmaTokenizerFast (and CodeLlama's) rebuild the
// post-processor from tokenizer_config.json when they load (update_post_processor): bos first
// when add_bos_token (default true), eos last when add_eos_token (default false). vLLM
// tokenizes through transformers, so these classes follow the config, not tokenizer.json.
void apply_llama_style_specials(const rapidjson::Value& config, hf_parts& parts) {
  if (!config.HasMember("tokenizer_class") || !config["tokenizer_class"].IsString()) return;
  std::string_view cls = view(config["tokenizer_class"]);
  if (cls.ends_with("Fast")) cls.remove_suffix(4);
  if (cls != "LlamaTokenizer" && cls != "GemmaTokenizer" && cls != "CodeLlamaTokenizer") return;
  parts.prefix.clear();
  parts.suffix.clear();
  if (json_bool(config, "add_bos_token", true) && parts.bos_id >= 0)
    parts.prefix.push_back(parts.bos_id);
  if (json_bool(config, "add_eos_token", false) && parts.eos_id >= 0)
    parts.suffix.push_back(parts.eos_id);
}

void read_config(const std::filesystem::path& path, hf_parts& parts) {
  auto text = read_file(path);
  if (!text) return;  // optional
  rapidjson::Document config;
  config.Parse(text->data(), text->size());
  if (config.HasParseError() || !config.IsObject()) return;
  parts.bos_id = config_token(parts, config, "bos_token");
  parts.eos_id = config_token(parts, config, "eos_token");
  apply_llama_style_specials(config, parts);
}

}  // namespace

result<hf_parts> read_hf_parts(const std::string& dir_or_file) {
  std::filesystem::path file = dir_or_file;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) file /= "tokenizer.json";
  auto text = read_file(file);
  if (!text) return text.err();
  std::string buffer = std::move(text).value();
  rapidjson::Document doc;
  doc.ParseInsitu(buffer.data());
  if (doc.HasParseError() || !doc.IsObject()) return error{"not valid JSON: " + file.string()};
  hf_parts parts;
  auto added = read_added(doc);
  if (!added) return added.err();
  parts.added = std::move(added).value();
  if (!doc.HasMember("model")) return error{"no model"};
  auto model = hf_bpe::from_json(doc["model"]);
  if (!model) return model.err();
  parts.model = std::move(model).value();
  const rapidjson::Value null_value;
  const auto member = [&](const char* key) -> const rapidjson::Value& {
    return doc.HasMember(key) ? doc[key] : null_value;
  };
  auto normalizer = hf_normalizer::from_json(member("normalizer"));
  if (!normalizer) return normalizer.err();
  parts.normalizer = std::move(normalizer).value();
  auto pre = hf_pre_tokenizer::from_json(member("pre_tokenizer"));
  if (!pre) return pre.err();
  parts.pre_tokenizer = std::move(pre).value();
  auto decoder = hf_decoder::from_json(member("decoder"));
  if (!decoder) return decoder.err();
  parts.decoder = std::move(decoder).value();
  if (auto e = read_post_processor(member("post_processor"), parts); !e.message.empty()) return e;
  read_config(file.parent_path() / "tokenizer_config.json", parts);
  return parts;
}

}  // namespace troupe::runtime
