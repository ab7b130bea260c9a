// Reading a chat template and its special-token variables from files: a tokenizer directory's
// chat_template.jinja and tokenizer_config.json, and GGUF metadata (through runtime/formats' GGUF
// reader).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "runtime/chat_template/chat_template.hpp"
#include "runtime/formats/gguf.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

struct gguf_chat_metadata {
  std::optional<std::string> chat_template;
  std::vector<std::string> tokens;
  std::map<std::string, int64_t> token_ids;  // "bos" -> id
};

// The chat template, the token texts and the special-token ids of a GGUF file's metadata.
result<gguf_chat_metadata> read_gguf_chat_metadata(const std::string& path) {
  auto file = gguf_file::open(path);
  if (!file) return file.err();
  gguf_chat_metadata m;
  m.chat_template = (*file)->get_string("tokenizer.chat_template");
  m.tokens =
      (*file)->get_string_array("tokenizer.ggml.tokens").value_or(std::vector<std::string>{});
  static const std::pair<const char*, const char*> id_keys[] = {
      {"bos", "bos"},     {"eos", "eos"}, {"unknown", "unk"}, {"seperator", "sep"},
      {"padding", "pad"}, {"cls", "cls"}, {"mask", "mask"}};
  for (const auto& [gguf_name, name] : id_keys) {
    auto id = (*file)->get_int(std::string("tokenizer.ggml.") + gguf_name + "_token_id");
    if (id) m.token_ids[name] = *id;
  }
  return m;
}

result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A special token's text: a string, or an AddedToken object's "content"; nullopt otherwise.
std::optional<std::string> token_text(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsObject()) {
    auto c = v.FindMember("content");
    if (c != v.MemberEnd() && c->value.IsString()) return std::string(c->value.GetString());
  }
  return std::nullopt;
}

std::string json_string_list(const rapidjson::Value& list) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& e : list.GetArray()) {
    if (auto t = token_text(e)) w.String(t->data(), static_cast<rapidjson::SizeType>(t->size()));
  }
  w.EndArray();
  return buf.GetString();
}

}  // namespace

result<std::vector<std::pair<std::string, std::string>>> special_tokens_from_tokenizer_config(
    const std::string& json_text) {
  rapidjson::Document d;
  d.Parse(json_text.c_str(), json_text.size());
  if (d.HasParseError() || !d.IsObject()) return error{"tokenizer config is not a JSON object"};
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& name, const rapidjson::Value& v) {
    for (auto& [k, old] : out) {
      if (k == name) return;
    }
    if (v.IsArray()) {
      out.emplace_back(name, json_string_list(v));
    } else if (auto t = token_text(v)) {
      out.emplace_back(name, *t);
    }
  };
  for (const char* name : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                           "cls_token", "mask_token", "additional_special_tokens"}) {
    auto it = d.FindMember(name);
    if (it != d.MemberEnd()) add(name, it->value);
  }
  auto extra = d.FindMember("extra_special_tokens");
  if (extra != d.MemberEnd() && extra->value.IsObject()) {
    for (const auto& m : extra->value.GetObject())
      add(m.name.GetString(), m.value);
  }
  return out;
}

result<std::string> chat_template_from_tokenizer_config_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.err();
  return chat_template_from_tokenizer_config(*text);
}

result<std::string> chat_template_from_gguf(const std::string& path) {
  auto m = read_gguf_chat_metadata(path);
  if (!m) return m.err();
  if (!m->chat_template) return error{"GGUF file has no tokenizer.chat_template"};
  return *m->chat_template;
}

result<chat_template_config> read_tokenizer_dir_chat_template(const std::string& dir) {
  const fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  const fs::path jinja_path = fs::path(dir) / "chat_template.jinja";
  std::error_code ec;
  chat_template_config config;
  if (fs::is_regular_file(config_path, ec)) {
    auto text = read_text_file(config_path.string());
    if (!text) return text.err();
    auto special = special_tokens_from_tokenizer_config(*text);
    if (!special) return error{config_path.string() + ": " + special.message()};
    config.special_tokens = std::move(*special);
    if (auto source = chat_template_from_tokenizer_config(*text)) {
      config.source = std::move(*source);
      config.origin = config_path.string();
    }
  }
  // transformers: "independent chat template file(s) ... take priority over template entries in
  // the tokenizer config".
  if (fs::is_regular_file(jinja_path, ec)) {
    auto text = read_text_file(jinja_path.string());
    if (!text) return text.err();
    config.source = std::move(*text);
    config.origin = jinja_path.string();
  }
  return config;
}

result<chat_template_config> load_chat_template_config(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec) || fs::path(path).extension() == ".json") {
    const std::string dir =
        fs::is_directory(path, ec) ? path : fs::path(path).parent_path().string();
    auto config = read_tokenizer_dir_chat_template(dir);
    if (!config) return config.err();
    if (config->source.empty()) {
      return error{dir + " has no chat template (no chat_template.jinja, no \"chat_template\" in " +
                   "tokenizer_config.json)"};
    }
    return config;
  }
  auto m = read_gguf_chat_metadata(path);
  if (!m) return m.err();
  if (!m->chat_template) return error{path + " has no tokenizer.chat_template"};
  chat_template_config config;
  config.source = std::move(*m->chat_template);
  config.origin = path + " (tokenizer.chat_template)";
  for (const char* name : {"bos", "eos", "unk", "sep", "pad", "cls", "mask"}) {
    auto it = m->token_ids.find(name);
    if (it == m->token_ids.end() || it->second < 0 ||
        it->second >= static_cast<int64_t>(m->tokens.size())) {
      continue;
    }
    config.special_tokens.emplace_back(std::string(name) + "_token",
                                       m->tokens[static_cast<size_t>(it->second)]);
  }
  return config;
}

}  // namespace troupe::runtime
