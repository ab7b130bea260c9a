#include "runtime/serving/kv_cache_sizing.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/model/kv_cache.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"

namespace troupe::runtime {
namespace {

// The KV heads of the rank that holds the most.
int32_t max_rank_kv_heads(const llama_hparams& hparams, int32_t world_size) {
  int32_t heads = 0;
  for (int32_t r = 0; r < world_size; ++r)
    heads = std::max(heads, make_llama_shard(hparams, r, world_size).num_kv_heads);
  return heads;
}

}  // namespace

result<std::optional<int64_t>> cpu_kv_cache_space_bytes(const char* env) {
  if (env == nullptr || *env == '\0') return std::optional<int64_t>();
  const std::string_view text(env);
  int64_t gib = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), gib);
  if (ec != std::errc() || end != text.data() + text.size() || gib < 0 || gib > (INT64_MAX >> 30))
    return error{"VLLM_CPU_KVCACHE_SPACE must be a whole number of GiB, got '" + std::string(text) +
                 "'"};
  return std::optional<int64_t>(gib << 30);
}

result<kv_cache_plan> plan_kv_cache(const engine_config& config, const llama_hparams& hparams,
                                    backend::kv_cache_dtype auto_dtype, int32_t stage_layers) {
  kv_cache_plan plan;
  plan.block_size = config.block_size;
  // Validated: the dtype is one parse_kv_cache_dtype knows.
  plan.dtype = parse_kv_cache_dtype(config.kv_cache_dtype, auto_dtype).value();
  const int32_t tp = std::max(1, config.tensor_parallel_size);
  plan.world_size = tp * std::max(1, config.pipeline_parallel_size);
  llama_hparams rank = hparams;
  rank.num_kv_heads = max_rank_kv_heads(hparams, tp);
  if (stage_layers > 0) rank.num_layers = stage_layers;
  plan.bytes_per_block = kv_bytes_per_block(rank, config.block_size, plan.dtype);
  if (config.num_gpu_blocks_override > 0) {
    plan.num_blocks = config.num_gpu_blocks_override;
    return plan;
  }
  const int64_t budget =
      config.kv_cache_memory > 0 ? config.kv_cache_memory : default_cpu_kv_cache_bytes;
  plan.num_blocks =
      static_cast<int32_t>(std::min<int64_t>(budget / plan.bytes_per_block, INT32_MAX));
  if (plan.num_blocks < 1) {
    return error{
        "the KV cache budget holds no block: raise --kv-cache-memory or set "
        "--num-gpu-blocks-override"};
  }
  return plan;
}

}  // namespace troupe::runtime
