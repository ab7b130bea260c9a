#include "runtime/model/llama_forward.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/embedding.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/rmsnorm.hpp"
#include "runtime/model/rope_frequencies.hpp"

namespace troupe::runtime {

namespace cpu = kernels::cpu;

namespace {

// GGUF llama files keep ggml's table (their parity tests pin it); Hugging Face checkpoints and
// scaled RoPE use explicit frequencies computed like transformers does.
cpu::rope_table make_rope_table(const llama_hparams& hp) {
  if (hp.rope == rope_style::interleaved && hp.rope_scale.type == rope_scaling_type::none) {
    return {hp.head_dim, hp.rope_theta};
  }
  return {rope_inv_frequencies(hp), rope_attention_factor(hp)};
}

}  // namespace

llama_forward::llama_forward(const llama_weights& weights, kv_cache& cache, cpu::thread_pool& pool)
    : w_(weights),
      cache_(cache),
      pool_(pool),
      rope_(make_rope_table(weights.hparams)),
      rope_layout_(weights.hparams.rope == rope_style::neox ? cpu::rope_layout::neox
                                                            : cpu::rope_layout::interleaved) {
  // Longer contexts extend the table on demand (entries are computed per position, so the
  // values never depend on when they were added).
  rope_.ensure(std::clamp(weights.hparams.max_position_embeddings, 1, 8192));
}

const std::vector<float>& llama_forward::run(const step_batch& batch) {
  prepare(batch);
  const auto& hp = w_.hparams;
  cpu::embedding(w_.token_embedding.data(), hp.hidden_size, batch.token_ids.data(), num_tokens_,
                 x_.data());
  for (int32_t layer = 0; layer < hp.num_layers; ++layer) {
    attention_block(layer);
    feed_forward_block(layer);
  }
  compute_logits(batch);
  return logits_;
}

void llama_forward::prepare(const step_batch& batch) {
  const auto& hp = w_.hparams;
  num_tokens_ = static_cast<int64_t>(batch.token_ids.size());
  positions_.clear();
  tokens_.clear();
  int32_t max_position = 0;
  for (const auto& seq : batch.seqs) {
    for (int32_t i = 0; i < seq.num_tokens; ++i) {
      positions_.push_back(seq.start_pos + i);
      tokens_.push_back({seq.start_pos + i, seq.block_table.data()});
    }
    max_position = std::max(max_position, seq.start_pos + seq.num_tokens);
  }
  rope_.ensure(max_position);
  const int64_t T = num_tokens_;
  x_.resize(T * hp.hidden_size);
  h_.resize(T * hp.hidden_size);
  q_.resize(T * hp.num_heads * hp.head_dim);
  attn_.resize(q_.size());
  k_.resize(T * hp.num_kv_heads * hp.head_dim);
  v_.resize(k_.size());
  gate_.resize(T * hp.intermediate_size);
  up_.resize(gate_.size());
}

void llama_forward::attention_block(int32_t layer) {
  const auto& hp = w_.hparams;
  const auto& lw = w_.layers[layer];
  const int64_t T = num_tokens_, hidden = hp.hidden_size;
  const int64_t q_dim = int64_t{hp.num_heads} * hp.head_dim;
  const int64_t kv_dim = int64_t{hp.num_kv_heads} * hp.head_dim;
  cpu::rmsnorm(x_.data(), lw.attn_norm.data(), T, hidden, hp.rms_norm_eps, h_.data());
  cpu::gemm(pool_, h_.data(), T, hidden, lw.wq.data(), q_dim, q_.data());
  cpu::gemm(pool_, h_.data(), T, hidden, lw.wk.data(), kv_dim, k_.data());
  cpu::gemm(pool_, h_.data(), T, hidden, lw.wv.data(), kv_dim, v_.data());
  if (hp.attention_bias) {
    cpu::add_bias(q_.data(), lw.bq.data(), T, q_dim);
    cpu::add_bias(k_.data(), lw.bk.data(), T, kv_dim);
    cpu::add_bias(v_.data(), lw.bv.data(), T, kv_dim);
  }
  cpu::rope(rope_, rope_layout_, positions_.data(), T, hp.num_heads, hp.head_dim, q_.data());
  cpu::rope(rope_, rope_layout_, positions_.data(), T, hp.num_kv_heads, hp.head_dim, k_.data());
  // All of this step's keys are stored before any query reads: a prompt chunk attends to itself.
  cpu::store_kv(cache_.layout(), tokens_.data(), T, k_.data(), v_.data(), cache_.keys(layer),
                cache_.values(layer));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  cpu::paged_attention(pool_, cache_.layout(), tokens_.data(), T, hp.num_heads, scale, q_.data(),
                       cache_.keys(layer), cache_.values(layer), attn_.data(), hp.sliding_window);
  cpu::gemm(pool_, attn_.data(), T, q_dim, lw.wo.data(), hidden, h_.data());
  cpu::add_inplace(x_.data(), h_.data(), T * hidden);
}

void llama_forward::feed_forward_block(int32_t layer) {
  const auto& hp = w_.hparams;
  const auto& lw = w_.layers[layer];
  const int64_t T = num_tokens_, hidden = hp.hidden_size, inner = hp.intermediate_size;
  cpu::rmsnorm(x_.data(), lw.ffn_norm.data(), T, hidden, hp.rms_norm_eps, h_.data());
  cpu::gemm(pool_, h_.data(), T, hidden, lw.w_gate.data(), inner, gate_.data());
  cpu::gemm(pool_, h_.data(), T, hidden, lw.w_up.data(), inner, up_.data());
  cpu::silu_mul(gate_.data(), up_.data(), T * inner, gate_.data());
  cpu::gemm(pool_, gate_.data(), T, inner, lw.w_down.data(), hidden, h_.data());
  cpu::add_inplace(x_.data(), h_.data(), T * hidden);
}

void llama_forward::compute_logits(const step_batch& batch) {
  const auto& hp = w_.hparams;
  const int64_t hidden = hp.hidden_size;
  last_hidden_.clear();
  int64_t row = 0;
  for (const auto& seq : batch.seqs) {
    row += seq.num_tokens;
    if (!seq.sample) continue;
    const float* last = x_.data() + (row - 1) * hidden;
    last_hidden_.insert(last_hidden_.end(), last, last + hidden);
  }
  const int64_t S = static_cast<int64_t>(last_hidden_.size()) / hidden;
  cpu::rmsnorm(last_hidden_.data(), w_.output_norm.data(), S, hidden, hp.rms_norm_eps,
               last_hidden_.data());
  const auto& head = hp.tie_word_embeddings ? w_.token_embedding : w_.output;
  logits_.resize(S * hp.vocab_size);
  cpu::gemm(pool_, last_hidden_.data(), S, hidden, head.data(), hp.vocab_size, logits_.data());
}

}  // namespace troupe::runtime
