// config.json of a Hugging Face Llama-family model -> llama_hparams (contract: hf_model.hpp).
// Defaults are those of transformers' LlamaConfig / MistralConfig / Qwen2Config.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/formats/hf_config_json.hpp"
#include "runtime/formats/hf_model.hpp"

namespace troupe::runtime {
namespace hf_json {

const json* member(const json& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

status read_int(const json& obj, const char* key, int32_t& out, int64_t fallback) {
  const json* v = member(obj, key);
  if (v == nullptr) {
    if (fallback < 0) return error{std::string("config.json: missing \"") + key + "\""};
    out = static_cast<int32_t>(fallback);
    return ok_status();
  }
  if (!v->IsInt64() || v->GetInt64() <= 0 || v->GetInt64() > (int64_t{1} << 30)) {
    return error{std::string("config.json: \"") + key + "\" must be a positive integer"};
  }
  out = static_cast<int32_t>(v->GetInt64());
  return ok_status();
}

status read_float(const json& obj, const char* key, float& out, float fallback) {
  const json* v = member(obj, key);
  if (v == nullptr) {
    out = fallback;
    return ok_status();
  }
  if (!v->IsNumber()) return error{std::string("config.json: \"") + key + "\" must be a number"};
  out = static_cast<float>(v->GetDouble());
  return ok_status();
}

result<std::optional<bool>> read_bool(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::optional<bool>{};
  if (!v->IsBool()) return error{std::string("config.json: \"") + key + "\" must be true or false"};
  return std::optional<bool>(v->GetBool());
}

result<std::string> read_string(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (v == nullptr) return std::string();
  if (!v->IsString()) return error{std::string("config.json: \"") + key + "\" must be a string"};
  return std::string(v->GetString(), v->GetStringLength());
}

}  // namespace hf_json

namespace {

using hf_json::json;
using hf_json::member;
using hf_json::read_int;

struct family_info {
  const char* model_type;
  const char* architecture;
  int32_t max_position_embeddings;  // transformers' default when config.json has none
  int32_t num_kv_heads;             // likewise; 0: num_attention_heads
};

constexpr family_info families[] = {
    {"llama", "LlamaForCausalLM", 2048, 0},
    {"mistral", "MistralForCausalLM", 131072, 8},
    {"qwen2", "Qwen2ForCausalLM", 32768, 32},
};

// The family of architectures[0] (the model class transformers and vLLM instantiate), else of
// model_type; a model_type naming another family is refused.
result<const family_info*> read_family(const json& doc) {
  auto type = hf_json::read_string(doc, "model_type");
  if (!type) return type.err();
  const json* a = member(doc, "architectures");
  if (a != nullptr && a->IsArray() && !a->Empty()) {
    const std::string arch = (*a)[0].IsString() ? (*a)[0].GetString() : "";
    for (const auto& f : families) {
      if (arch != f.architecture) continue;
      if (!type->empty() && *type != f.model_type) {
        return error{"config.json: model_type '" + *type + "' with architecture '" + arch +
                     "' is not supported (model_type " + f.model_type + ")"};
      }
      return &f;
    }
    return error{"config.json: architecture '" + arch +
                 "' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)"};
  }
  for (const auto& f : families) {
    if (*type == f.model_type) return &f;
  }
  return error{"config.json: model_type '" + *type + "' is not supported (llama, mistral, qwen2)"};
}

status read_head_dim(const json& doc, llama_hparams& hp) {
  if (member(doc, "head_dim") == nullptr && hp.hidden_size % hp.num_heads != 0) {
    return error{
        "config.json: hidden_size is not a multiple of num_attention_heads and there is "
        "no head_dim"};
  }
  if (auto ok = read_int(doc, "head_dim", hp.head_dim, hp.hidden_size / hp.num_heads); !ok) {
    return ok;
  }
  if (hp.head_dim % 2 != 0) return error{"config.json: head_dim must be a positive even number"};
  return ok_status();
}

status read_sizes(const json& doc, const family_info& family, llama_hparams& hp) {
  for (auto [key, field] : {std::pair{"hidden_size", &hp.hidden_size},
                            {"intermediate_size", &hp.intermediate_size},
                            {"num_hidden_layers", &hp.num_layers},
                            {"num_attention_heads", &hp.num_heads},
                            {"vocab_size", &hp.vocab_size}}) {
    if (auto ok = read_int(doc, key, *field); !ok) return ok;
  }
  const int32_t kv_default = family.num_kv_heads > 0 ? family.num_kv_heads : hp.num_heads;
  for (status ok : {read_int(doc, "num_key_value_heads", hp.num_kv_heads, kv_default),
                    read_int(doc, "max_position_embeddings", hp.max_position_embeddings,
                             family.max_position_embeddings),
                    read_head_dim(doc, hp)}) {
    if (!ok) return ok;
  }
  if (hp.num_heads % hp.num_kv_heads != 0) {
    return error{"config.json: num_attention_heads (" + std::to_string(hp.num_heads) +
                 ") must be a multiple of num_key_value_heads (" + std::to_string(hp.num_kv_heads) +
                 ")"};
  }
  return ok_status();
}

// Mistral's window: absent means transformers' default 4096, null means none. Qwen2's
// sliding_window only counts with use_sliding_window (refused in check_unsupported).
status read_sliding_window(const json& doc, llama_hparams& hp) {
  if (hp.architecture != "mistral") return ok_status();
  if (!doc.HasMember("sliding_window")) {
    hp.sliding_window = 4096;
    return ok_status();
  }
  return read_int(doc, "sliding_window", hp.sliding_window, 0);
}

status read_tied_embeddings(const json& doc, llama_hparams& hp) {
  auto tied = hf_json::read_bool(doc, "tie_word_embeddings");
  if (!tied) return tied.err();
  hp.tie_word_embeddings = tied->value_or(false);
  return ok_status();
}

// Each step may rely on what the ones before it read (the RoPE defaults on the sizes).
status read_fields(const json& doc, const family_info& family, llama_hparams& hp) {
  if (auto ok = read_sizes(doc, family, hp); !ok) return ok;
  if (auto ok = hf_json::check_unsupported(doc, hp); !ok) return ok;
  if (auto ok = hf_json::read_float(doc, "rms_norm_eps", hp.rms_norm_eps, 1e-6f); !ok) return ok;
  if (auto ok = hf_json::read_rope(doc, hp); !ok) return ok;
  if (auto ok = read_sliding_window(doc, hp); !ok) return ok;
  return read_tied_embeddings(doc, hp);
}

}  // namespace

result<llama_hparams> hf_hparams_from_config_json(const std::string& json_text) {
  rapidjson::Document doc;
  doc.Parse(json_text.data(), json_text.size());
  if (doc.HasParseError() || !doc.IsObject()) return error{"config.json: not a JSON object"};
  auto family = read_family(doc);
  if (!family) return family.err();
  llama_hparams hp;
  hp.architecture = (*family)->model_type;
  hp.rope = rope_style::neox;
  hp.attention_bias = hp.architecture == "qwen2";
  if (auto ok = read_fields(doc, **family, hp); !ok) return ok.err();
  if (!(hp.rms_norm_eps > 0.0f)) return error{"config.json: rms_norm_eps must be positive"};
  return hp;
}

result<std::string> read_hf_config_text(const std::string& dir) {
  const auto path = std::filesystem::path(dir) / "config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{path.string() + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

result<llama_hparams> read_hf_config(const std::string& dir) {
  auto text = read_hf_config_text(dir);
  if (!text) return text.err();
  auto hp = hf_hparams_from_config_json(*text);
  if (!hp) return error{dir + ": " + hp.message()};
  return hp;
}

bool is_hf_model_dir(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) &&
         std::filesystem::exists(std::filesystem::path(path) / "config.json", ec);
}

}  // namespace troupe::runtime
