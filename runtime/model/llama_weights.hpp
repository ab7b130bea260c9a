#pragma once
// Dequantized (f32) weights of a Llama-family model in host memory, as the loaders produce them;
// upload_llama_weights (llama_device_weights.hpp) moves them onto a compute backend.
//
// Every matrix is row-major [out_features][in_features]: row r holds the weights that produce
// output feature r, so y[r] = dot(W[r, :], x). (A GGUF 2-D tensor with ne0 = in, ne1 = out is
// exactly this layout.)
#include <vector>

#include "runtime/model_config.hpp"

namespace troupe::runtime {

struct llama_layer_weights {
  std::vector<float> attn_norm;   // [hidden]
  std::vector<float> wq;          // [num_heads * head_dim][hidden]
  std::vector<float> wk;          // [num_kv_heads * head_dim][hidden]
  std::vector<float> wv;          // [num_kv_heads * head_dim][hidden]
  std::vector<float> wo;          // [hidden][num_heads * head_dim]
  std::vector<float> bq, bk, bv;  // [q_dim], [kv_dim], [kv_dim]; empty unless attention_bias
  std::vector<float> ffn_norm;    // [hidden]
  std::vector<float> w_gate;      // [intermediate][hidden]
  std::vector<float> w_up;        // [intermediate][hidden]
  std::vector<float> w_down;      // [hidden][intermediate]
  // An fp8 KV cache stores k / k_scale and v / v_scale (vLLM's per-layer kv-cache scales, from
  // the checkpoint when it has them); unused by an f32 cache. Finite and > 0.
  float k_scale = 1.0f;
  float v_scale = 1.0f;
};

struct llama_weights {
  llama_hparams hparams;
  std::vector<float> token_embedding;  // [vocab][hidden]
  std::vector<llama_layer_weights> layers;
  std::vector<float> output_norm;  // [hidden]
  std::vector<float> output;       // [vocab][hidden]; empty when hparams.tie_word_embeddings
};

}  // namespace troupe::runtime
