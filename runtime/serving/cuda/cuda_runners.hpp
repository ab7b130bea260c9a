#pragma once
// The GPU side of make_cuda_runners (device_runners.hpp), compiled into the CUDA plugin
// (cuda_plugin.hpp) and into the gpu tests: the runners on GPUs 0 .. DP x TP - 1 (data-parallel
// engine d's rank r on GPU d x TP + r), the profiled step, the KV cache sized by
// --gpu-memory-utilization, the CUDA graphs captured at startup.
#include "base/result.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/serving/device_runners.hpp"

namespace troupe::runtime {

// The largest step the scheduler can send under `c` (resolved), which the KV cache is sized
// after: max_num_batched_tokens tokens, as many sampled rows as sequences fit (one long prompt
// chunk, the other sequences one token each), and with speculative decoding as many more as their
// drafts can add (each sequence up to num_speculative_tokens drafts, a sampled row each, within
// the token budget), on blocks [0, blocks_needed).
step_batch profiling_step(const engine_config& c, int32_t block_size, int32_t vocab_size,
                          int32_t& blocks_needed);

// make_cuda_runners's contract, on this process's CUDA runtime.
result<device_runners> make_runners_on_gpus(llama_weights weights, const engine_config& resolved,
                                            const kv_cache_plan& plan);

// cudaGetDeviceCount (0 on an error).
int cuda_runtime_device_count();

}  // namespace troupe::runtime
