#pragma once
// The Llama decoder forward over one flattened step batch, written once against the compute
// backend (runtime/backend/compute_backend.hpp): it never touches a kernel or a tensor's memory,
// only enqueues ops on handles, so every backend runs this same code.
//
//   token_ids [T] -> embedding (-> all_reduce over vocab shards) -> x [T][hidden]
//   per layer:  h = rmsnorm(x) -> q,k,v = h Wq^T, h Wk^T, h Wv^T (+ bias) -> rope(q, k)
//               -> store k,v in the cache -> a = paged_attention(q) -> x += all_reduce(a Wo^T)
//               h = rmsnorm(x) -> x += all_reduce((silu(h Wgate^T) * h Wup^T) Wdown^T)
//   rows of the last token of every sampled sequence -> rmsnorm -> logits [S][vocab]
//   (a rank of a tensor-parallel group: logits of its vocab rows -> all_gather_columns)
//   -> argmax_rows, sample_rows (each row's token by its sampling parameters) -> host: the
//   tokens, and the logits when the host samples some rows (logits processors, top logprobs)
//
// A decode-only step on a backend with CUDA graphs (compute_backend::graph_sizes) is padded to a
// graph size and its ops run through compute_backend::run_step, which may replay them.
// Prompt chunks and decode tokens of many sequences run together: each token carries its own
// position and its sequence's block table (uploaded once per step). Every op is batch invariant,
// so a sequence's logits do not depend on the rest of the batch or on how its prompt was chunked.
// Tensor parallelism (tensor_parallel_shard.hpp): a rank runs this same forward on its shard of the
// weights (its q/KV heads, MLP columns and vocab rows); the all_reduce after the row-parallel
// projections (o, down) and after the vocab-parallel embedding sums the ranks' partial results,
// and all_gather_columns joins their logits. At one rank none of these collectives is called.
#include <climits>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/backend/compute_backend.hpp"
#include "runtime/model/llama_device_weights.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::runtime {

// What a pipeline stage hands the next one: the residual stream before its last block's add and
// that block's output, [num_tokens][hidden] each, f32.
struct stage_activations {
  std::vector<float> residual;
  std::vector<float> hidden;
};

// Owns the activation buffers and the RoPE table (on the backend) and the host staging of a
// step's metadata; borrows the backend, the weights and the KV cache.
// Thread: run() from one thread at a time (the executor's).
class llama_forward {
 public:
  // requires: backend and weights outlive this object; weights uploaded to `backend`; `cache`
  // allocated there with kv_cache_shape_for(weights.hparams, weights.shard, ...).
  llama_forward(backend::compute_backend& backend, const llama_device_weights& weights,
                backend::kv_cache_handle cache);

  // What run() brings back to the host: the sampled rows' logits, or only their tokens.
  enum class result_kind { logits, tokens };

  // Runs every token of `batch`, writing their K/V into the cache, and returns, on the host, for
  // the last token of each sequence with `sample` set, in `seqs` order: its logits
  // ([num_sampled][vocab], before any logits processor), or the backend's sample_rows result
  // (compute_backend::sample_rows) for rows = the view's size / sampled_width() >= num_sampled
  // rows (a padded step's pad rows follow the batch's): token i (as a float) at i, its logprob at
  // rows + i, then the top logprobs (max_top_logprobs() a row); 8 bytes a row without top
  // logprobs instead of the vocabulary's. requires: the batch is valid (validate_step_batch);
  // the view stays valid until the next call on the backend. `input`: a pipeline stage after
  // the first, the stage before's activations for this batch (else nullptr); the last stage.
  std::span<const float> run(const step_batch& batch, result_kind kind = result_kind::logits,
                             const stage_activations* input = nullptr);
  // A pipeline stage before the last: runs its layers over `batch` (writing their K/V) and
  // returns what the next stage starts from. `input` as for run(); nothing is sampled.
  stage_activations run_stage(const step_batch& batch, const stage_activations* input);

  // The last step's top logprobs a row in run()'s tokens, and the floats a row there.
  int32_t max_top_logprobs() const { return step_.max_top_logprobs; }
  int64_t sampled_width() const { return 2 * (1 + int64_t{step_.max_top_logprobs}); }

  // Runs (and so captures, compute_backend::run_step) a decode step of every graph size of the
  // backend, all of its rows pad rows (no sequence's cache is touched), so that serving replays
  // from its first step. Nothing when the backend has no graph sizes, or for a pipeline stage.
  void capture_graphs();

 private:
  // Fills and uploads the step's metadata (padded when the backend replays steps of its size),
  // sizes the buffers and uploads a stage's input.
  void prepare(const step_batch& batch, const stage_activations* input);
  // Uploads step_ (begin_step) and sizes the buffers for it.
  void begin_step();
  // The step's ops, from the embedding to the logits in buf_.logits (compute_backend::run_step).
  void compute();
  void attention_block(int32_t layer);
  void feed_forward_block(int32_t layer);
  void compute_logits();
  // argmax_rows and sample_rows of the step's logits (not part of a replayed step).
  void sample();
  bool sharded() const { return w_.shard.world_size > 1; }
  bool last_stage() const { return w_.shard.last_stage(w_.hparams); }
  bool whole_model() const { return w_.shard.first_stage() && last_stage(); }

  backend::compute_backend& be_;
  const llama_device_weights& w_;
  backend::kv_cache_handle cache_;
  backend::rope_handle rope_;
  backend::step_metadata step_;  // host staging, reused every step
  int64_t num_sampled_ = 0;      // the batch's sampled rows (a padded step has more)

  struct buffers {
    backend::buffer_handle x, h;           // [T][hidden]
    backend::buffer_handle q, k, v, attn;  // [T][heads * head_dim] (the shard's; k, v: kv heads)
    backend::buffer_handle gate, up;       // [T][intermediate] (the shard's columns)
    backend::buffer_handle last, logits;   // [S][hidden], [S][vocab]
    backend::buffer_handle greedy;         // [S]: argmax of each logits row
    backend::buffer_handle sampled;        // [S * sampled_width()]: sample_rows' result
    backend::buffer_handle shard_logits;   // [S][vocab rows] (sharded only)
  };
  buffers buf_;
};

// Fills `out` with the metadata of `batch` (compute_backend's step_metadata), reusing its storage:
// a sampled sequence's sampling row is sampling_row_for its params, with its logits processors
// as edits (append_logit_edits: tokens at or past vocab_size dropped). Without `sampled_rows` (a
// pipeline stage before the last) no row is sampled or scored.
void fill_step_metadata(const step_batch& batch, backend::step_metadata& out,
                        int32_t vocab_size = INT32_MAX, bool sampled_rows = true);

// The graph size a step of `batch` is padded to: the smallest of `sizes` (ascending,
// compute_backend::graph_sizes) holding its rows when every sequence decodes one sampled token,
// else 0 (the step runs op by op).
int32_t graph_rows_for(const step_batch& batch, std::span<const int32_t> sizes);

// Pads a decode-only step's metadata to `rows` rows and sets graph_rows (step_metadata): pad row
// r is its own sequence r, token 0 at position 0, sampled, with an empty block table.
// requires: step filled by fill_step_metadata from a decode-only batch of at most `rows` rows.
void pad_decode_step(backend::step_metadata& step, int32_t rows);

}  // namespace troupe::runtime
