#pragma once
// The compute-backend seam: the ops one model forward needs, behind one interface, so the forward
// is written once (runtime/model/llama_forward) and runs on whichever device backs it.
//
//   llama_forward (runtime/model)     one forward, ops in order, no kernel includes
//        │ compute_backend
//        ├── cpu_backend  (runtime/backend)   kernels/cpu, a thread_pool; each op runs at once
//        └── cuda_backend (runtime/backend/cuda) kernels/cuda + cuBLAS; each op enqueued on a
//        stream
//
// Memory: the backend owns every byte the forward computes on. Weights are uploaded once
// (upload_weight), the KV cache and RoPE tables are allocated once, activation buffers are
// allocated once and grown per step (reserve). The forward only holds opaque handles.
//
// Order: ops take effect in the order they are called (a CPU backend runs each at once, a GPU one
// enqueues them on one stream). Results reach the host only through download(), which waits for
// every earlier op; host data reaches the backend only through upload_buffer() and begin_step().
//
// A step: begin_step(metadata) uploads the step's token ids, positions, block tables and sampled
// rows once; the ops that work per token (embedding, rope, store_kv, paged_attention,
// gather_sampled_rows, sample_rows) read them from there. Sampling is the backend's
// (sample_rows: logits processors as per-token edits, temperature, top-k, min-p, top-p, seeds,
// the token's logprob and top logprobs); a step downloads only the tokens and logprobs.
//
// Shapes below: T = the step's token rows, S = its sampled rows; "rows" is the caller's count.
// A buffer an op writes must have been reserved for it; unless an op says so, its output does not
// alias an input. Passing a handle from another backend, or sizes the buffers do not hold, is a
// bug (asserted), not an error value.
//
// Thread: one thread at a time (the executor's); handles are only meaningful to their backend.
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/backend/backend_types.hpp"

namespace troupe::backend {

class compute_backend {
 public:
  virtual ~compute_backend() = default;

  virtual std::string_view name() const = 0;

  // -- memory: set up once, before the first step --

  // Copies a weight from the host (a CPU backend adopts the data without copying).
  // requires: data.format == desc.format, data holds a [desc.rows][desc.cols] matrix of it
  // (backend_types.hpp: values for f32, rows of bytes otherwise, scales for w8a8), or
  // data.random set: the backend generates the values (runtime/backend/random_weight.hpp).
  virtual weight_handle upload_weight(const weight_desc& desc, weight_data data) = 0;
  // A zeroed paged KV cache of shape.num_blocks * shape.bytes_per_block() bytes.
  virtual kv_cache_handle allocate_kv_cache(const kv_cache_shape& shape) = 0;
  // Gives `cache` num_blocks blocks of its shape, zeroed; what it held is lost (a GPU engine
  // sizes its cache after a profiling step that ran on a small one). requires: num_blocks >= 0.
  virtual void resize_kv_cache(kv_cache_handle cache, int32_t num_blocks) = 0;
  virtual rope_handle create_rope(const rope_spec& spec) = 0;
  // An empty activation buffer; reserve() sizes it.
  virtual buffer_handle allocate_buffer() = 0;

  // -- memory: any time --

  // Makes `buffer` hold at least num_elements values; what it held is lost when it grows.
  virtual void reserve(buffer_handle buffer, int64_t num_elements) = 0;
  // Host -> backend: reserves and copies `data` to the start of `buffer`.
  virtual void upload_buffer(buffer_handle buffer, std::span<const float> data) = 0;
  // Backend -> host: waits for every earlier op and returns the first n values of `buffer` as
  // f32, valid until the next call on this backend (a CPU backend returns the buffer itself).
  virtual std::span<const float> download(buffer_handle buffer, int64_t n) = 0;

  // -- one step's metadata --

  // Uploads the step's metadata; the per-token ops below read it until the next begin_step.
  // requires: block tables cover [0, position] of every row with block ids inside every KV cache
  // the step's ops use; token ids inside every embedding table it uses (the runner validates).
  virtual void begin_step(const step_metadata& step) = 0;

  // -- captured decode steps (CUDA graphs) --

  // The row counts (ascending) of the decode-only steps this backend replays from a capture;
  // empty when every step runs op by op (the CPU backend, a GPU one under --enforce-eager). A
  // forward pads a decode step of T rows to the smallest size >= T (pad_decode_step) and
  // begins it with graph_rows set.
  virtual std::span<const int32_t> graph_sizes() const { return {}; }
  // Runs `ops`: the step's ops after begin_step, up to (not including) the download of its
  // results. For a step begun with graph_rows > 0 on a backend with graph sizes, the backend
  // may instead replay what the same ops enqueued at an earlier step of that size (it captures
  // them at the first such step, and again once a buffer they name has moved); the results are
  // those of running them. requires: the ops depend on nothing but the step's size and the
  // uploaded metadata (no host data, no download).
  virtual void run_step(const std::function<void()>& ops) { ops(); }

  // -- ops (kernels/cpu/*.hpp define each one's math; the CPU backend is that reference) --

