#pragma once
// Tensor parallelism inside one process: N rank runners over one loaded model, each driven from
// its own thread (an executor actor), joined by a shared-memory communicator.
//
//   make_tensor_parallel_runners(weights, N, threads_per_rank, ...)
//     shared_memory_group ── rank r's communicator ──┐
//     rank r: tensor_parallel_runner ─ llama_runner ─ cpu_backend(threads_per_rank, comm r)
//                                                     holding make_llama_shard(hparams, r, N)
//
// Every step goes to every rank, in the same order. Each rank runs the whole forward on its shard
// (the collectives inside keep the ranks in step), receives the whole logits rows and samples
// them itself: same logits and seeds, so every rank samples the same tokens. Rank 0's are the
// step's.
//
// Batch invariance holds as at one rank: a rank's partial sums are batch invariant, and the
// all-reduce adds the ranks' partials in rank order, so a sequence's logits at N ranks are bitwise
// the same alone or in a busy batch (they differ from one rank's in the last bits: the o and down
// projections sum in a different order).
//
// Failure: a rank whose step throws abandons the step at every rank (communicator::abort) and
// rethrows; the other ranks' execute() throws backend::collective_aborted instead of waiting for
// it (or returns normally if it had already passed its last collective). A step failed at any
// rank is failed: its KV writes are incomplete. The next step runs normally at every rank.
// Shutdown: destroying any rank closes the group, so ranks still stepping fail instead of hang.
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/shared_memory_communicator.hpp"
#include "runtime/model/llama_runner.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::runtime {

class tensor_parallel_runner final : public model_runner {
 public:
  // Rank `rank` of `group` (shared memory on the CPU, NCCL on GPUs), over a runner made by
  // llama_runner::create_shard on a backend whose communicator is group->rank(rank).
  // requires: group, runner != nullptr.
  tensor_parallel_runner(std::shared_ptr<backend::communicator_group> group, int32_t rank,
                         std::unique_ptr<llama_runner> runner);
  ~tensor_parallel_runner() override;  // closes the group

  // One step at this rank (llama_runner::execute): starts the step at the communicator, and
  // abandons it at every rank if it throws. Thread: this rank's own thread, one step at a time.
  std::vector<sampled_token> execute(const step_batch& batch) override;
  // The same for llama_runner::forward_logits (the whole rows at every rank).
  std::vector<float> forward_logits(const step_batch& batch);

  int32_t rank() const { return rank_; }
  int32_t world_size() const { return group_->world_size(); }
  // Any thread: abandons every step from now on at every rank (shutdown).
  void close_group() { group_->close(); }

  int32_t vocab_size() const override { return runner_->vocab_size(); }
  int32_t block_size() const override { return runner_->block_size(); }
  int32_t num_kv_blocks() const override { return runner_->num_kv_blocks(); }
  backend::kv_cache_dtype kv_cache_dtype() const { return runner_->kv_cache_dtype(); }
  const llama_hparams& hparams() const { return runner_->hparams(); }
  // This rank's backend (llama_runner::compute).
  backend::compute_backend& compute() { return runner_->compute(); }
  const llama_runner& runner() const { return *runner_; }

 private:
  template <class Step>
  auto run_step(Step&& step);

  std::shared_ptr<backend::communicator_group> group_;  // outlives runner_'s backend
  int32_t rank_;
  std::unique_ptr<llama_runner> runner_;
};

// The CPUs each rank's threads are pinned to: rank r gets allowed CPUs
// [r * threads_per_rank, (r + 1) * threads_per_rank) of this process's affinity mask. Empty (run
// unpinned) when the mask is unknown or holds fewer than world_size * threads_per_rank CPUs.
std::vector<std::vector<int>> plan_rank_cpus(int32_t world_size, int32_t threads_per_rank);

// N ranks over `weights` (check_tensor_parallel's rules), rank r at index r, each with a CPU
// backend of threads_per_rank compute threads (its executor's thread counts as one) and
// num_kv_blocks blocks of block_size tokens of kv_dtype cache for its KV heads (block ids mean the
// same blocks at every rank). `rank_cpus` (plan_rank_cpus; empty: unpinned) pins rank r's threads
// to rank_cpus[r]. An error value if the weights are bad or do not split N ways. Host memory: each
// rank copies its slices out of `weights`, which is freed on return.
result<std::vector<std::unique_ptr<tensor_parallel_runner>>> make_tensor_parallel_runners(
    llama_weights weights, int32_t world_size, int32_t threads_per_rank, int32_t num_kv_blocks,
    int32_t block_size, const std::vector<std::vector<int>>& rank_cpus = {},
    backend::kv_cache_dtype kv_dtype = backend::kv_cache_dtype::f32,
    backend::cpu_activations activations = backend::cpu_activations::f32);

// A new group of the same ranks over `source`'s weights (another data-parallel engine on this
// machine): rank r's CPU backend of threads_per_rank threads (pinned to rank_cpus[r] when given)
// shares source rank r's weights (backend::cpu_backend::share_weights_of: one copy in memory)
// and has a KV cache of its shape of its own. requires: `source` one whole CPU group, rank r at
// index r. Errors: a rank_cpus list of another shape, or weights that cannot be shared.
result<std::vector<std::unique_ptr<tensor_parallel_runner>>> make_tensor_parallel_runners_sharing(
    const std::vector<const tensor_parallel_runner*>& source, int32_t threads_per_rank,
    const std::vector<std::vector<int>>& rank_cpus = {});

}  // namespace troupe::runtime
