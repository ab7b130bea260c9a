// config.json fields that change the computation and that troupe does not implement: refused
// with the reason instead of defaulted (contract: hf_config_json.hpp). What LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM read in transformers 5 (and vLLM's Llama reads beyond
// them) is either implemented, checked here, or has no effect on logits: attention_dropout,
// initializer_range, use_cache, *_token_id, max_window_layers without use_sliding_window,
// pretraining_tp (transformers 4 split the same matmuls into slices; 5 no longer reads it).
#include <string_view>

#include "runtime/formats/compressed_tensors.hpp"
#include "runtime/formats/hf_config_json.hpp"

namespace troupe::runtime::hf_json {
namespace {

status refuse_true(const json& doc, const char* key, const std::string& why) {
  auto v = read_bool(doc, key);
  if (!v) return v.err();
  if (v->value_or(false)) return error{"config.json: " + std::string(key) + " " + why};
  return ok_status();
}

status check_activation(const json& doc) {
  auto act = read_string(doc, "hidden_act");
  if (!act) return act.err();
  if (!act->empty() && *act != "silu") {
    return error{"config.json: hidden_act '" + *act + "' is not supported (silu)"};
  }
  return ok_status();
}

// Qwen2 always has q/k/v biases and no o_proj bias; Llama's attention_bias adds all four and
// Mistral has none. vLLM's Llama also reads "bias" and "qkv_bias".
status check_biases(const json& doc, const llama_hparams& hp) {
  if (auto ok = refuse_true(doc, "mlp_bias", "(MLP biases) is not supported"); !ok) return ok;
  if (hp.architecture == "qwen2") return ok_status();
  for (const char* key : {"attention_bias", "bias", "qkv_bias"}) {
    if (auto ok = refuse_true(
            doc, key, "(attention projection biases) is not supported for " + hp.architecture);
        !ok) {
      return ok;
    }
  }
  return ok_status();
}

// Per-layer attention types: only all "full_attention" (what Qwen2Config writes without
// use_sliding_window) is the model troupe computes.
status check_layer_types(const json& doc, const llama_hparams& hp) {
  const json* types = member(doc, "layer_types");
  if (types == nullptr) return ok_status();
  if (!types->IsArray() || types->Size() != static_cast<rapidjson::SizeType>(hp.num_layers)) {
    return error{"config.json: layer_types must list one attention type per layer"};
  }
  if (hp.architecture == "mistral") {
    return error{
        "config.json: layer_types on a Mistral model (per-layer attention, Ministral) is "
        "not supported"};
  }
  for (const auto& t : types->GetArray()) {
    if (!t.IsString() || std::string_view(t.GetString()) != "full_attention") {
      return error{
          "config.json: layer_types other than \"full_attention\" (per-layer sliding "
          "windows) are not supported"};
    }
  }
  return ok_status();
}

status check_sliding_window(const json& doc, const llama_hparams& hp) {
  if (hp.architecture == "qwen2") {
    return refuse_true(doc, "use_sliding_window",
                       "(Qwen2 per-layer windows) is not supported; set it to false");
  }
  // transformers' Llama ignores the key where vLLM would apply it to every layer.
  if (hp.architecture == "llama" && member(doc, "sliding_window") != nullptr) {
    return error{"config.json: sliding_window on a Llama model is not supported (set it to null)"};
  }
  return ok_status();
}

// vLLM's Llama multiplies the logits by logit_scale; transformers' does not.
status check_logit_scale(const json& doc) {
  const json* v = member(doc, "logit_scale");
  if (v != nullptr && (!v->IsNumber() || v->GetDouble() != 1.0)) {
    return error{"config.json: logit_scale other than 1 is not supported"};
  }
  return ok_status();
}

// dtype (transformers 5) or torch_dtype (4) is what `--dtype auto` rounds the weights to.
status check_dtype(const json& doc) {
  auto dtype = read_string(doc, "dtype");
  if (!dtype) return dtype.err();
  auto torch_dtype = read_string(doc, "torch_dtype");
  if (!torch_dtype) return torch_dtype.err();
  if (!dtype->empty() && !torch_dtype->empty() && *dtype != *torch_dtype) {
    return error{"config.json: dtype '" + *dtype + "' and torch_dtype '" + *torch_dtype +
                 "' disagree"};
  }
  const std::string& name = dtype->empty() ? *torch_dtype : *dtype;
  if (!name.empty() && name != "float32" && name != "float16" && name != "bfloat16") {
    return error{"config.json: dtype '" + name + "' is not supported (float32, float16, bfloat16)"};
  }
  return ok_status();
}

// compressed-tensors W8A8 is read (compressed_tensors.hpp); every other quantization_config is
// an error naming its field.
status check_quantization(const json& doc) {
  for (const char* key : {"quantization_config", "compression_config"}) {
    const json* config = member(doc, key);
    if (config == nullptr) continue;
    if (auto parsed = parse_w8a8_config(*config); !parsed)
      return error{"config.json: " + parsed.message()};
  }
  return ok_status();
}

}  // namespace

status check_unsupported(const json& doc, const llama_hparams& hp) {
  for (status ok : {check_activation(doc), check_biases(doc, hp), check_layer_types(doc, hp),
                    check_sliding_window(doc, hp), check_logit_scale(doc), check_dtype(doc),
                    check_quantization(doc)}) {
    if (!ok) return ok;
  }
  return ok_status();
}

}  // namespace troupe::runtime::hf_json
