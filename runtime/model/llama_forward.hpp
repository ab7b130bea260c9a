#pragma once
// The Llama decoder forward over one flattened step batch, written once against the backend
// kernels (gemm, rmsnorm, rope, store_kv + paged_attention, silu_mul, embedding, add).
//
//   token_ids [T] -> embedding -> x [T][hidden]
//   per layer:  h = rmsnorm(x) -> q,k,v = h Wq^T, h Wk^T, h Wv^T -> rope(q, k)
//               -> store k,v in the cache -> a = paged_attention(q) -> x += a Wo^T
//               h = rmsnorm(x) -> x += (silu(h Wgate^T) * h Wup^T) Wdown^T
//   rows of the last token of every sampled sequence -> rmsnorm -> logits [S][vocab]
//
// Prompt chunks and decode tokens of many sequences run together: each token carries its own
// position and its sequence's block table. Every kernel is batch invariant, so a sequence's logits
// do not depend on the rest of the batch or on how its prompt was chunked.
#include <cstdint>
#include <vector>

#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::runtime {

// Owns the scratch buffers and rope table of the forward; borrows weights, cache and threads.
// Thread: run() from one thread at a time (the executor's).
class llama_forward {
 public:
  // requires: weights, cache and pool outlive this object; cache built for weights.hparams.
  llama_forward(const llama_weights& weights, kv_cache& cache, kernels::cpu::thread_pool& pool);

  // Runs every token of `batch`, writing their K/V into the cache, and returns the logits of the
  // last token of each sequence with `sample` set, in `seqs` order: [num_sampled][vocab].
  // requires: the batch is valid (cpu_llama_runner::validate); the reference stays valid until
  // the next run().
  const std::vector<float>& run(const step_batch& batch);

 private:
  void prepare(const step_batch& batch);
  void attention_block(int32_t layer);
  void feed_forward_block(int32_t layer);
  void compute_logits(const step_batch& batch);

  const llama_weights& w_;
  kv_cache& cache_;
  kernels::cpu::thread_pool& pool_;
  kernels::cpu::rope_table rope_;
  kernels::cpu::rope_layout rope_layout_;

  int64_t num_tokens_ = 0;
  std::vector<int32_t> positions_;                    // [T]
  std::vector<kernels::cpu::token_location> tokens_;  // [T]
  std::vector<float> x_, h_;                          // [T][hidden]
  std::vector<float> q_, k_, v_, attn_;               // [T][heads * head_dim] (k, v: kv heads)
  std::vector<float> gate_, up_;                      // [T][intermediate]
  std::vector<float> last_hidden_, logits_;           // [S][hidden], [S][vocab]
};

}  // namespace troupe::runtime
