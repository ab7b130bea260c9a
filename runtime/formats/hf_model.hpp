#pragma once
// Hugging Face model directories: config.json + *.safetensors of a Llama-family decoder
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) into llama_weights.
//
// config.json keys read (defaults: transformers' LlamaConfig / MistralConfig / Qwen2Config):
//   architectures[0] (or model_type)       one of the three above; a model_type of another
//                                          family is refused
//   hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size  required
//   num_key_value_heads                    default num_attention_heads (Mistral 8, Qwen2 32)
//   head_dim                               default hidden_size / num_attention_heads (null too;
//                                          without it hidden_size must be a multiple)
//   max_position_embeddings                default 2048 (Mistral 131072, Qwen2 32768)
//   rms_norm_eps (1e-6), tie_word_embeddings (false)
//   RoPE, either layout (both present: they must agree):
//     transformers 5  "rope_parameters": {"rope_type", "rope_theta", scaling fields}
//     transformers 4  "rope_theta" (10000), "rope_scaling": {"rope_type"|"type", fields} | null
//     rope_type default | linear | dynamic (factor) | llama3 (factor, low_freq_factor,
//     high_freq_factor, original_max_position_embeddings) | yarn (factor,
//     original_max_position_embeddings, beta_fast, beta_slow, mscale, mscale_all_dim,
//     attention_factor, truncate true)
//   sliding_window (Mistral; null = none, absent = 4096 as transformers)
//   dtype / torch_dtype                    float32 | float16 | bfloat16 (both: they must agree)
// Refused, because the forward would silently compute another model: hidden_act other than
// silu; Llama/Mistral attention biases (attention_bias, bias, qkv_bias); mlp_bias; any other
// rope_type or RoPE key (partial_rotary_factor != 1, mrope_section, ...); rope_parameters per
// attention type; layer_types other than all "full_attention"; Qwen2 use_sliding_window; a
// Llama sliding_window; logit_scale != 1; a quantization_config / compression_config other than
// compressed-tensors W8A8 int8 (runtime/formats/compressed_tensors.hpp names what is read: its
// quantized modules load as int8 weights with per-row scales, format w8a8 or w8a8_azp). Fields that
// do not change logits (use_cache, *_token_id, initializer_range, pretraining_tp, ...) are
// ignored.
// Tensors (PyTorch Linear weights are [out, in], llama_weights' row-major layout as is):
//   model.embed_tokens.weight [vocab, hidden]     model.norm.weight [hidden]
//   lm_head.weight [vocab, hidden]                absent (or ignored) with tied embeddings
//   model.layers.N.input_layernorm / post_attention_layernorm.weight [hidden]
//   model.layers.N.self_attn.q_proj.weight [heads*head_dim, hidden] (+ .bias for Qwen2)
//   model.layers.N.self_attn.k_proj / v_proj.weight [kv_heads*head_dim, hidden] (+ .bias)
//   model.layers.N.self_attn.o_proj.weight [hidden, heads*head_dim]
//   model.layers.N.mlp.gate_proj / up_proj.weight [ffn, hidden]  mlp.down_proj [hidden, ffn]
//   model.layers.N.self_attn.k_scale / v_scale [] or [1]: optional fp8 KV-cache scales (vLLM's;
//     absent: 1.0). The older spellings vLLM remaps (self_attn.kv_scale, k_proj.output_scale,
//     v_proj.output_scale) are an error naming the tensor, never silently ignored.
// HF checkpoints rotate with rope_style::neox (rotate_half). Matrices stay as stored (F32, or
// BF16/F16 bytes: runtime/formats/weight_matrix); norms and biases are widened to f32.
#include <string>

#include "base/result.hpp"
#include "runtime/model/llama_weights.hpp"

namespace troupe::runtime {

// True when `path` is a directory holding a config.json.
bool is_hf_model_dir(const std::string& path);

// Hyper-parameters from the text of a config.json. Errors name the key that is missing, has the
// wrong type or an unsupported value.
result<llama_hparams> hf_hparams_from_config_json(const std::string& json_text);

// The text of <dir>/config.json.
result<std::string> read_hf_config_text(const std::string& dir);

// <dir>/config.json, read and parsed as above.
result<llama_hparams> read_hf_config(const std::string& dir);

// Hyper-parameters and every weight, each tensor's shape checked. `num_threads` widen tensors
// in parallel (0 = one per core).
// thread: may be called from any thread; it starts and joins its own workers.
result<llama_weights> load_hf_model(const std::string& dir, unsigned num_threads = 0);

}  // namespace troupe::runtime
