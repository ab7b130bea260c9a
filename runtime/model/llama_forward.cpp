#include "runtime/model/llama_forward.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "runtime/grammar/token_matcher.hpp"
#include "runtime/model/logits_processors.hpp"
#include "runtime/model/rope_frequencies.hpp"
#include "runtime/model/sampler.hpp"

namespace troupe::runtime {

namespace {

// GGUF llama files keep ggml's table (their parity tests pin it); Hugging Face checkpoints and
// scaled RoPE use explicit frequencies computed like transformers does.
backend::rope_spec make_rope_spec(const llama_hparams& hp) {
  backend::rope_spec spec;
  spec.style = hp.rope;
  spec.head_dim = hp.head_dim;
  spec.theta = hp.rope_theta;
  if (hp.rope != rope_style::interleaved || hp.rope_scale.type != rope_scaling_type::none) {
    spec.inv_freq = rope_inv_frequencies(hp);
    spec.magnitude = rope_attention_factor(hp);
  }
  // Longer contexts extend the table on demand (entries are computed per position, so the
  // values never depend on when they were added).
  spec.num_positions = std::clamp(hp.max_position_embeddings, 1, 8192);
  return spec;
}

// The sampled rows of a sequence whose tokens end before `end`: its last token's, and with
// drafts one more after each draft, sampled as if the drafts before it were outputs (the
// grammar's rows on a copy of its matcher fed those drafts).
void append_sampled_rows(const seq_step& seq, int32_t end, int32_t vocab_size,
                         backend::step_metadata& out) {
  const int32_t drafts = seq.num_draft_tokens;
  std::optional<grammar::token_matcher> ahead;
  if (seq.grammar != nullptr && drafts > 0) ahead.emplace(*seq.grammar);
  for (int32_t j = 0; j <= drafts; ++j) {
    const int32_t output_index = seq.output_index + j;
    const auto sampled = static_cast<int32_t>(out.sample_rows.size());
    out.sample_rows.push_back(end - 1 - drafts + j);
    auto& p = out.sampling.emplace_back(sampling_row_for(seq.sampling, output_index));
    out.max_top_logprobs = std::max(out.max_top_logprobs, p.num_top_logprobs);
    if (j > 0 && ahead) ahead->accept(seq.token_history[seq.token_history.size() - drafts + j - 1]);
    if (seq.grammar == nullptr && !has_logits_processors(seq.sampling, output_index)) continue;
    // The history through the drafts before this row; its last output_index tokens are outputs.
    const auto history =
        seq.token_history.first(seq.token_history.size() - static_cast<size_t>(drafts - j));
    const auto outputs = std::min(history.size(), static_cast<size_t>(std::max(output_index, 0)));
    grammar::token_matcher* matcher = ahead ? &*ahead : seq.grammar;
    const size_t before = out.edits.size();
    const bool allowed_only = append_logit_edits(
        seq.sampling, output_index, history.first(history.size() - outputs), history.last(outputs),
        sampled, vocab_size, out.edits, matcher != nullptr ? &matcher->allowed() : nullptr);
    p.edited = out.edits.size() > before ? 1 : 0;
    p.allowed_only = p.edited != 0 && allowed_only ? 1 : 0;
  }
}

}  // namespace

void fill_step_metadata(const step_batch& batch, backend::step_metadata& out, int32_t vocab_size,
                        bool sampled_rows) {
  out.token_ids = batch.token_ids;
  out.sampling.clear();
  out.edits.clear();
  out.max_top_logprobs = 0;
  out.positions.clear();
  out.token_seqs.clear();
  out.block_tables.clear();
  out.table_offsets.assign(1, 0);
  out.sample_rows.clear();
  out.num_positions = 0;
  out.graph_rows = 0;
  int32_t row = 0;
  for (size_t s = 0; s < batch.seqs.size(); ++s) {
    const auto& seq = batch.seqs[s];
    for (int32_t i = 0; i < seq.num_tokens; ++i) {
      out.positions.push_back(seq.start_pos + i);
      out.token_seqs.push_back(static_cast<int32_t>(s));
    }
    row += seq.num_tokens;
    if (seq.sample && sampled_rows) append_sampled_rows(seq, row, vocab_size, out);
    out.block_tables.insert(out.block_tables.end(), seq.block_table.begin(), seq.block_table.end());
    out.table_offsets.push_back(static_cast<int32_t>(out.block_tables.size()));
    out.num_positions = std::max(out.num_positions, seq.start_pos + seq.num_tokens);
  }
  if (!sampled_rows) return;
  // Prompt logprobs: scored rows after the sampled ones (so that the edits' rows stand).
  row = 0;
  for (const auto& seq : batch.seqs) {
    for (size_t i = 0; i < seq.prompt_logprob_targets.size(); ++i) {
      out.sample_rows.push_back(row + static_cast<int32_t>(i));
      auto& p = out.sampling.emplace_back();
      p.score_token = seq.prompt_logprob_targets[i];
      p.want_logprob = 1;
      p.num_top_logprobs = seq.sampling.num_prompt_logprobs;
      out.max_top_logprobs = std::max(out.max_top_logprobs, p.num_top_logprobs);
    }
    row += seq.num_tokens;
  }
}

void pad_decode_step(backend::step_metadata& step, int32_t rows) {
  for (auto r = static_cast<int32_t>(step.num_tokens()); r < rows; ++r) {
    step.token_ids.push_back(0);
    step.positions.push_back(0);
    step.token_seqs.push_back(r);
    step.table_offsets.push_back(step.table_offsets.back());
    step.sample_rows.push_back(r);
    step.sampling.emplace_back();
  }
  step.num_positions = std::max(step.num_positions, 1);
  step.graph_rows = rows;
}

int32_t graph_rows_for(const step_batch& batch, std::span<const int32_t> sizes) {
  for (const auto& seq : batch.seqs) {
    if (seq.num_tokens != 1 || !seq.sample) return 0;
  }
  const auto rows = static_cast<int32_t>(batch.seqs.size());
  const auto fit = std::lower_bound(sizes.begin(), sizes.end(), rows);
  return fit == sizes.end() ? 0 : *fit;
}

llama_forward::llama_forward(backend::compute_backend& backend, const llama_device_weights& weights,
                             backend::kv_cache_handle cache)
    : be_(backend),
      w_(weights),
      cache_(cache),
      rope_(backend.create_rope(make_rope_spec(w_.hparams))) {
  for (auto* b : {&buf_.x, &buf_.h, &buf_.q, &buf_.k, &buf_.v, &buf_.attn, &buf_.gate, &buf_.up,
                  &buf_.last, &buf_.logits, &buf_.greedy, &buf_.sampled, &buf_.shard_logits})
    *b = be_.allocate_buffer();
}

std::span<const float> llama_forward::run(const step_batch& batch, result_kind kind,
                                          const stage_activations* input) {
  prepare(batch, input);
  be_.run_step([this] { compute(); });
  sample();
  // A padded step's pad rows come last: the first num_sampled_ rows are the batch's.
  if (kind == result_kind::tokens)
    return be_.download(buf_.sampled, sampled_width() * step_.num_sampled());
  return be_.download(buf_.logits, num_sampled_ * w_.hparams.vocab_size);
}

stage_activations llama_forward::run_stage(const step_batch& batch,
                                           const stage_activations* input) {
  prepare(batch, input);
  be_.run_step([this] { compute(); });
  const int64_t n = step_.num_tokens() * w_.hparams.hidden_size;
  stage_activations out;
  const auto residual = be_.download(buf_.x, n);
  out.residual.assign(residual.begin(), residual.end());
  const auto hidden = be_.download(buf_.h, n);
  out.hidden.assign(hidden.begin(), hidden.end());
  return out;
}

void llama_forward::compute() {
  // Each block reads the normed residual stream from buf_.h and leaves its output there; the
  // residual add is fused with the norm that follows it.
  const auto& hp = w_.hparams;
  const int64_t T = step_.num_tokens();
  // The shard's layers: layers[i] is the model's layer first_layer + i, cache layer i.
  const auto num_layers = static_cast<int32_t>(w_.layers.size());
  if (w_.shard.first_stage()) {
    be_.embedding(w_.token_embedding, w_.shard.first_token, buf_.x);
    // Each rank looked up the tokens of its vocab shard (zeros elsewhere): the sum is every row.
    if (sharded()) be_.all_reduce(buf_.x, T * hp.hidden_size);
    be_.rmsnorm(buf_.x, w_.layers[0].attn_norm, T, hp.rms_norm_eps, buf_.h);
  } else {
    // The stage before left its last block's add undone (buf_.x, buf_.h: its output).
    be_.add_rmsnorm(buf_.x, buf_.h, w_.layers[0].attn_norm, T, hp.rms_norm_eps, buf_.h);
  }
  for (int32_t layer = 0; layer < num_layers; ++layer) {
    attention_block(layer);
    be_.add_rmsnorm(buf_.x, buf_.h, w_.layers[layer].ffn_norm, T, hp.rms_norm_eps, buf_.h);
    feed_forward_block(layer);
    if (layer + 1 < num_layers) {
      be_.add_rmsnorm(buf_.x, buf_.h, w_.layers[layer + 1].attn_norm, T, hp.rms_norm_eps, buf_.h);
    } else if (last_stage()) {
      be_.add(buf_.x, buf_.h, T * hp.hidden_size);
    }
  }
  if (last_stage()) compute_logits();
}

void llama_forward::prepare(const step_batch& batch, const stage_activations* input) {
  fill_step_metadata(batch, step_, w_.hparams.vocab_size, last_stage());
  num_sampled_ = step_.num_sampled();
  // Graphs replay whole-model decode steps only (a stage's input arrives between steps).
  const int32_t rows = whole_model() ? graph_rows_for(batch, be_.graph_sizes()) : 0;
  if (rows > 0) pad_decode_step(step_, rows);
  begin_step();
  if (input != nullptr) {
    be_.upload_buffer(buf_.x, input->residual);
    be_.upload_buffer(buf_.h, input->hidden);
  }
}

void llama_forward::capture_graphs() {
  if (!whole_model()) return;
  const std::vector<int32_t> sizes(be_.graph_sizes().begin(), be_.graph_sizes().end());
  auto pad_only = [this](int32_t rows) {
    fill_step_metadata(step_batch{}, step_);
    pad_decode_step(step_, rows);
    num_sampled_ = 0;
    begin_step();
  };
  // First every size op by op, which grows each buffer and workspace to what the largest needs;
  // then the captures, which allocate nothing, so none of them goes stale by a later one.
  for (const int32_t rows : sizes) {
    pad_only(rows);
    compute();
  }
  for (const int32_t rows : sizes) {
    pad_only(rows);
    be_.run_step([this] { compute(); });
  }
  (void)be_.download(buf_.greedy, 0);  // waits for the device
}

void llama_forward::begin_step() {
  const auto& hp = w_.hparams;
  const auto& sh = w_.shard;
  be_.begin_step(step_);
  const int64_t T = step_.num_tokens(), S = step_.num_sampled();
  be_.reserve(buf_.x, T * hp.hidden_size);
  be_.reserve(buf_.h, T * hp.hidden_size);
  be_.reserve(buf_.q, T * sh.num_heads * hp.head_dim);
  be_.reserve(buf_.attn, T * sh.num_heads * hp.head_dim);
  be_.reserve(buf_.k, T * sh.num_kv_heads * hp.head_dim);
  be_.reserve(buf_.v, T * sh.num_kv_heads * hp.head_dim);
  be_.reserve(buf_.gate, T * sh.intermediate_size);
  be_.reserve(buf_.up, T * sh.intermediate_size);
  be_.reserve(buf_.last, S * hp.hidden_size);
  be_.reserve(buf_.logits, S * hp.vocab_size);
  be_.reserve(buf_.greedy, S);
  be_.reserve(buf_.sampled, sampled_width() * S);
  if (sharded()) be_.reserve(buf_.shard_logits, S * sh.vocab_rows);
}

void llama_forward::attention_block(int32_t layer) {
  const auto& hp = w_.hparams;
  const auto& lw = w_.layers[layer];
  const int64_t T = step_.num_tokens();
  const backend::matmul_target qkv[] = {{lw.wq, buf_.q}, {lw.wk, buf_.k}, {lw.wv, buf_.v}};
  be_.matmuls(buf_.h, T, qkv);
  if (hp.attention_bias) {
    be_.add_bias(buf_.q, lw.bq, T);
    be_.add_bias(buf_.k, lw.bk, T);
    be_.add_bias(buf_.v, lw.bv, T);
  }
  be_.rope(rope_, buf_.q, w_.shard.num_heads);
  be_.rope(rope_, buf_.k, w_.shard.num_kv_heads);
  // All of this step's keys are stored before any query reads: a prompt chunk attends to itself.
  be_.store_kv(cache_, layer, buf_.k, buf_.v);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  be_.paged_attention(cache_, layer, {w_.shard.num_heads, scale, hp.sliding_window}, buf_.q,
                      buf_.attn);
  be_.matmul(buf_.attn, T, lw.wo, buf_.h);
  be_.all_reduce(buf_.h, T * hp.hidden_size);
}

void llama_forward::feed_forward_block(int32_t layer) {
  const auto& hp = w_.hparams;
  const auto& lw = w_.layers[layer];
  const int64_t T = step_.num_tokens();
  const backend::matmul_target gate_up[] = {{lw.w_gate, buf_.gate}, {lw.w_up, buf_.up}};
  be_.matmuls(buf_.h, T, gate_up);
  be_.silu_mul_matmul(buf_.gate, buf_.up, T, w_.shard.intermediate_size, lw.w_down, buf_.h);
  be_.all_reduce(buf_.h, T * hp.hidden_size);
}

void llama_forward::compute_logits() {
  const auto& hp = w_.hparams;
  const int64_t S = step_.num_sampled();
  be_.gather_sampled_rows(buf_.x, hp.hidden_size, buf_.last);
  be_.rmsnorm(buf_.last, w_.output_norm, S, hp.rms_norm_eps, buf_.last);
  if (!sharded()) {
    be_.matmul(buf_.last, S, w_.lm_head, buf_.logits);
  } else {
    // Each rank's logits are those of its vocab rows; every rank gets the whole rows.
    be_.matmul(buf_.last, S, w_.lm_head, buf_.shard_logits);
    be_.all_gather_columns(buf_.shard_logits, S, w_.shard.vocab_rows, hp.vocab_size, buf_.logits);
  }
}

void llama_forward::sample() {
  // After the (possibly replayed) step, so that edits of any number can go with it; computed
  // for every step (a greedy row costs one pass over its logits).
  const int64_t S = step_.num_sampled(), vocab = w_.hparams.vocab_size;
  // Scored rows (prompt logprobs) come last and use no argmax.
  const auto& rows = step_.sampling;
  const int64_t drawn =
      std::find_if(rows.begin(), rows.end(), [](const auto& p) { return p.score_token >= 0; }) -
      rows.begin();
  be_.argmax_rows(buf_.logits, rows.empty() ? S : drawn, vocab, buf_.greedy);
  be_.sample_rows(buf_.logits, S, vocab, buf_.greedy, buf_.sampled);
}

}  // namespace troupe::runtime
