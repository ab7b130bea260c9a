// config.json of a Hugging Face Llama-family model -> llama_hparams (contract: hf_model.hpp).
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/formats/hf_model.hpp"

namespace troupe::runtime {
namespace {

using json = rapidjson::Value;

const json* member(const json& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

// An integer key; `fallback` < 0 makes it required.
status read_int(const json& obj, const char* key, int32_t& out, int64_t fallback = -1) {
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

bool read_bool(const json& obj, const char* key, bool fallback) {
  const json* v = member(obj, key);
  return v != nullptr && v->IsBool() ? v->GetBool() : fallback;
}

std::string read_string(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v != nullptr && v->IsString() ? v->GetString() : "";
}

// "llama", "mistral" or "qwen2" from architectures[0], else model_type.
result<std::string> read_family(const json& doc) {
  if (const json* a = member(doc, "architectures"); a != nullptr && a->IsArray() && !a->Empty()) {
    const std::string arch = (*a)[0].IsString() ? (*a)[0].GetString() : "";
    if (arch == "LlamaForCausalLM") return std::string("llama");
    if (arch == "MistralForCausalLM") return std::string("mistral");
    if (arch == "Qwen2ForCausalLM") return std::string("qwen2");
    return error{"config.json: architecture '" + arch +
                 "' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)"};
  }
  const std::string type = read_string(doc, "model_type");
  if (type == "llama" || type == "mistral" || type == "qwen2") return type;
  return error{"config.json: model_type '" + type + "' is not supported (llama, mistral, qwen2)"};
}

result<rope_scaling_type> scaling_type(const std::string& name) {
  if (name == "default" || name.empty()) return rope_scaling_type::none;
  if (name == "linear") return rope_scaling_type::linear;
  if (name == "dynamic") return rope_scaling_type::dynamic;
  if (name == "llama3") return rope_scaling_type::llama3;
  if (name == "yarn") return rope_scaling_type::yarn;
  return error{"config.json: rope_scaling type '" + name +
               "' is not supported (linear, dynamic, llama3, yarn)"};
}

status read_rope_scaling(const json& doc, rope_scaling& out) {
  const json* s = member(doc, "rope_scaling");
  if (s == nullptr) return ok_status();
  if (!s->IsObject()) return error{"config.json: rope_scaling must be an object or null"};
  std::string name = read_string(*s, "rope_type");
  if (name.empty()) name = read_string(*s, "type");
  auto type = scaling_type(name);
  if (!type) return type.err();
  out.type = *type;
  if (out.type == rope_scaling_type::none) return ok_status();
  if (auto ok = read_float(*s, "factor", out.factor, 0.0f); !ok) return ok;
  if (!(out.factor > 0.0f)) return error{"config.json: rope_scaling needs a positive \"factor\""};
  for (auto [key, field, fallback] : {std::tuple{"low_freq_factor", &out.low_freq_factor, 1.0f},
                                      {"high_freq_factor", &out.high_freq_factor, 4.0f},
                                      {"beta_fast", &out.beta_fast, 32.0f},
                                      {"beta_slow", &out.beta_slow, 1.0f},
                                      {"mscale", &out.mscale, 0.0f},
                                      {"mscale_all_dim", &out.mscale_all_dim, 0.0f},
                                      {"attention_factor", &out.attention_factor, 0.0f}}) {
    if (auto ok = read_float(*s, key, *field, fallback); !ok) return ok;
  }
  if (out.type == rope_scaling_type::llama3 && !(out.high_freq_factor > out.low_freq_factor)) {
    return error{"config.json: llama3 rope_scaling needs high_freq_factor > low_freq_factor"};
  }
  return read_int(*s, "original_max_position_embeddings", out.original_max_position_embeddings, 0);
}

// Keys that change the architecture in ways llama_forward does not implement.
status check_unsupported(const json& doc, const std::string& family) {
  const std::string act = read_string(doc, "hidden_act");
  if (!act.empty() && act != "silu") {
    return error{"config.json: hidden_act '" + act + "' is not supported (silu)"};
  }
  if (family == "llama" && (read_bool(doc, "attention_bias", false))) {
    return error{"config.json: attention_bias (an o_proj bias) is not supported for llama"};
  }
  if (read_bool(doc, "mlp_bias", false)) return error{"config.json: mlp_bias is not supported"};
  if (family == "qwen2" && read_bool(doc, "use_sliding_window", false)) {
    return error{
        "config.json: Qwen2 use_sliding_window (per-layer windows) is not supported; set it to "
        "false"};
  }
  return ok_status();
}

status read_sizes(const json& doc, llama_hparams& hp) {
  for (auto [key, field] : {std::pair{"hidden_size", &hp.hidden_size},
                            {"intermediate_size", &hp.intermediate_size},
                            {"num_hidden_layers", &hp.num_layers},
                            {"num_attention_heads", &hp.num_heads},
                            {"vocab_size", &hp.vocab_size}}) {
    if (auto ok = read_int(doc, key, *field); !ok) return ok;
  }
  if (auto ok = read_int(doc, "num_key_value_heads", hp.num_kv_heads, hp.num_heads); !ok) return ok;
  if (auto ok = read_int(doc, "head_dim", hp.head_dim, hp.hidden_size / hp.num_heads); !ok) {
    return ok;
  }
  if (auto ok = read_int(doc, "max_position_embeddings", hp.max_position_embeddings, 2048); !ok) {
    return ok;
  }
  if (hp.num_heads % hp.num_kv_heads != 0) {
    return error{"config.json: num_attention_heads must be a multiple of num_key_value_heads"};
  }
  if (hp.head_dim <= 0 || hp.head_dim % 2 != 0) {
    return error{"config.json: head_dim must be a positive even number"};
  }
  return ok_status();
}

}  // namespace

result<llama_hparams> hf_hparams_from_config_json(const std::string& json_text) {
  rapidjson::Document doc;
  doc.Parse(json_text.data(), json_text.size());
  if (doc.HasParseError() || !doc.IsObject()) return error{"config.json: not a JSON object"};
  auto family = read_family(doc);
  if (!family) return family.err();
  if (auto ok = check_unsupported(doc, *family); !ok) return ok.err();
  llama_hparams hp;
  hp.architecture = *family;
  hp.rope = rope_style::neox;
  hp.attention_bias = *family == "qwen2";
  hp.tie_word_embeddings = read_bool(doc, "tie_word_embeddings", false);
  for (status ok : {read_sizes(doc, hp), read_float(doc, "rms_norm_eps", hp.rms_norm_eps, 1e-6f),
                    read_float(doc, "rope_theta", hp.rope_theta, 10000.0f),
                    read_rope_scaling(doc, hp.rope_scale)}) {
    if (!ok) return ok.err();
  }
  if (!(hp.rope_theta > 0.0f) || !(hp.rms_norm_eps > 0.0f)) {
    return error{"config.json: rope_theta and rms_norm_eps must be positive"};
  }
  if (*family == "mistral") {
    if (auto ok = read_int(doc, "sliding_window", hp.sliding_window, 0); !ok) return ok.err();
  }
  return hp;
}

result<llama_hparams> read_hf_config(const std::string& dir) {
  const auto path = std::filesystem::path(dir) / "config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{path.string() + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  auto hp = hf_hparams_from_config_json(text.str());
  if (!hp) return error{dir + ": " + hp.message()};
  return hp;
}

bool is_hf_model_dir(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) &&
         std::filesystem::exists(std::filesystem::path(path) / "config.json", ec);
}

}  // namespace troupe::runtime
