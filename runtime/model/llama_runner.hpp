#pragma once
// runtime::model_runner for Llama-family models over any compute backend: the weights and the
// paged KV cache live on the backend, the forward (llama_forward) enqueues its ops there, and
// sampling runs on the host from the downloaded logits (runtime::sample_token).
//
// Thread: one thread at a time calls execute()/forward_logits() (the executor actor's).
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/compute_backend.hpp"
#include "runtime/model/llama_checks.hpp"
#include "runtime/model/llama_device_weights.hpp"
#include "runtime/model/llama_forward.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::runtime {

class llama_runner : public model_runner {
 public:
  // Checks that the weights are complete and consistent with their hparams, uploads them to
  // `compute` and allocates num_kv_blocks blocks of block_size tokens of kv_dtype cache there
  // (kv_cache_shape_for; an fp8 cache takes the weights' k/v scales). requires: compute !=
  // nullptr.
  static result<std::unique_ptr<llama_runner>> create(
      std::unique_ptr<backend::compute_backend> compute, llama_weights weights,
      int32_t num_kv_blocks, int32_t block_size,
      backend::kv_cache_dtype kv_dtype = backend::kv_cache_dtype::f32);

  // Rank shard.rank of a tensor-parallel group (tensor_parallel_shard.hpp): checks `weights` and
  // the split, uploads that rank's slices of `weights` to `compute` (whose communicator connects
  // it to the other ranks) and allocates num_kv_blocks blocks of cache for its KV heads (and its
  // layers: a pipeline stage holds shard.first_layer to end_layer). Every rank must run every
  // step (tensor_parallel.hpp drives the group). requires: compute != nullptr, shard =
  // make_llama_shard(weights.hparams, shard.rank, shard.world_size) with any non-empty layer
  // range.
  static result<std::unique_ptr<llama_runner>> create_shard(
      std::unique_ptr<backend::compute_backend> compute, const llama_weights& weights,
      const llama_shard& shard, int32_t num_kv_blocks, int32_t block_size,
      backend::kv_cache_dtype kv_dtype = backend::kv_cache_dtype::f32);

  // A runner over `source`'s weights, which `compute` already holds under the same handles (a
  // CPU backend that shares them: backend::cpu_backend::share_weights_of), with a KV cache of
  // source's shape of its own (data-parallel engines on one machine). requires: compute !=
  // nullptr and holds source's weights.
  static std::unique_ptr<llama_runner> create_sharing(
      std::unique_ptr<backend::compute_backend> compute, const llama_runner& source);

  // Runs the step and samples one token per sampling sequence. A batch failing validate() is a
  // bug in the caller: the process aborts with the reason.
  std::vector<sampled_token> execute(const step_batch& batch) override;
  // Pipeline parallelism (pipeline_parallel.hpp), for a runner of a shard of some layers:
  // execute() at the last stage, `input` the stage before's activations for `batch` (nullptr
  // when this runner holds every layer).
  std::vector<sampled_token> execute(const step_batch& batch, const stage_activations* input);
  // A stage before the last: runs its layers over `batch` (writing their K/V) and returns the
  // next stage's input. `input`: the stage before's activations, nullptr at the first stage.
  // Throws std::invalid_argument when `input` does not hold the batch's tokens.
  stage_activations forward_stage(const step_batch& batch, const stage_activations* input);

  // Runs the step (writing K/V like execute()) and returns the logits of the sampled rows,
  // [num sampled seqs][vocab] in `seqs` order. Same contract as execute().
  std::vector<float> forward_logits(const step_batch& batch);

  // Whether `batch` is well formed for this runner (validate_step_batch).
  status validate(const step_batch& batch) const;

  // Gives the KV cache num_blocks blocks; their contents are lost (a GPU engine sizes its cache
  // after profiling a step on a small one, before any request runs). requires: num_blocks >= 1.
  void resize_kv_cache(int32_t num_blocks);
  // Captures the backend's CUDA graphs now, one pad-only decode step per graph size
  // (llama_forward::capture_graphs); every rank of a tensor-parallel group at once.
  void capture_graphs() { forward_.capture_graphs(); }
  // The backend the model runs on.
  backend::compute_backend& compute() { return *compute_; }
  const backend::compute_backend& compute() const { return *compute_; }

  int32_t vocab_size() const override { return weights_.hparams.vocab_size; }
  int32_t block_size() const override { return block_size_; }
  int32_t num_kv_blocks() const override { return num_kv_blocks_; }
  backend::kv_cache_dtype kv_cache_dtype() const { return kv_cache_dtype_; }
  const llama_hparams& hparams() const { return weights_.hparams; }

 protected:
  // The checks create() makes before constructing.
  static status check(const llama_weights& weights, int32_t num_kv_blocks, int32_t block_size);
  // requires: check() passed; cache = kv_cache_shape_for(weights...) with its scales set.
  llama_runner(std::unique_ptr<backend::compute_backend> compute, llama_weights weights,
               const backend::kv_cache_shape& cache);
  // requires: shard_weights = slice_llama_weights(weights, shard) of checked weights, cache
  // = kv_cache_shape_for(hparams, shard, ...) with its scales set.
  llama_runner(std::unique_ptr<backend::compute_backend> compute, llama_weights shard_weights,
               const llama_shard& shard, const backend::kv_cache_shape& cache);
  // A runner over `source`'s weights, which `compute` already holds under the same handles (a
  // CPU backend that shares them: cpu_backend::share_weights_of), with a KV cache of source's
  // shape of its own.
  llama_runner(std::unique_ptr<backend::compute_backend> compute, const llama_runner& source);

 private:
  std::span<const float> run_checked(
      const step_batch& batch, llama_forward::result_kind kind = llama_forward::result_kind::logits,
      const stage_activations* input = nullptr);
  // Aborts on an invalid batch (see execute()); throws on an input of the wrong size.
  void check_step(const step_batch& batch, const stage_activations* input) const;

  std::unique_ptr<backend::compute_backend> compute_;
  llama_device_weights weights_;
  int32_t num_kv_blocks_;
  int32_t block_size_;
  backend::kv_cache_dtype kv_cache_dtype_;
  backend::kv_cache_shape cache_shape_;  // as allocated (resize_kv_cache changes its blocks)
  backend::kv_cache_handle cache_;
  llama_forward forward_;  // borrows the members above: declared after them
};

}  // namespace troupe::runtime
