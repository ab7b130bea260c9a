#pragma once
// Pipeline parallelism inside one process (vLLM's --pipeline-parallel-size): the decoder layers
// split into P consecutive stages, each stage a tensor-parallel group of T ranks, every rank an
// executor's runner on its own thread. Rank (stage s, tensor rank t) is global rank s * T + t
// (vLLM's layout), holds the layers of its stage (make_llama_shard + the stage's layer range)
// and a KV cache for them only, and passes its activations to rank (s + 1, t) through a
// stage_link:
//
//   step N ─▶ every rank (the same step_delta, in the same order)
//   stage 0: embedding, layers [0, a)  ──link──▶  stage 1: layers [a, b)  ──link──▶  ...
//   last stage: layers [.., L), final norm, LM head, sampling: its rank 0's tokens are the step's
//
// A stage hands on the residual stream and its last block's output (stage_activations); the next
// makes the add-and-norm that would have joined the two layers, so P stages sample the bits one
// runner samples (tested). The stages' ranks before the last return no tokens.
//
// Order and failure: each link carries exactly one item per step, in step order: the stage's
// activations, or "abandoned" when the step failed at the sending rank or before it. A rank whose
// step fails (its forward throws, or its input was abandoned) abandons the step downstream and in
// its tensor-parallel group, then rethrows, so every later rank fails the step too instead of
// waiting. Every rank applies every delta, so a delta that one stage refuses, every stage refuses;
// should a rank alone refuse one, its executor skips the step here (skip_step: the input taken
// off, the step abandoned downstream), so no later stage waits for it. A stage reads its input
// first, so several steps may be in flight: stage 0 runs step N + 1 while stage 1 runs step N.
// Shutdown: destroying any rank closes its links and its group, so ranks waiting on it fail.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/communicator.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/model/llama_runner.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::runtime {

// The layer ranges [first, end) of num_stages stages, vLLM's partition (get_pp_indices): an even
// split, the remainder one layer each to the stages before the last, from the last but one back.
// `partition` (vLLM's VLLM_PP_LAYER_PARTITION, e.g. "10,12,10"): the stages' layer counts, which
// must number num_stages, be positive and add up to num_layers. An error when a stage would hold
// no layer.
result<std::vector<std::pair<int32_t, int32_t>>> pipeline_layer_ranges(
    int32_t num_layers, int32_t num_stages, std::string_view partition = {});

// One direction between two ranks of consecutive stages: the sender's activations of each step,
// in step order. Thread: one sender thread, one receiver thread.
class stage_link {
 public:
  // Queues this step's activations.
  void send(stage_activations activations);
  // Queues "this step failed upstream".
  void abandon();
  // The next step's activations, waiting for them. Throws backend::collective_aborted when the
  // step was abandoned upstream or the link is closed.
  stage_activations receive();
  // Any thread: fails every receive from now on (shutdown).
  void close();

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::optional<stage_activations>> queue_;  // nullopt: abandoned
  bool closed_ = false;
};

class pipeline_stage_runner final : public model_runner {
 public:
  // Stage `stage` of `num_stages`, tensor rank `tp_rank` of `tp_group` (nullptr at one rank a
  // stage), over a runner made by llama_runner::create_shard for the stage's layers; `upstream`
  // (null at the first stage) and `downstream` (null at the last) its links.
  // requires: runner != nullptr; the links are there exactly where the stage has neighbours.
  pipeline_stage_runner(int32_t stage, int32_t num_stages,
                        std::shared_ptr<backend::communicator_group> tp_group, int32_t tp_rank,
                        std::shared_ptr<stage_link> upstream,
                        std::shared_ptr<stage_link> downstream,
                        std::unique_ptr<llama_runner> runner);
  ~pipeline_stage_runner() override;  // closes its links and its group

  // One step at this rank: receives the stage's input, runs its layers and passes them on (no
  // tokens), or at the last stage samples (llama_runner::execute). Abandons the step downstream
  // and in its group if anything throws, and rethrows.
  // Thread: this rank's own thread, one step at a time.
  std::vector<sampled_token> execute(const step_batch& batch) override;
  // A step this rank's executor refused: takes its input off the link (whatever it holds) and
  // abandons the step downstream, so later stages fail it instead of waiting.
  void skip_step() override;
  double input_wait_seconds() const override { return input_wait_seconds_; }

  int32_t stage() const { return stage_; }
  int32_t num_stages() const { return num_stages_; }
  int32_t vocab_size() const override { return runner_->vocab_size(); }
  int32_t block_size() const override { return runner_->block_size(); }
  int32_t num_kv_blocks() const override { return runner_->num_kv_blocks(); }
  // This rank's backend (llama_runner::compute).
  backend::compute_backend& compute() { return runner_->compute(); }

 private:
  std::vector<sampled_token> run(const step_batch& batch);

  int32_t stage_, num_stages_;
  std::shared_ptr<backend::communicator_group> tp_group_;  // outlives runner_'s backend
  int32_t tp_rank_;
  std::shared_ptr<stage_link> upstream_, downstream_;
  std::unique_ptr<llama_runner> runner_;
  double input_wait_seconds_ = 0.0;
};

struct pipeline_layout {
  int32_t num_stages = 1;            // P
  int32_t tensor_parallel_size = 1;  // T, the ranks of a stage
  int32_t threads_per_rank = 1;      // compute threads (the executor's thread counts as one)
  std::string_view partition;        // as for pipeline_layer_ranges
};

// P * T ranks over `weights` (global rank s * T + t at index s * T + t), each with a CPU backend
// of threads_per_rank compute threads, pinned to rank_cpus[rank] when given (plan_rank_cpus), and
// num_kv_blocks blocks of block_size tokens of kv_dtype cache for its KV heads of its stage's
// layers (block ids mean the same blocks at every rank). An error value if the weights are bad or
// do not split. Host memory: each rank copies its part of `weights`, which is freed on return.
result<std::vector<std::unique_ptr<pipeline_stage_runner>>> make_pipeline_runners(
    llama_weights weights, const pipeline_layout& layout, int32_t num_kv_blocks, int32_t block_size,
    const std::vector<std::vector<int>>& rank_cpus = {},
    backend::kv_cache_dtype kv_dtype = backend::kv_cache_dtype::f32,
    backend::cpu_activations activations = backend::cpu_activations::f32);

}  // namespace troupe::runtime
