#pragma once
// Tiny random-weight Hugging Face model directories (`troupe make-model`): config.json and
// model.safetensors for a Llama, Mistral or Qwen2 decoder, deterministic from a seed on every
// platform (own splitmix64 stream, no std:: distributions), the test suite's models.
//
// Weights, each tensor from its own stream (seed, tensor index) so the sizes of one tensor do
// not change another's values; u = uniform in [-1, 1):
//   embed_tokens u            lm_head 4 u / sqrt(hidden)      (so logits spread over ~2-3 nats)
//   projections u / sqrt(in)  q/k/v biases 0.5 u               norms 1 + 0.2 u
//
// W8A8 (spec.w8a8, `--quantization w8a8`): the same float values, then every q/k/v/o/gate/up/down
// projection is stored as llm-compressor's int-quantized W8A8 (compressed_tensors.hpp):
//   <proj>.weight I8 [out, in]   <proj>.weight_scale [out, 1] in the model dtype
//   scale[n] = dtype(absmax_k |w[n][k]| / 127)   (the f32 quotient rounded to the model dtype)
//   q[n][k]  = clamp(rn(w[n][k] / scale[n]), -128, 127)   (rn: round half to even; 0 if scale 0)
// embed_tokens, lm_head and the norms stay in the model dtype; config.json gets the
// quantization_config llm-compressor writes, with ignore ["lm_head"] and activations dynamic
// per-token, symmetric unless spec.w8a8_asymmetric.
#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "runtime/formats/safetensors.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

struct tiny_model_spec {
  std::string family = "llama";  // llama | mistral | qwen2
  uint64_t seed = 0;
  int32_t hidden_size = 64;
  int32_t num_layers = 2;
  int32_t num_heads = 4;
  int32_t num_kv_heads = 2;
  int32_t head_dim = 0;  // 0: hidden_size / num_heads (written explicitly only when given)
  int32_t vocab_size = 512;
  int32_t intermediate_size = 128;
  int32_t max_position_embeddings = 4096;
  int32_t sliding_window = 0;  // mistral only; 0: null
  float rope_theta = 10000.0f;
  float rms_norm_eps = 1e-5f;
  bool tie_word_embeddings = false;
  rope_scaling rope_scale;  // type none: "rope_scaling": null
  safetensors_dtype dtype = safetensors_dtype::f32;
  bool w8a8 = false;             // int8 projections (above)
  bool w8a8_asymmetric = false;  // with asymmetric (zero-point) activations; requires w8a8
};

// Errors: unknown family, non-positive sizes, heads not a multiple of kv heads, odd head_dim,
// a sliding window on a family other than mistral.
status check_tiny_model_spec(const tiny_model_spec& spec);

// The config.json text for `spec` (what read_hf_config parses back into the same hparams).
// YaRN with original_max_position_embeddings writes max_position_embeddings = factor x original
// (so transformers, which derives the factor from that ratio, and vLLM agree).
std::string tiny_model_config_json(const tiny_model_spec& spec);

// Every tensor of the model, named as in a Hugging Face checkpoint.
std::vector<safetensors_entry> tiny_model_tensors(const tiny_model_spec& spec);

// Writes config.json and model.safetensors into `dir` (created if missing).
status write_tiny_model(const tiny_model_spec& spec, const std::string& dir);

// Parses "TYPE[:key=value,...]" (e.g. "yarn:factor=4,original_max_position_embeddings=256";
// keys are config.json's rope_scaling keys) or "none".
result<rope_scaling> parse_rope_scaling_spec(const std::string& text);

}  // namespace troupe::runtime
