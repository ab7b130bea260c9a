#pragma once
// The CPU implementation of runtime::model_runner for Llama-family models: f32 weights, a paged
// f32 KV cache and a pool of compute threads, all owned here.
//
// Thread: one thread at a time calls execute()/forward_logits() (the executor actor's).
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/model/llama_forward.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/result.hpp"

namespace troupe::runtime {

class cpu_llama_runner : public model_runner {
 public:
  // Checks that the weights are complete and consistent with their hparams, and allocates
  // num_kv_blocks * kv_bytes_per_block(hparams, block_size) bytes of cache.
  // num_threads <= 0 means kernels::cpu::default_num_compute_threads().
  static result<std::unique_ptr<cpu_llama_runner>> create(llama_weights weights,
                                                          int32_t num_kv_blocks, int32_t block_size,
                                                          int32_t num_threads = 0);

  // Runs the step and samples one token per sampling sequence. A batch failing validate() is a
  // bug in the caller: the process aborts with the reason.
  std::vector<sampled_token> execute(const step_batch& batch) override;

  // Runs the step (writing K/V like execute()) and returns the logits of the sampled rows,
  // [num sampled seqs][vocab] in `seqs` order. Same contract as execute().
  std::vector<float> forward_logits(const step_batch& batch);

  // Whether `batch` is well formed for this runner: token counts add up, every sequence has
  // num_tokens >= 1 and start_pos >= 0, block tables cover [0, start_pos + num_tokens) with
  // block ids in [0, num_kv_blocks), no sequence is longer than the whole cache, token ids are in
  // [0, vocab).
  status validate(const step_batch& batch) const;

  int32_t vocab_size() const override { return weights_.hparams.vocab_size; }
  int32_t block_size() const override { return cache_.block_size(); }
  int32_t num_kv_blocks() const override { return cache_.num_blocks(); }
  const llama_hparams& hparams() const { return weights_.hparams; }
  int32_t num_threads() const { return pool_.num_threads(); }

 private:
  cpu_llama_runner(llama_weights weights, int32_t num_kv_blocks, int32_t block_size,
                   int32_t num_threads);
  const std::vector<float>& run_checked(const step_batch& batch);

  llama_weights weights_;
  kv_cache cache_;
  kernels::cpu::thread_pool pool_;
  llama_forward forward_;  // borrows the three members above: declared after them
};

// The weight-shape check create() runs, exposed for loaders and tests.
status check_llama_weights(const llama_weights& weights);

}  // namespace troupe::runtime
