#include "runtime/model/llama_checks.hpp"

#include <cmath>
#include <string>
#include <tuple>

#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {

namespace {

status check_size(const std::vector<float>& v, int64_t expected, const std::string& name) {
  if (static_cast<int64_t>(v.size()) == expected) return ok_status();
  return error{"weight '" + name + "' has " + std::to_string(v.size()) + " values, expected " +
               std::to_string(expected)};
}

status shape_error(const weight_matrix& m, int64_t rows, int64_t cols, const std::string& name) {
  const std::string format = backend::weight_format_name(m.format);
  if (m.random) {
    return error{"weight '" + name + "' is random " + format +
                 ": random weights are f32, bf16, f16, w8a8 or w8a8_azp, hold no data and have a "
                 "positive bound"};
  }
  return error{"weight '" + name + "' (" + format + ") does not hold a [" + std::to_string(rows) +
               "][" + std::to_string(cols) + "] matrix"};
}

status check_hparams(const llama_hparams& hp) {
  if (hp.num_layers <= 0 || hp.hidden_size <= 0 || hp.intermediate_size <= 0 || hp.num_heads <= 0 ||
      hp.num_kv_heads <= 0 || hp.head_dim <= 0 || hp.vocab_size <= 0)
    return error{"llama hparams must be positive"};
  if (hp.num_heads % hp.num_kv_heads != 0)
    return error{"num_heads must be a multiple of num_kv_heads"};
  if (hp.head_dim % 2 != 0 || !(hp.rope_theta > 0.0f))
    return error{"rope needs an even head_dim and a positive theta"};
  if (hp.sliding_window < 0) return error{"sliding_window must be >= 0"};
  if (hp.rope_scale.type != rope_scaling_type::none && !(hp.rope_scale.factor > 0.0f))
    return error{"rope scaling needs a positive factor"};
  return ok_status();
}

status check_sequence(const seq_step& seq, int32_t block_size, int32_t num_blocks) {
  const std::string which = "sequence " + std::to_string(seq.seq_id) + ": ";
  if (seq.num_tokens < 1 || seq.start_pos < 0) return error{which + "bad num_tokens/start_pos"};
  const int64_t end = int64_t{seq.start_pos} + seq.num_tokens;
  // Distinct blocks can hold no more than the whole cache; this also bounds the rope table.
  if (end > int64_t{num_blocks} * block_size)
    return error{which + "position " + std::to_string(end - 1) + " beyond the KV cache"};
  if (static_cast<int64_t>(seq.block_table.size()) * block_size < end)
    return error{which + "block table too short for position " + std::to_string(end - 1)};
  for (int32_t block : seq.block_table)
    if (block < 0 || block >= num_blocks)
      return error{which + "block id " + std::to_string(block) + " out of range"};
  return ok_status();
}

}  // namespace

status check_llama_weights(const llama_weights& w) {
  const auto& hp = w.hparams;
  if (auto st = check_hparams(hp); !st) return st;
  const int64_t hidden = hp.hidden_size;
  const int64_t q_dim = int64_t{hp.num_heads} * hp.head_dim;
  const int64_t kv_dim = int64_t{hp.num_kv_heads} * hp.head_dim;
  if (static_cast<int32_t>(w.layers.size()) != hp.num_layers)
    return error{"weights have " + std::to_string(w.layers.size()) + " layers"};
  status st = ok_status();
  for_each_matrix(w,
                  [&](const weight_matrix& m, int64_t rows, int64_t cols, const std::string& name) {
                    if (st && !has_shape(m, rows, cols)) st = shape_error(m, rows, cols, name);
                  });
  if (st) st = check_size(w.output_norm, hidden, "output_norm");
  for (size_t i = 0; st && i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    const std::string p = "layer " + std::to_string(i) + ".";
    for (auto [v, n, name] :
         {std::tuple{&l.attn_norm, hidden, "attn_norm"}, {&l.ffn_norm, hidden, "ffn_norm"}})
      if (st) st = check_size(*v, n, p + name);
    const int64_t bias_q = hp.attention_bias ? q_dim : 0, bias_kv = hp.attention_bias ? kv_dim : 0;
    if (st) st = check_size(l.bq, bias_q, p + "bq");
    if (st) st = check_size(l.bk, bias_kv, p + "bk");
    if (st) st = check_size(l.bv, bias_kv, p + "bv");
    for (auto [scale, name] : {std::pair{l.k_scale, "k_scale"}, {l.v_scale, "v_scale"}}) {
      if (st && !(std::isfinite(scale) && scale > 0.0f))
        st = error{p + name + " must be finite and positive, got " + std::to_string(scale)};
    }
  }
  return st;
}

status validate_step_batch(const step_batch& batch, int32_t block_size, int32_t num_blocks,
                           int32_t vocab_size) {
  int64_t total = 0;
  for (const auto& seq : batch.seqs) {
    if (auto st = check_sequence(seq, block_size, num_blocks); !st) return st;
    if (seq.num_draft_tokens < 0 || seq.num_draft_tokens >= seq.num_tokens ||
        (seq.num_draft_tokens > 0 && !seq.sample))
      return error{"drafts outside a sampling sequence's tokens"};
    if (static_cast<int64_t>(seq.prompt_logprob_targets.size()) > seq.num_tokens)
      return error{"more prompt logprob targets than tokens"};
    for (int32_t id : seq.prompt_logprob_targets)
      if (id < 0 || id >= vocab_size)
        return error{"prompt logprob target " + std::to_string(id) + " out of range"};
    total += seq.num_tokens;
  }
  if (total != static_cast<int64_t>(batch.token_ids.size()))
    return error{"token_ids holds " + std::to_string(batch.token_ids.size()) +
                 " tokens, sequences claim " + std::to_string(total)};
  for (int32_t id : batch.token_ids)
    if (id < 0 || id >= vocab_size)
      return error{"token id " + std::to_string(id) + " out of range"};
  return ok_status();
}

}  // namespace troupe::runtime
