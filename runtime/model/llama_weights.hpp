#pragma once
// The weights of a Llama-family model in host memory, as the loaders produce them;
// upload_llama_weights (llama_device_weights.hpp) moves them onto a compute backend.
//
// Every matrix is row-major [out_features][in_features]: row r holds the weights that produce
// output feature r, so y[r] = dot(W[r, :], x). (A GGUF 2-D tensor with ne0 = in, ne1 = out is
// exactly this layout.) A matrix is a weight_matrix in its storage format (f32, bf16/f16, GGUF
// blocks, W8A8 int8: backend::weight_format; runtime/formats/weight_matrix converts between
// them); norms and biases are f32. Shapes follow from hparams.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/backend/backend_types.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

using weight_matrix = backend::weight_data;

struct llama_layer_weights {
  std::vector<float> attn_norm;   // [hidden]
  weight_matrix wq;               // [num_heads * head_dim][hidden]
  weight_matrix wk;               // [num_kv_heads * head_dim][hidden]
  weight_matrix wv;               // [num_kv_heads * head_dim][hidden]
  weight_matrix wo;               // [hidden][num_heads * head_dim]
  std::vector<float> bq, bk, bv;  // [q_dim], [kv_dim], [kv_dim]; empty unless attention_bias
  std::vector<float> ffn_norm;    // [hidden]
  weight_matrix w_gate;           // [intermediate][hidden]
  weight_matrix w_up;             // [intermediate][hidden]
  weight_matrix w_down;           // [hidden][intermediate]
  // An fp8 KV cache stores k / k_scale and v / v_scale (vLLM's per-layer kv-cache scales, from
  // the checkpoint when it has them); unused by an f32 cache. Finite and > 0.
  float k_scale = 1.0f;
  float v_scale = 1.0f;
};

struct llama_weights {
  llama_hparams hparams;
  weight_matrix token_embedding;  // [vocab][hidden]
  std::vector<llama_layer_weights> layers;
  std::vector<float> output_norm;  // [hidden]
  weight_matrix output;            // [vocab][hidden]; empty when hparams.tie_word_embeddings
};

// Calls fn(matrix, rows, cols, name) for every matrix of `w` (a llama_weights, const or not) with
// the shape its hparams give: token_embedding, each layer's wq, wk, wv, wo, w_gate, w_up,
// w_down ("layer 3.wq"), and output unless the embeddings are tied.
template <class Weights, class Fn>
void for_each_matrix(Weights& w, Fn&& fn) {
  const auto& hp = w.hparams;
  const int64_t hidden = hp.hidden_size, inner = hp.intermediate_size, vocab = hp.vocab_size;
  const int64_t q_dim = int64_t{hp.num_heads} * hp.head_dim;
  const int64_t kv_dim = int64_t{hp.num_kv_heads} * hp.head_dim;
  fn(w.token_embedding, vocab, hidden, std::string("token_embedding"));
  for (size_t i = 0; i < w.layers.size(); ++i) {
    auto& l = w.layers[i];
    const std::string p = "layer " + std::to_string(i) + ".";
    fn(l.wq, q_dim, hidden, p + "wq");
    fn(l.wk, kv_dim, hidden, p + "wk");
    fn(l.wv, kv_dim, hidden, p + "wv");
    fn(l.wo, hidden, q_dim, p + "wo");
    fn(l.w_gate, inner, hidden, p + "w_gate");
    fn(l.w_up, inner, hidden, p + "w_up");
    fn(l.w_down, hidden, inner, p + "w_down");
  }
  if (!hp.tie_word_embeddings) fn(w.output, vocab, hidden, std::string("output"));
}

}  // namespace troupe::runtime
