// Each rule is one small function returning its message, so the order of checks is a list and
// every message can be tested on its own.
#include "tools/cli/validate.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/formats/weight_dtype.hpp"

namespace troupe::cli {
namespace {

using runtime::engine_config;

status tensor_parallel(const engine_config& c) {
  if (c.tensor_parallel_size == 1) return ok_status();
  return error{"tensor parallelism is not supported yet: run with --tensor-parallel-size 1 (got " +
               std::to_string(c.tensor_parallel_size) + ")"};
}

status pipeline_parallel(const engine_config& c) {
  if (c.pipeline_parallel_size == 1) return ok_status();
  return error{
      "pipeline parallelism is not supported yet: run with --pipeline-parallel-size 1 (got " +
      std::to_string(c.pipeline_parallel_size) + ")"};
}

// vLLM's *_cbor variants hash a CBOR encoding meant to be reproducible across languages; troupe's
// prefix cache hashes its own encoding, so offering them would promise what it does not do.
status prefix_caching_hash_algo(const engine_config& c) {
  const std::string& algo = c.prefix_caching_hash_algo;
  if (algo == "sha256" || algo == "xxhash") return ok_status();
  return error{"--prefix-caching-hash-algo " + algo +
               " is not supported: troupe supports sha256 (the default) and xxhash"};
}

status kv_cache_dtype(const engine_config& c) {
  if (c.kv_cache_dtype == "auto") return ok_status();
  return error{"--kv-cache-dtype " + c.kv_cache_dtype +
               " is not supported yet: the KV cache uses the model dtype; run with "
               "--kv-cache-dtype auto"};
}

// Every vLLM dtype runs: bfloat16/float16 round the weights at load (runtime/formats/weight_dtype).
status dtype(const engine_config& c) {
  if (auto parsed = runtime::parse_weight_dtype(c.dtype); !parsed) return parsed.err();
  return ok_status();
}

status block_size(const engine_config& c) {
  int32_t b = c.block_size;
  if (b >= 1 && b <= 256 && (b & (b - 1)) == 0) return ok_status();
  return error{"--block-size " + std::to_string(b) +
               " is not supported: use a power of two from 1 to 256 (e.g. 16)"};
}

status batch_limits(const engine_config& c) {
  if (c.max_num_seqs < 1) {
    return error{"--max-num-seqs must be at least 1 (got " + std::to_string(c.max_num_seqs) + ")"};
  }
  if (c.max_num_batched_tokens < 1) {
    return error{"--max-num-batched-tokens must be at least 1 (got " +
                 std::to_string(c.max_num_batched_tokens) + ")"};
  }
  return ok_status();
}

status memory_utilization(const engine_config& c) {
  if (c.gpu_memory_utilization > 0.0 && c.gpu_memory_utilization <= 1.0) return ok_status();
  return error{"--gpu-memory-utilization must be in (0, 1] (got " +
               std::to_string(c.gpu_memory_utilization) + ")"};
}

// vLLM: without chunked prefill a whole prompt must fit one step's token budget.
status unchunked_budget(const engine_config& c) {
  if (c.enable_chunked_prefill || c.max_model_len <= 0) return ok_status();
  if (c.max_num_batched_tokens >= c.max_model_len) return ok_status();
  return error{"--max-num-batched-tokens (" + std::to_string(c.max_num_batched_tokens) +
               ") is smaller than --max-model-len (" + std::to_string(c.max_model_len) +
               "): without chunked prefill this limits prompts to max-num-batched-tokens; "
               "increase --max-num-batched-tokens, decrease --max-model-len, or pass "
               "--enable-chunked-prefill"};
}

}  // namespace

status validate_for_cpu(const engine_config& config) {
  for (auto rule : {tensor_parallel, pipeline_parallel, prefix_caching_hash_algo, kv_cache_dtype,
                    dtype, block_size, batch_limits, memory_utilization, unchunked_budget}) {
    if (status s = rule(config); !s) return s;
  }
  return ok_status();
}

status validate_paths(const command_line& command) {
  const std::string& path = command.serve.chat_template;
  if (path.empty()) return ok_status();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    // As vLLM, a value that is no file but looks like a template is the template text itself.
    if (path.find_first_of("{}\n") != std::string::npos) return ok_status();
    return error{"--chat-template " + path + ": no such file"};
  }
  if (!std::ifstream(path)) return error{"--chat-template " + path + ": cannot be read"};
  return ok_status();
}

}  // namespace troupe::cli
