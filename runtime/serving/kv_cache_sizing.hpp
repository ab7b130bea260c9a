#pragma once
// How many KV blocks an engine gets, from the configuration and the model's shape.
//
//   --num-gpu-blocks-override N   exactly N blocks
//   --kv-cache-memory BYTES       as many blocks as BYTES hold
//   neither                       as many as default_cpu_kv_cache_bytes hold
//
// On the CPU backend --gpu-memory-utilization plays no part (there is no device memory to take a
// fraction of); it is validated and reported, never used for sizing.
#include <cstdint>

#include "runtime/engine_config.hpp"
#include "runtime/model_config.hpp"
#include "runtime/result.hpp"

namespace troupe::runtime {

// The KV cache size on CPU when neither --kv-cache-memory nor --num-gpu-blocks-override is given
// (vLLM's CPU backend defaults to 4 GiB; troupe keeps the default model under 1.5 GB).
inline constexpr int64_t default_cpu_kv_cache_bytes = int64_t{512} << 20;

struct kv_cache_plan {
  int32_t num_blocks = 0;
  int32_t block_size = 0;
  int64_t bytes_per_block = 0;  // all layers, keys and values

  int64_t num_bytes() const { return int64_t{num_blocks} * bytes_per_block; }
};

// The plan for one runner holding every KV head of `hparams` (one tensor-parallel rank holds its
// share of the heads; the per-rank plan comes with the sharded runners).
// requires: config validated (block_size a power of two, sizes >= 0).
// Errors: a budget too small for one block.
result<kv_cache_plan> plan_kv_cache(const engine_config& config, const llama_hparams& hparams);

}  // namespace troupe::runtime