  // out[t] = table[token_ids[t] - first_token], zeros where that is not a row of the table
  // (a vocab-parallel shard holds the rows of tokens [first_token, first_token + rows)).
  //                                              table [rows][dim], out [T][dim]
  virtual void embedding(weight_handle table, int64_t first_token, buffer_handle out) = 0;
  // y = rmsnorm(x) * weight per row                x, y [rows][dim], weight [1][dim]; y may be x
  virtual void rmsnorm(buffer_handle x, weight_handle weight, int64_t rows, float eps,
                       buffer_handle y) = 0;
  // The residual add fused with the next norm: residual += x, then y = rmsnorm(residual) *
  // weight (the same results as add() then rmsnorm()).
  //                                    residual, x, y [rows][dim], weight [1][dim]; y may be x
  virtual void add_rmsnorm(buffer_handle residual, buffer_handle x, weight_handle weight,
                           int64_t rows, float eps, buffer_handle y) = 0;
  // y = x W^T                                      x [rows][in], W [out][in], y [rows][out]
  virtual void matmul(buffer_handle x, int64_t rows, weight_handle w, buffer_handle y) = 0;
  // matmul(x, rows, t.w, t.y) for every target, the same results; a backend may share the work
  // on x among them (the CPU one prepares x once and runs the products as one job). The targets'
  // y are distinct and none is x.
  virtual void matmuls(buffer_handle x, int64_t rows, std::span<const matmul_target> targets) {
    for (const matmul_target& t : targets)
      matmul(x, rows, t.w, t.y);
  }
  // y[r] += bias                                   y [rows][n], bias [1][n]
  virtual void add_bias(buffer_handle y, weight_handle bias, int64_t rows) = 0;
  // Rotates every head of every row by its position, in place.   x [T][num_heads][head_dim]
  virtual void rope(rope_handle rope, buffer_handle x, int32_t num_heads) = 0;
  // Writes every row's key and value heads into its cache slot of `layer` (an fp8 cache stores
  // them quantized with the layer's scales, a bf16/f16 one rounded to nearest even,
  // kernels/cpu/attention.hpp).
  //   k, v [T][num_kv_heads][head_dim]
  virtual void store_kv(kv_cache_handle cache, int32_t layer, buffer_handle k, buffer_handle v) = 0;
  // Causal attention of every row over its own sequence's cached keys of `layer`, in position
  // order (an fp8 or 16-bit cache's keys and values widened to f32 as they are read).
  //   q, out [T][num_heads][head_dim]
  // requires: store_kv of this layer for every row of the step came first (a prompt chunk
  // attends to itself; a later sequence may read what an earlier one stored this step).
  virtual void paged_attention(kv_cache_handle cache, int32_t layer, const attention_params& params,
                               buffer_handle q, buffer_handle out) = 0;
  // out = silu(gate) * up                          [n]; out may be gate or up
  virtual void silu_mul(buffer_handle gate, buffer_handle up, int64_t n, buffer_handle out) = 0;
  // The feed-forward block's down projection of its SiLU: the results of silu_mul(gate, up,
  // rows * in, gate) then matmul(gate, rows, w, y). gate may be overwritten; a backend may
  // compute each row's SiLU as it prepares the product's input (the CPU one does) instead.
  //                                      gate, up [rows][in], W [out][in], y [rows][out]
  virtual void silu_mul_matmul(buffer_handle gate, buffer_handle up, int64_t rows, int64_t in,
                               weight_handle w, buffer_handle y) {
    silu_mul(gate, up, rows * in, gate);
    matmul(gate, rows, w, y);
  }
  // y += x                                         [n] (the residual stream)
  virtual void add(buffer_handle y, buffer_handle x, int64_t n) = 0;
  // out[i] = x[sample_rows[i]]                     x [T][row_size], out [S][row_size]
  virtual void gather_sampled_rows(buffer_handle x, int64_t row_size, buffer_handle out) = 0;
  // Greedy choice per row: out[r] = kernels::cpu::argmax(x[r]) as a float (exact: cols < 2^24).
  //                                              x [rows][cols], out [rows]
  virtual void argmax_rows(buffer_handle x, int64_t rows, int64_t cols, buffer_handle out) = 0;
  // Each sampled row's token by its parameters in the step's metadata (step_metadata::sampling,
  // ::edits): x = the row with its edits applied (kernels::cpu::apply_edit; an allowed-only
  // row is -inf but at its edits' tokens) when it has any, else the row; the token is
  // kernels::cpu::sample_row(x), or the argmax of x (greedy[r] for an unedited row) for a greedy
  // row or a row that draws nothing; out[r] = the token as a float, out[rows + r] = the raw row's
  // log-softmax at it when the row asks for it (else 0). A scored row (sampling_row::score_token >=
  // 0, a prompt logprob) draws nothing: out[r] = the score token's kernels::cpu::logprob_rank in
  // the raw row (a float), out[rows + r] its log-softmax. Then, with top =
  // step_metadata::max_top_logprobs, the raw row's kernels::cpu::top_logprobs: ids (as floats) at
  // out[2 * rows + r * top + j], values at out[2 * rows + (rows + r) * top + j], -1 and 0 past the
  // row's count. Every backend draws the same token from the same logits (the contract of
  // kernels/cpu/sampling.hpp), so tensor-parallel ranks agree. Not part of a replayed step
  // (run_step): called after it.
  //              logits [rows][cols], greedy [rows] (argmax_rows), out [2 * rows * (1 + top)]
  // requires: rows == the step's num_sampled().
  virtual void sample_rows(buffer_handle logits, int64_t rows, int64_t cols, buffer_handle greedy,
                           buffer_handle out) = 0;
  // Sums x[0, n) over the ranks of the backend's tensor-parallel group, in place (the hook for
  // row-parallel projections); nothing at one rank.
  virtual void all_reduce(buffer_handle x, int64_t n) = 0;
  // Joins the ranks' column blocks (vocab-parallel logits) at every rank, dropping the columns
  // past out_cols (the padding of the last shard):
  //   out[i][k * cols + j] = rank k's x[i][j]  for k * cols + j < out_cols
  //                                              x [rows][cols], out [rows][out_cols]
  // requires: out_cols <= world size * cols. At one rank: out = the first out_cols columns of x.
  virtual void all_gather_columns(buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                                  buffer_handle out) = 0;
};

}  // namespace troupe::backend
