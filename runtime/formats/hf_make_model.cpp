// Tiny deterministic Hugging Face models (contract and weight scales: hf_make_model.hpp).
#include "runtime/formats/hf_make_model.hpp"

#include "runtime/formats/half.hpp"
#include "runtime/formats/hf_model.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace troupe::runtime {
namespace {

// splitmix64: a fixed, portable stream of 64-bit values.
class splitmix64 {
 public:
  explicit splitmix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1) with 24 random bits: exact in f32.
  float uniform() { return static_cast<float>(next() >> 40) * 0x1p-23f - 1.0f; }

 private:
  uint64_t state_;
};

// Shortest text that reads back as the same float ("1e-05", not "9.99999975e-06").
std::string num(float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : "0";
}

int32_t head_dim_of(const tiny_model_spec& s) {
  return s.head_dim > 0 ? s.head_dim : s.hidden_size / s.num_heads;
}

// Tensor `index` of the model: n values offset + scale * u.
std::vector<float> random_values(const tiny_model_spec& s, uint64_t index, int64_t n, float scale,
                                 float offset = 0.0f) {
  splitmix64 rng(s.seed * 0x100000001b3ull + index * 0x9e3779b97f4a7c15ull + 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v)
    x = offset + scale * rng.uniform();
  return v;
}

// YaRN with an original context: transformers derives the factor from max_position_embeddings /
// original_max_position_embeddings, vLLM reads "factor"; writing their product makes both agree.
int64_t written_max_positions(const tiny_model_spec& s) {
  const auto& r = s.rope_scale;
  if (r.type == rope_scaling_type::yarn && r.original_max_position_embeddings > 0) {
    return std::llround(static_cast<double>(r.factor) * r.original_max_position_embeddings);
  }
  return s.max_position_embeddings;
}

const char* scaling_name(rope_scaling_type t) {
  switch (t) {
    case rope_scaling_type::linear:
      return "linear";
    case rope_scaling_type::dynamic:
      return "dynamic";
    case rope_scaling_type::llama3:
      return "llama3";
    case rope_scaling_type::yarn:
      return "yarn";
    case rope_scaling_type::none:
      break;
  }
  return "default";
}

std::string rope_scaling_json(const rope_scaling& r) {
  if (r.type == rope_scaling_type::none) return "null";
  std::ostringstream o;
  o.precision(9);
  o << "{\"rope_type\": \"" << scaling_name(r.type) << "\", \"factor\": " << num(r.factor);
  if (r.original_max_position_embeddings > 0) {
    o << ", \"original_max_position_embeddings\": " << r.original_max_position_embeddings;
  }
  if (r.type == rope_scaling_type::llama3) {
    o << ", \"low_freq_factor\": " << num(r.low_freq_factor)
      << ", \"high_freq_factor\": " << num(r.high_freq_factor);
  }
  if (r.type == rope_scaling_type::yarn) {
    o << ", \"beta_fast\": " << num(r.beta_fast) << ", \"beta_slow\": " << num(r.beta_slow);
    if (r.mscale > 0) o << ", \"mscale\": " << num(r.mscale);
    if (r.mscale_all_dim > 0) o << ", \"mscale_all_dim\": " << num(r.mscale_all_dim);
    if (r.attention_factor > 0) o << ", \"attention_factor\": " << num(r.attention_factor);
  }
  return o.str() + "}";
}

const char* architecture(const std::string& family) {
  if (family == "mistral") return "MistralForCausalLM";
  if (family == "qwen2") return "Qwen2ForCausalLM";
  return "LlamaForCausalLM";
}

const char* torch_dtype(safetensors_dtype d) {
  if (d == safetensors_dtype::bf16) return "bfloat16";
  if (d == safetensors_dtype::f16) return "float16";
  return "float32";
}

// f32 -> the model dtype -> f32.
float round_to_dtype(float v, safetensors_dtype d) {
  if (d == safetensors_dtype::bf16) return bf16_to_f32(f32_to_bf16(v));
  if (d == safetensors_dtype::f16) return f16_to_f32(f32_to_f16(v));
  return v;
}

// A [rows][cols] projection as int8 weight + per-row scale (contract: hf_make_model.hpp).
void add_w8a8(std::vector<safetensors_entry>& out, const std::string& name, int64_t rows,
              int64_t cols, const std::vector<float>& w, safetensors_dtype dtype) {
  std::vector<float> q(w.size()), scale(static_cast<size_t>(rows));
  for (int64_t n = 0; n < rows; ++n) {
    float absmax = 0.0f;
    for (int64_t k = 0; k < cols; ++k)
      absmax = std::max(absmax, std::fabs(w[n * cols + k]));
    scale[n] = round_to_dtype(absmax / 127.0f, dtype);
    for (int64_t k = 0; k < cols; ++k) {
      const float v = scale[n] > 0.0f ? std::nearbyint(w[n * cols + k] / scale[n]) : 0.0f;
      q[n * cols + k] = std::clamp(v, -128.0f, 127.0f);
    }
  }
  out.push_back({name + ".weight", safetensors_dtype::i8, {rows, cols}, std::move(q)});
  out.push_back({name + ".weight_scale", dtype, {rows, 1}, std::move(scale)});
}

