#pragma once
// How many KV blocks an engine gets, from the configuration and the model's shape.
//
//   --num-gpu-blocks-override N   exactly N blocks
//   --kv-cache-memory BYTES       as many blocks as BYTES hold (vLLM's --kv-cache-memory-bytes;
//                                 VLLM_CPU_KVCACHE_SPACE GiB wins over it on the CPU, as in vLLM)
//   neither                       as many as default_cpu_kv_cache_bytes hold
//
// A block's bytes follow the cache dtype (--kv-cache-dtype, auto resolved by the engine builder):
// f32 4 bytes an element, bfloat16 / float16 two, fp8* one, so the same budget holds 2x or 4x
// the f32 blocks (vLLM's fp8 holds 2x its 16-bit auto).
//
// The budget is per rank, as vLLM's per-device memory (and VLLM_CPU_KVCACHE_SPACE, per CPU
// worker): a rank's block holds only its KV heads and its pipeline stage's layers, so the same
// budget holds more blocks at TP=2 or PP=2. Block ids mean the same blocks at every rank, so every
// rank gets the number the rank with the most KV heads and layers affords.
//
// On the CPU backend --gpu-memory-utilization plays no part (there is no device memory to take a
// fraction of); it is validated and reported, never used for sizing.
#include <cstdint>

#include "base/result.hpp"
#include "runtime/backend/backend_types.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

// The KV cache size on CPU when neither --kv-cache-memory nor --num-gpu-blocks-override is given
// (vLLM's CPU backend defaults to 4 GiB; troupe keeps the default model under 1.5 GB).
inline constexpr int64_t default_cpu_kv_cache_bytes = int64_t{512} << 20;

// vLLM's VLLM_CPU_KVCACHE_SPACE (`env`, null when unset): the CPU KV cache in GiB, which vLLM's
// CPU platform writes over --kv-cache-memory-bytes (its legacy switch wins); nullopt when unset
// or empty. Errors: not a whole number of GiB >= 0.
result<std::optional<int64_t>> cpu_kv_cache_space_bytes(const char* env);

struct kv_cache_plan {
  int32_t num_blocks = 0;
  int32_t block_size = 0;
  backend::kv_cache_dtype dtype = backend::kv_cache_dtype::f32;  // --kv-cache-dtype, resolved
  int64_t bytes_per_block = 0;  // at the rank holding the most KV heads and layers, K and V
  int32_t world_size = 1;       // ranks (tensor x pipeline parallel), each holding num_blocks

  int64_t num_bytes() const { return int64_t{num_blocks} * bytes_per_block; }  // per rank
};

// The plan for config.tensor_parallel_size x pipeline_parallel_size ranks of `hparams`, in
// config.kv_cache_dtype with auto meaning `auto_dtype` (device_runners.hpp: auto_kv_cache_dtype);
// `stage_layers`: the most layers a pipeline stage holds (0: every layer, one stage).
// requires: config validated (block_size a power of two, sizes >= 0, a known cache dtype) and
// check_tensor_parallel(hparams, config.tensor_parallel_size) passed.
// Errors: a budget too small for one block.
result<kv_cache_plan> plan_kv_cache(const engine_config& config, const llama_hparams& hparams,
                                    backend::kv_cache_dtype auto_dtype, int32_t stage_layers = 0);

}  // namespace troupe::runtime
