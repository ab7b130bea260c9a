// Reading a chat template and its special-token variables from files: tokenizer_config.json
// and GGUF metadata. The GGUF reader here walks only the metadata key/values (this library
// does not link troupe_formats), skipping values it does not need.
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

namespace troupe::runtime {
namespace {

constexpr uint32_t gguf_uint32 = 4, gguf_int32 = 5, gguf_string = 8, gguf_array = 9;

struct gguf_chat_metadata {
  std::optional<std::string> chat_template;
  std::vector<std::string> tokens;
  std::map<std::string, int64_t> token_ids;  // "bos" -> id
};

class gguf_metadata_reader {
 public:
  explicit gguf_metadata_reader(std::ifstream& in) : in_(in) {}

  result<gguf_chat_metadata> read_all() {
    char magic[4];
    if (!read(magic, 4) || std::string(magic, 4) != "GGUF") return error{"not a GGUF file"};
    uint32_t version = 0;
    uint64_t num_tensors = 0, num_kv = 0;
    if (!pod(version) || !pod(num_tensors) || !pod(num_kv)) return error{"truncated GGUF header"};
    if (version < 2) return error{"unsupported GGUF version"};
    gguf_chat_metadata m;
    for (uint64_t i = 0; i < num_kv; ++i) {
      std::string key;
      uint32_t type = 0;
      if (!string(key) || !pod(type)) return error{"truncated GGUF metadata"};
      if (!read_value(key, type, m)) return error{"bad GGUF metadata value for " + key};
    }
    return m;
  }

 private:
  bool read_value(const std::string& key, uint32_t type, gguf_chat_metadata& m) {
    // llama.cpp's key names (sic "seperator") -> transformers' variable prefix.
    static const std::pair<const char*, const char*> id_keys[] = {
        {"bos", "bos"},     {"eos", "eos"}, {"unknown", "unk"}, {"seperator", "sep"},
        {"padding", "pad"}, {"cls", "cls"}, {"mask", "mask"}};
    if (key == "tokenizer.chat_template" && type == gguf_string) {
      std::string v;
      if (!string(v)) return false;
      m.chat_template = std::move(v);
      return true;
    }
    if (key == "tokenizer.ggml.tokens" && type == gguf_array) {
      uint32_t elem = 0;
      uint64_t n = 0;
      if (!pod(elem) || !pod(n)) return false;
      if (elem != gguf_string) return skip_array_body(elem, n);
      if (n > (uint64_t{1} << 24)) return false;
      m.tokens.resize(n);
      for (auto& t : m.tokens) {
        if (!string(t)) return false;
      }
      return true;
    }
    for (const auto& [gguf_name, name] : id_keys) {
      if (key == std::string("tokenizer.ggml.") + gguf_name + "_token_id" &&
          (type == gguf_uint32 || type == gguf_int32)) {
        uint32_t id = 0;
        if (!pod(id)) return false;
        m.token_ids[name] = id;
        return true;
      }
    }
    return skip(type, 0);
  }

  bool read(void* p, size_t n) {
    return static_cast<bool>(in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n)));
  }
  template <class T>
  bool pod(T& v) {
    return read(&v, sizeof v);
  }
  bool string(std::string& s) {
    uint64_t n = 0;
    if (!pod(n) || n > (uint64_t{1} << 30)) return false;
    s.resize(n);
    return n == 0 || read(s.data(), n);
  }
  bool skip_bytes(uint64_t n) {
    return static_cast<bool>(in_.seekg(static_cast<std::streamoff>(n), std::ios::cur));
  }
  bool skip_array_body(uint32_t elem, uint64_t n) {
    static const uint64_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (elem > 12) return false;
    if (elem != gguf_string && elem != gguf_array) return skip_bytes(n * sizes[elem]);
    for (uint64_t i = 0; i < n; ++i) {
      if (!skip(elem, 1)) return false;
    }
    return true;
  }
  bool skip(uint32_t type, int depth) {
    static const uint64_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type > 12 || depth > 2) return false;
    if (type == gguf_string) {
      uint64_t n = 0;
      return pod(n) && skip_bytes(n);
    }
    if (type == gguf_array) {
      uint32_t elem = 0;
      uint64_t n = 0;
      return pod(elem) && pod(n) && skip_array_body(elem, n);
    }
    return skip_bytes(sizes[type]);
  }

  std::ifstream& in_;
};

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
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open " + path};
  auto m = gguf_metadata_reader(in).read_all();
  if (!m) return m.err();
  if (!m->chat_template) return error{"GGUF file has no tokenizer.chat_template"};
  return *m->chat_template;
}

result<chat_template_config> load_chat_template_config(const std::string& path) {
  std::error_code ec;
  chat_template_config config;
  if (std::filesystem::is_directory(path, ec)) {
    auto text = read_text_file((std::filesystem::path(path) / "tokenizer_config.json").string());
    if (!text) return text.err();
    auto source = chat_template_from_tokenizer_config(*text);
    if (!source) return source.err();
    auto special = special_tokens_from_tokenizer_config(*text);
    if (!special) return special.err();
    config.source = std::move(*source);
    config.special_tokens = std::move(*special);
    return config;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open " + path};
  auto m = gguf_metadata_reader(in).read_all();
  if (!m) return m.err();
  if (!m->chat_template) return error{path + " has no tokenizer.chat_template"};
  config.source = std::move(*m->chat_template);
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
