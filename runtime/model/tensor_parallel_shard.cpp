#include "runtime/model/tensor_parallel_shard.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/formats/weight_matrix.hpp"
#include "runtime/model/kv_cache.hpp"

namespace troupe::runtime {

namespace {

std::string sizes(const llama_hparams& hp, int32_t n) {
  return "tensor parallel size " + std::to_string(n) + ", " + std::to_string(hp.num_heads) +
         " attention heads, " + std::to_string(hp.num_kv_heads) + " KV heads";
}

// Whether ranks hold different numbers of KV groups (the troupe-only rule).
bool uneven_heads(const llama_hparams& hp, int32_t n) {
  return hp.num_kv_heads >= n && hp.num_kv_heads % n != 0;
}

// Where rank k's MLP slice starts, for k in [0, n]. Even split, except with uneven heads: then a
// rank with one KV group more gives up the MLP columns that hold as many weights (q and o take
// 2 * head_dim * hidden per q head, k and v as much per KV head; an MLP column 3 * hidden),
// rounded to a multiple of 32 columns (a GGUF block) when the MLP is.
std::vector<int32_t> intermediate_bounds(const llama_hparams& hp, int32_t n) {
  const int64_t inner = hp.intermediate_size;
  std::vector<int32_t> bounds(static_cast<size_t>(n) + 1);
  for (int32_t k = 0; k <= n; ++k) {
    double b = static_cast<double>(k * inner / n);
    if (uneven_heads(hp, n)) {
      const int32_t group = hp.num_heads / hp.num_kv_heads + 1;  // q heads + the KV head
      const double even_units = static_cast<double>(k) * (hp.num_heads + hp.num_kv_heads) / n;
      const double units = static_cast<double>(k * hp.num_kv_heads / n) * group;
      b = std::round(static_cast<double>(k) * inner / n +
                     2.0 * hp.head_dim / 3.0 * (even_units - units));
      // On a 32-column boundary, so that GGUF blocks of w_down stay whole (weight_matrix).
      if (inner % 32 == 0) b = std::round(b / 32.0) * 32.0;
    }
    // At least one column per rank.
    const double lo = k == 0 ? 0.0 : bounds[k - 1] + 1.0;
    bounds[k] = static_cast<int32_t>(std::clamp<double>(b, lo, static_cast<double>(inner - n + k)));
  }
  return bounds;
}

// Rows [begin, begin + count) of a [rows][cols] f32 vector; rows past its end are zeros.
std::vector<float> rows_of(const std::vector<float>& m, int64_t cols, int64_t begin,
                           int64_t count) {
  return matrix_rows(weight_matrix(m), cols, begin, count).values;
}

llama_layer_weights slice_layer(const llama_layer_weights& lw, const llama_hparams& hp,
                                const llama_shard& s) {
  const int64_t hidden = hp.hidden_size, hd = hp.head_dim;
  const int64_t q0 = s.first_head * hd, nq = s.num_heads * hd;
  const int64_t kv0 = s.first_kv_head * hd, nkv = s.num_kv_heads * hd;
  const int64_t f0 = s.first_intermediate, nf = s.intermediate_size;
  llama_layer_weights out;
  out.attn_norm = lw.attn_norm;
  const int64_t q_dim = int64_t{hp.num_heads} * hd;
  out.wq = matrix_rows(lw.wq, hidden, q0, nq);
  out.wk = matrix_rows(lw.wk, hidden, kv0, nkv);
  out.wv = matrix_rows(lw.wv, hidden, kv0, nkv);
  out.wo = matrix_cols(lw.wo, hidden, q_dim, q0, nq);
  if (hp.attention_bias) {
    out.bq = rows_of(lw.bq, 1, q0, nq);
    out.bk = rows_of(lw.bk, 1, kv0, nkv);
    out.bv = rows_of(lw.bv, 1, kv0, nkv);
  }
  out.ffn_norm = lw.ffn_norm;
  out.w_gate = matrix_rows(lw.w_gate, hidden, f0, nf);
  out.w_up = matrix_rows(lw.w_up, hidden, f0, nf);
  out.w_down = matrix_cols(lw.w_down, hidden, hp.intermediate_size, f0, nf);
  out.k_scale = lw.k_scale;
  out.v_scale = lw.v_scale;
  return out;
}

}  // namespace

status check_tensor_parallel(const llama_hparams& hp, int32_t n) {
  if (n < 1) return error{"tensor parallel size must be at least 1, got " + std::to_string(n)};
  if (hp.num_kv_heads < 1 || hp.num_heads % hp.num_kv_heads != 0)
    return error{"cannot split " + sizes(hp, n) + ": heads do not form KV groups"};
  if (hp.num_kv_heads < n && n % hp.num_kv_heads != 0)
    return error{"cannot split " + sizes(hp, n) +
                 ": with fewer KV heads than ranks, the tensor parallel size must be a multiple "
                 "of the KV heads (each KV head is replicated on size / KV heads ranks)"};
  if (hp.num_kv_heads < n && hp.num_heads % n != 0)
    return error{"cannot split " + sizes(hp, n) +
                 ": the attention heads must be divisible by the tensor parallel size"};
  if (hp.intermediate_size < n)
    return error{"cannot split an MLP of " + std::to_string(hp.intermediate_size) +
                 " columns over " + std::to_string(n) + " ranks"};
  return ok_status();
}

llama_shard make_llama_shard(const llama_hparams& hp, int32_t rank, int32_t n) {
  llama_shard s;
  s.rank = rank;
  s.world_size = n;
  const int32_t kv = hp.num_kv_heads, group = hp.num_heads / kv;
  if (kv >= n) {
    s.first_kv_head = rank * kv / n;
    s.num_kv_heads = (rank + 1) * kv / n - s.first_kv_head;
    s.first_head = s.first_kv_head * group;
    s.num_heads = s.num_kv_heads * group;
  } else {  // each KV head replicated on n / kv consecutive ranks
    s.first_kv_head = rank / (n / kv);
    s.num_kv_heads = 1;
    s.num_heads = hp.num_heads / n;
    s.first_head = rank * s.num_heads;
  }
  const auto bounds = intermediate_bounds(hp, n);
  s.first_intermediate = bounds[rank];
  s.intermediate_size = bounds[rank + 1] - bounds[rank];
  s.vocab_rows = (hp.vocab_size + n - 1) / n;
  s.first_token = rank * s.vocab_rows;
  s.end_layer = hp.num_layers;
  return s;
}

llama_weights slice_llama_weights(const llama_weights& w, const llama_shard& s) {
  const auto& hp = w.hparams;
  const bool last = s.last_stage(hp);
  llama_weights out;
  out.hparams = hp;
  if (s.first_stage() || (last && hp.tie_word_embeddings)) {
    out.token_embedding =
        matrix_rows(w.token_embedding, hp.hidden_size, s.first_token, s.vocab_rows);
  }
  for (int32_t layer = s.first_layer; layer < s.end_layer; ++layer)
    out.layers.push_back(slice_layer(w.layers[static_cast<size_t>(layer)], hp, s));
  if (!last) return out;
  out.output_norm = w.output_norm;
  if (!hp.tie_word_embeddings)
    out.output = matrix_rows(w.output, hp.hidden_size, s.first_token, s.vocab_rows);
  return out;
}

backend::kv_cache_shape kv_cache_shape_for(const llama_hparams& hparams, const llama_shard& shard,
                                           int32_t num_blocks, int32_t block_size,
                                           backend::kv_cache_dtype dtype) {
  auto shape = kv_cache_shape_for(hparams, num_blocks, block_size, dtype);
  shape.num_kv_heads = shard.num_kv_heads;
  shape.num_layers = shard.num_layers();
  return shape;
}

}  // namespace troupe::runtime