// One QuantizationArgs as compressed-tensors serializes it.
std::string quantization_args_json(bool activations, bool symmetric) {
  std::ostringstream o;
  o << "{\"actorder\": null, \"block_structure\": null, \"dynamic\": "
    << (activations ? "true" : "false") << ", \"group_size\": null, \"num_bits\": 8, "
    << "\"observer\": " << (activations ? "null" : "\"minmax\"")
    << ", \"observer_kwargs\": {}, \"strategy\": \"" << (activations ? "token" : "channel")
    << "\", \"symmetric\": " << (symmetric ? "true" : "false") << ", \"type\": \"int\"}";
  return o.str();
}

// llm-compressor's quantization_config for W8A8 int8 (what compressed_tensors.hpp accepts).
std::string w8a8_quantization_config_json(const tiny_model_spec& s) {
  std::ostringstream o;
  o << "  \"quantization_config\": {\n"
    << "    \"config_groups\": {\"group_0\": {\n"
    << "      \"input_activations\": " << quantization_args_json(true, !s.w8a8_asymmetric)
    << ",\n      \"output_activations\": null,\n      \"targets\": [\"Linear\"],\n"
    << "      \"weights\": " << quantization_args_json(false, true) << "}},\n"
    << "    \"format\": \"int-quantized\",\n    \"ignore\": [\"lm_head\"],\n"
    << "    \"kv_cache_scheme\": null,\n    \"quant_method\": \"compressed-tensors\",\n"
    << "    \"quantization_status\": \"compressed\"\n  },\n";
  return o.str();
}

}  // namespace

status check_tiny_model_spec(const tiny_model_spec& s) {
  if (s.family != "llama" && s.family != "mistral" && s.family != "qwen2") {
    return error{"unknown family '" + s.family + "' (llama, mistral, qwen2)"};
  }
  if (s.hidden_size <= 0 || s.num_layers <= 0 || s.num_heads <= 0 || s.num_kv_heads <= 0 ||
      s.vocab_size <= 0 || s.intermediate_size <= 0 || s.max_position_embeddings <= 0 ||
      s.head_dim < 0 || s.sliding_window < 0) {
    return error{"model sizes must be positive"};
  }
  if (s.num_heads % s.num_kv_heads != 0) return error{"heads must be a multiple of kv-heads"};
  const int32_t d = head_dim_of(s);
  if (d <= 0 || d % 2 != 0) return error{"head dim must be a positive even number"};
  if (s.sliding_window > 0 && s.family != "mistral") {
    return error{"a sliding window is only written for the mistral family"};
  }
  if (s.w8a8_asymmetric && !s.w8a8) return error{"asymmetric activations need w8a8"};
  return ok_status();
}

std::string tiny_model_config_json(const tiny_model_spec& s) {
  std::ostringstream o;
  o.precision(9);
  o << "{\n  \"architectures\": [\"" << architecture(s.family) << "\"],\n"
    << "  \"model_type\": \"" << s.family << "\",\n"
    << "  \"hidden_act\": \"silu\",\n"
    << "  \"hidden_size\": " << s.hidden_size << ",\n"
    << "  \"intermediate_size\": " << s.intermediate_size << ",\n"
    << "  \"num_hidden_layers\": " << s.num_layers << ",\n"
    << "  \"num_attention_heads\": " << s.num_heads << ",\n"
    << "  \"num_key_value_heads\": " << s.num_kv_heads << ",\n";
  if (s.head_dim > 0) o << "  \"head_dim\": " << s.head_dim << ",\n";
  o << "  \"vocab_size\": " << s.vocab_size << ",\n"
    << "  \"max_position_embeddings\": " << written_max_positions(s) << ",\n"
    << "  \"rms_norm_eps\": " << num(s.rms_norm_eps) << ",\n"
    << "  \"rope_theta\": " << num(s.rope_theta) << ",\n"
    << "  \"rope_scaling\": " << rope_scaling_json(s.rope_scale) << ",\n"
    << "  \"tie_word_embeddings\": " << (s.tie_word_embeddings ? "true" : "false") << ",\n";
  if (s.family == "mistral") {
    o << "  \"sliding_window\": "
      << (s.sliding_window > 0 ? std::to_string(s.sliding_window) : "null") << ",\n";
  }
  if (s.family == "qwen2") o << "  \"use_sliding_window\": false,\n";
  if (s.w8a8) o << w8a8_quantization_config_json(s);
  o << "  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n"
    << "  \"torch_dtype\": \"" << torch_dtype(s.dtype) << "\"\n}\n";
  return o.str();
}

