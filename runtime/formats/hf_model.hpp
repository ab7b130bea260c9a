#pragma once
// Hugging Face model directories: config.json + *.safetensors of a Llama-family decoder
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) into f32 llama_weights.
//
// config.json keys read:
//   architectures[0] (or model_type)       one of the three above
//   hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size  required
//   num_key_value_heads                    default num_attention_heads
//   head_dim                               default hidden_size / num_attention_heads (null too)
//   rms_norm_eps (1e-6), rope_theta (10000), tie_word_embeddings (false),
//   max_position_embeddings (2048)
//   rope_scaling {"rope_type"|"type": default|linear|dynamic|llama3|yarn, factor, ...}
//   sliding_window (Mistral; null = none)  Qwen2 with use_sliding_window is rejected
//   hidden_act must be silu; Llama attention_bias / mlp_bias are rejected
// Tensors (PyTorch Linear weights are [out, in], llama_weights' row-major layout as is):
//   model.embed_tokens.weight [vocab, hidden]     model.norm.weight [hidden]
//   lm_head.weight [vocab, hidden]                absent (or ignored) with tied embeddings
//   model.layers.N.input_layernorm / post_attention_layernorm.weight [hidden]
//   model.layers.N.self_attn.q_proj.weight [heads*head_dim, hidden] (+ .bias for Qwen2)
//   model.layers.N.self_attn.k_proj / v_proj.weight [kv_heads*head_dim, hidden] (+ .bias)
//   model.layers.N.self_attn.o_proj.weight [hidden, heads*head_dim]
//   model.layers.N.mlp.gate_proj / up_proj.weight [ffn, hidden]  mlp.down_proj [hidden, ffn]
// HF checkpoints rotate with rope_style::neox (rotate_half). Whatever the checkpoint dtype
// (F32/F16/BF16), weights are widened to f32 and the CPU backend computes in f32.
#include <string>

#include "runtime/model/llama_weights.hpp"
#include "runtime/result.hpp"

namespace troupe::runtime {

// True when `path` is a directory holding a config.json.
bool is_hf_model_dir(const std::string& path);

// Hyper-parameters from the text of a config.json. Errors name the key that is missing, has the
// wrong type or an unsupported value.
result<llama_hparams> hf_hparams_from_config_json(const std::string& json_text);

// <dir>/config.json, read and parsed as above.
result<llama_hparams> read_hf_config(const std::string& dir);

// Hyper-parameters and every weight, each tensor's shape checked. `num_threads` widen tensors
// in parallel (0 = one per core).
// thread: may be called from any thread; it starts and joins its own workers.
result<llama_weights> load_hf_model(const std::string& dir, unsigned num_threads = 0);

}  // namespace troupe::runtime
