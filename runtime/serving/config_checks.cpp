// Each rule is one small function returning its message, so the order of checks is a list and
// every message can be tested on its own.
#include "runtime/serving/config_checks.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/sched/prefix_router.hpp"

namespace troupe::runtime {
namespace {

std::string str(int64_t v) {
  return std::to_string(v);
}

// Whether the model splits that many ways is checked once it is loaded (check_tensor_parallel).
status tensor_parallel(const engine_config& c) {
  if (c.tensor_parallel_size >= 1) return ok_status();
  return error{"--tensor-parallel-size must be at least 1 (got " + str(c.tensor_parallel_size) +
               ")"};
}

// Whether the model's layers split into that many stages is checked once it is loaded
// (pipeline_layer_ranges). vLLM refuses async scheduling with pipeline parallelism too (the
// stages before the last never see the tokens sampled, which placeholders would need).
status pipeline_parallel(const engine_config& c) {
  if (c.pipeline_parallel_size < 1) {
    return error{"--pipeline-parallel-size must be at least 1 (got " +
                 str(c.pipeline_parallel_size) + ")"};
  }
  if (c.pipeline_parallel_size == 1) return ok_status();
  if (c.async_scheduling) {
    return error{
        "--async-scheduling is not supported with pipeline parallelism "
        "(--pipeline-parallel-size " +
        str(c.pipeline_parallel_size) + "): drop one of them"};
  }
  if (c.device == "cuda") {
    return error{"pipeline parallelism runs on the CPU only for now: --pipeline-parallel-size " +
                 str(c.pipeline_parallel_size) + " needs --device cpu (or auto without a GPU)"};
  }
  return ok_status();
}

// Data parallelism runs N engines (each a batcher, a KV allocator and its TP x PP executors) in
// this process behind one API server, as vLLM's internal load balancing does (on GPUs engine d
// takes GPUs d x TP onwards: make_cuda_runners checks that there are enough).
status data_parallel(const engine_config& c) {
  if (c.data_parallel_size < 1) {
    return error{"--data-parallel-size must be at least 1 (got " + str(c.data_parallel_size) + ")"};
  }
  const auto& node = c.data_parallel_node;
  const std::string one_node =
      ": troupe runs every data-parallel engine in one server (run one troupe server per node or "
      "rank behind a load balancer instead)";
  if (node.size_local != 0 && node.size_local != c.data_parallel_size) {
    return error{"--data-parallel-size-local " + str(node.size_local) +
                 " is not --data-parallel-size " + str(c.data_parallel_size) + one_node};
  }
  if (node.start_rank != 0) {
    return error{"--data-parallel-start-rank " + str(node.start_rank) + " (a secondary node)" +
                 one_node};
  }
  if (node.rank >= 0) {
    return error{"--data-parallel-rank " + str(node.rank) + " (one server per rank)" + one_node};
  }
  if (node.backend != "mp") {
    return error{"--data-parallel-backend " + node.backend +
                 " is not supported: the engines are actors of this process (mp)"};
  }
  for (const auto& [set, flag] :
       {std::pair{node.hybrid_lb, "--data-parallel-hybrid-lb"},
        std::pair{node.external_lb, "--data-parallel-external-lb"},
        std::pair{node.multi_port_external_lb, "--data-parallel-multi-port-external-lb"}}) {
    if (set) return error{std::string(flag) + one_node};
  }
  if (!parse_data_parallel_routing(c.data_parallel_routing)) {
    return error{"--data-parallel-routing must be prefix-aware or least-loaded (got '" +
                 c.data_parallel_routing + "')"};
  }
  return ok_status();
}

// vLLM's *_cbor variants hash a CBOR encoding meant to be reproducible across languages; troupe's
// prefix cache hashes its own encoding, so offering them would promise what it does not do.
status prefix_caching_hash_algo(const engine_config& c) {
  const std::string& algo = c.prefix_caching_hash_algo;
  if (algo == "sha256" || algo == "xxhash") return ok_status();
  return error{"--prefix-caching-hash-algo " + algo +
               " is not supported: troupe supports sha256 (the default) and xxhash"};
}

// vLLM also knows fp8_inc (Intel Gaudi), fp8_ds_mla (DeepSeek's MLA layout) and its int8/nvfp4
// per-head formats. Only the name is checked here: what auto means needs the device and the model
// (the engine builder resolves it).
status kv_cache_dtype(const engine_config& c) {
  if (parse_kv_cache_dtype(c.kv_cache_dtype, backend::kv_cache_dtype::f32)) return ok_status();
  return error{
      "--kv-cache-dtype " + c.kv_cache_dtype +
      " is not supported: troupe supports auto (the model's dtype; on the CPU f32, or bf16 "
      "under --dtype bfloat16), bfloat16, float16, fp8 (= fp8_e4m3), fp8_e4m3 and "
      "fp8_e5m2"};
}

// Every vLLM dtype runs: bfloat16/float16 round the weights at load (runtime/formats/weight_dtype).
status dtype(const engine_config& c) {
  if (auto parsed = parse_weight_dtype(c.dtype); !parsed) return parsed.err();
  return ok_status();
}

// vLLM's --device names more platforms (tpu, xpu, ...); troupe runs on the CPU or CUDA GPUs.
status device(const engine_config& c) {
  if (c.device == "auto" || c.device == "cpu" || c.device == "cuda") return ok_status();
  return error{"--device " + c.device + " is not supported: troupe supports auto, cpu and cuda"};
}

// vLLM's other loaders read what troupe does not (PyTorch .bin, tensorizer, bitsandbytes, Run:ai
// streams, pre-sharded states, ...).
status load_format(const engine_config& c) {
  for (const char* supported : {"auto", "safetensors", "gguf", "dummy"}) {
    if (c.load_format == supported) return ok_status();
  }
  return error{"--load-format " + c.load_format +
               " is not supported: troupe supports auto (the model's own format), safetensors, "
               "gguf and dummy"};
}

status block_size(const engine_config& c) {
  int32_t b = c.block_size;
  if (b >= 1 && b <= 256 && (b & (b - 1)) == 0) return ok_status();
  return error{"--block-size " + str(b) +
               " is not supported: use a power of two from 1 to 256 (e.g. 16)"};
}

status at_least(const char* flag, int64_t value, int64_t min) {
  if (value >= min) return ok_status();
  return error{std::string(flag) + " must be at least " + str(min) + " (got " + str(value) + ")"};
}

status batch_limits(const engine_config& c) {
  if (auto s = at_least("--max-num-seqs", c.max_num_seqs, 1); !s) return s;
  if (c.max_num_batched_tokens) {
    if (auto s = at_least("--max-num-batched-tokens", *c.max_num_batched_tokens, 1); !s) return s;
  }
  if (auto s = at_least("--max-model-len", c.max_model_len, 0); !s) return s;
  return at_least("--max-waiting-requests", c.max_waiting_requests, 1);
}

status kv_cache_size(const engine_config& c) {
  if (auto s = at_least("--kv-cache-memory", c.kv_cache_memory, 0); !s) return s;
  return at_least("--num-gpu-blocks-override", c.num_gpu_blocks_override, 0);
}

status memory_utilization(const engine_config& c) {
  if (c.gpu_memory_utilization > 0.0 && c.gpu_memory_utilization <= 1.0) return ok_status();
  return error{"--gpu-memory-utilization must be in (0, 1] (got " +
               std::to_string(c.gpu_memory_utilization) + ")"};
}

status speculative_decoding(const engine_config& c) {
  const auto& spec = c.speculative;
  if (!spec.enabled()) return ok_status();
  if (spec.prompt_lookup_min < 1 || spec.prompt_lookup_min > spec.prompt_lookup_max)
    return error{"--speculative-config: need 1 <= prompt_lookup_min <= prompt_lookup_max"};
  if (c.async_scheduling) {
    return error{
        "--async-scheduling does not work with --speculative-config's ngram method (nor in "
        "vLLM); drop one of them"};
  }
  return ok_status();
}

// max_model_len from the flag or the model, capped to what the KV cache holds.
result<int32_t> resolve_max_model_len(const engine_config& c, int32_t model_max_len,
                                      kv_cache_capacity kv) {
  int32_t len = c.max_model_len > 0 ? c.max_model_len : model_max_len;
  if (model_max_len > 0 && len > model_max_len) {
    return error{"--max-model-len " + str(len) + " exceeds the model's context length " +
                 str(model_max_len)};
  }
  const int64_t capacity = int64_t{kv.num_blocks} * kv.block_size;
  if (len <= 0 || len > capacity) {
    spdlog::warn("max_model_len {} capped to the KV cache's capacity of {} tokens", len, capacity);
    len = static_cast<int32_t>(std::min<int64_t>(capacity, INT32_MAX));
  }
  return len;
}

// The one budget rule: vLLM's SchedulerConfig default and check.
result<int32_t> resolve_token_budget(const engine_config& c, int32_t max_model_len) {
  if (c.enable_chunked_prefill) {
    return c.max_num_batched_tokens.value_or(default_max_num_batched_tokens);
  }
  if (!c.max_num_batched_tokens) return std::max(max_model_len, default_max_num_batched_tokens);
  if (*c.max_num_batched_tokens >= max_model_len) return *c.max_num_batched_tokens;
  return error{"--max-num-batched-tokens (" + str(*c.max_num_batched_tokens) +
               ") is smaller than max_model_len (" + str(max_model_len) +
               "): without chunked prefill a whole prompt must fit one step; increase "
               "--max-num-batched-tokens, decrease --max-model-len, or pass "
               "--enable-chunked-prefill"};
}

}  // namespace

status validate_engine_config(const engine_config& config) {
  for (auto rule : {tensor_parallel, pipeline_parallel, data_parallel, prefix_caching_hash_algo,
                    kv_cache_dtype, dtype, load_format, device, block_size, batch_limits,
                    kv_cache_size, memory_utilization, speculative_decoding}) {
    if (status s = rule(config); !s) return s;
  }
  return ok_status();
}

result<engine_config> resolve_engine_config(engine_config config, int32_t model_max_len,
                                            kv_cache_capacity kv_cache) {
  if (kv_cache.num_blocks <= 0 || kv_cache.block_size <= 0) {
    return error{
        "the KV cache has no blocks: raise --kv-cache-memory or set "
        "--num-gpu-blocks-override"};
  }
  auto max_model_len = resolve_max_model_len(config, model_max_len, kv_cache);
  if (!max_model_len) return max_model_len.err();
  auto budget = resolve_token_budget(config, *max_model_len);
  if (!budget) return budget.err();
  config.max_model_len = *max_model_len;
  config.max_num_batched_tokens = *budget;
  config.block_size = kv_cache.block_size;
  return config;
}

}  // namespace troupe::runtime
