#pragma once
// Every rule an engine_config must satisfy, in one place, in two stages (build_engine runs both):
//
//   validate_engine_config   the rules that need no model, checked before one is loaded
//   resolve_engine_config    max_model_len and the token budget, once the model's context
//                            length and the KV cache's capacity are known
//
// Values the flag parser accepts because vLLM does, but troupe cannot honour yet, stop startup
// here with a message naming the flag and what to change; nothing is silently ignored.
#include <cstdint>

#include "base/result.hpp"
#include "runtime/engine_config.hpp"

namespace troupe::runtime {

// vLLM's DEFAULT_MAX_NUM_BATCHED_TOKENS: the token budget when --max-num-batched-tokens is unset.
inline constexpr int32_t default_max_num_batched_tokens = 2048;

// The rules that need no model, checked in this order:
//   tensor_parallel_size >= 1, pipeline_parallel_size >= 1 (above 1: no async scheduling, not
//   --device cuda), data_parallel_size >= 1 on one node (vLLM's multi-node flags at their one-node
//   values) with data_parallel_routing prefix-aware or least-loaded, prefix_caching_hash_algo
//   "sha256" or "xxhash" (prefix caching itself may be on or off), kv_cache_dtype "auto",
//   "bfloat16", "float16", "fp8", "fp8_e4m3" or "fp8_e5m2", dtype one of vLLM's, load_format
//   "auto", "safetensors", "gguf" or "dummy", device "auto", "cpu" or "cuda", block_size a power of
//   two in [1, 256], max_num_seqs >= 1, max_num_batched_tokens >= 1 when set, max_model_len >= 0,
//   kv_cache_memory >= 0, num_gpu_blocks_override >= 0, max_waiting_requests >= 1,
//   gpu_memory_utilization in (0, 1], with speculative decoding 1 <= prompt_lookup_min <=
//   prompt_lookup_max and no async scheduling.
// guarantees: pure; the first violated rule's message, naming the flag and the fix.
status validate_engine_config(const engine_config& config);

// The KV cache an engine runs on, as its runners hold it.
struct kv_cache_capacity {
  int32_t num_blocks = 0;
  int32_t block_size = 0;
};

// `config` (validated) with the limits the engine runs with:
//   max_model_len: config.max_model_len, or the model's context length when 0; more than the
//     model's is an error (as vLLM). A request must fit the KV cache alone, or preemption could
//     never make room for it, so it is then capped to the cache's capacity with a warning (where
//     vLLM refuses to start).
//   max_num_batched_tokens, vLLM's rule (SchedulerConfig), on the max_model_len above:
//     with chunked prefill:    unset -> 2048
//     without chunked prefill: unset -> max(max_model_len, 2048); set below max_model_len -> an
//                              error, since a whole prompt must then fit one step.
//   block_size: the cache's.
// `model_max_len` 0 = unknown (no upper bound but the cache's).
// requires: validate_engine_config(config) passed.
// guarantees: on success max_model_len >= 1 and max_num_batched_tokens is set and >= 1.
result<engine_config> resolve_engine_config(engine_config config, int32_t model_max_len,
                                            kv_cache_capacity kv_cache);

}  // namespace troupe::runtime