std::vector<safetensors_entry> tiny_model_tensors(const tiny_model_spec& s) {
  const int64_t hidden = s.hidden_size, ffn = s.intermediate_size, vocab = s.vocab_size;
  const int64_t q_dim = int64_t{s.num_heads} * head_dim_of(s);
  const int64_t kv_dim = int64_t{s.num_kv_heads} * head_dim_of(s);
  std::vector<safetensors_entry> out;
  uint64_t index = 0;  // the value stream of the next float tensor (W8A8 scales take none)
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float offset) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    out.push_back({name, s.dtype, shape, random_values(s, index++, n, scale, offset)});
  };
  auto linear = [&](const std::string& name, int64_t rows, int64_t cols) {
    add(name, {rows, cols}, 1.0f / std::sqrt(static_cast<float>(cols)), 0.0f);
    if (!s.w8a8) return;
    safetensors_entry w = std::move(out.back());
    out.pop_back();
    add_w8a8(out, name.substr(0, name.size() - std::string(".weight").size()), rows, cols, w.values,
             s.dtype);
  };
  add("model.embed_tokens.weight", {vocab, hidden}, 1.0f, 0.0f);
  for (int32_t layer = 0; layer < s.num_layers; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    add(p + "input_layernorm.weight", {hidden}, 0.2f, 1.0f);
    linear(p + "self_attn.q_proj.weight", q_dim, hidden);
    linear(p + "self_attn.k_proj.weight", kv_dim, hidden);
    linear(p + "self_attn.v_proj.weight", kv_dim, hidden);
    if (s.family == "qwen2") {
      add(p + "self_attn.q_proj.bias", {q_dim}, 0.5f, 0.0f);
      add(p + "self_attn.k_proj.bias", {kv_dim}, 0.5f, 0.0f);
      add(p + "self_attn.v_proj.bias", {kv_dim}, 0.5f, 0.0f);
    }
    linear(p + "self_attn.o_proj.weight", hidden, q_dim);
    add(p + "post_attention_layernorm.weight", {hidden}, 0.2f, 1.0f);
    linear(p + "mlp.gate_proj.weight", ffn, hidden);
    linear(p + "mlp.up_proj.weight", ffn, hidden);
    linear(p + "mlp.down_proj.weight", hidden, ffn);
  }
  add("model.norm.weight", {hidden}, 0.2f, 1.0f);
  if (!s.tie_word_embeddings) {
    add("lm_head.weight", {vocab, hidden}, 4.0f / std::sqrt(static_cast<float>(hidden)), 0.0f);
  }
  return out;
}

status write_tiny_model(const tiny_model_spec& spec, const std::string& dir) {
  if (auto ok = check_tiny_model_spec(spec); !ok) return ok;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return error{dir + ": cannot create: " + ec.message()};
  const auto config_path = std::filesystem::path(dir) / "config.json";
  std::ofstream config(config_path, std::ios::trunc);
  config << tiny_model_config_json(spec);
  if (!config) return error{config_path.string() + ": write failed"};
  return write_safetensors((std::filesystem::path(dir) / "model.safetensors").string(),
                           tiny_model_tensors(spec));
}

result<rope_scaling> parse_rope_scaling_spec(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string type = text.substr(0, colon);
  std::string json = "{\"rope_scaling\": ";
  if (type == "none") return rope_scaling{};
  json += "{\"rope_type\": \"" + type + "\"";
  std::istringstream params(colon == std::string::npos ? "" : text.substr(colon + 1));
  for (std::string kv; std::getline(params, kv, ',');) {
    const size_t eq = kv.find('=');
    char* end = nullptr;
    const std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    std::strtod(value.c_str(), &end);
    if (eq == std::string::npos || value.empty() || *end != '\0' ||
        kv.find('"') != std::string::npos) {
      return error{"--rope-scaling: expected TYPE[:key=number,...], got '" + text + "'"};
    }
    json += ", \"" + kv.substr(0, eq) + "\": " + value;
  }
  // Reuse config.json's reader so the accepted keys and checks are the same.
  json +=
      "}, \"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, "
      "\"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 1, "
      "\"vocab_size\": 8}";
  auto hp = hf_hparams_from_config_json(json);
  if (!hp) return error{"--rope-scaling: " + hp.message()};
  return hp->rope_scale;
}

}  // namespace troupe::runtime
