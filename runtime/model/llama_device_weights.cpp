#include "runtime/model/llama_device_weights.hpp"

#include <utility>

namespace troupe::runtime {

namespace {

// Uploads an f32 vector as a [1][size] weight, leaving `data` empty.
backend::weight_handle upload(backend::compute_backend& b, std::vector<float>& data) {
  if (data.empty()) return {};
  const auto cols = static_cast<int64_t>(data.size());
  return b.upload_weight({1, cols, backend::weight_format::f32}, std::move(data));
}

// Uploads a [rows][cols] matrix in its storage format, leaving `m` empty.
backend::weight_handle upload(backend::compute_backend& b, weight_matrix& m, int64_t rows,
                              int64_t cols) {
  if (m.empty()) return {};
  const backend::weight_desc desc{rows, cols, m.format};
  return b.upload_weight(desc, std::exchange(m, weight_matrix{}));
}

llama_layer_handles upload_layer(backend::compute_backend& b, llama_layer_weights& lw,
                                 const llama_hparams& hp, const llama_shard& s) {
  const int64_t hidden = hp.hidden_size, inner = s.intermediate_size;
  const int64_t q_dim = int64_t{s.num_heads} * hp.head_dim;
  const int64_t kv_dim = int64_t{s.num_kv_heads} * hp.head_dim;
  llama_layer_handles h;
  h.attn_norm = upload(b, lw.attn_norm);
  h.wq = upload(b, lw.wq, q_dim, hidden);
  h.wk = upload(b, lw.wk, kv_dim, hidden);
  h.wv = upload(b, lw.wv, kv_dim, hidden);
  h.wo = upload(b, lw.wo, hidden, q_dim);
  h.bq = upload(b, lw.bq);
  h.bk = upload(b, lw.bk);
  h.bv = upload(b, lw.bv);
  h.ffn_norm = upload(b, lw.ffn_norm);
  h.w_gate = upload(b, lw.w_gate, inner, hidden);
  h.w_up = upload(b, lw.w_up, inner, hidden);
  h.w_down = upload(b, lw.w_down, hidden, inner);
  return h;
}

}  // namespace

llama_device_weights upload_llama_weights(backend::compute_backend& backend,
                                          llama_weights weights) {
  const auto shard = make_llama_shard(weights.hparams, 0, 1);
  return upload_llama_weights(backend, std::move(weights), shard);
}

llama_device_weights upload_llama_weights(backend::compute_backend& backend, llama_weights weights,
                                          const llama_shard& shard) {
  const auto& hp = weights.hparams;
  llama_device_weights d;
  d.hparams = hp;
  d.shard = shard;
  d.token_embedding = upload(backend, weights.token_embedding, shard.vocab_rows, hp.hidden_size);
  for (auto& layer : weights.layers)
    d.layers.push_back(upload_layer(backend, layer, hp, shard));
  d.output_norm = upload(backend, weights.output_norm);
  d.lm_head = hp.tie_word_embeddings
                  ? d.token_embedding
                  : upload(backend, weights.output, shard.vocab_rows, hp.hidden_size);
  return d;
}

}  // namespace troupe::runtime
