#pragma once
// Checks after parsing: values the parser accepts (because vLLM does) but troupe cannot honour
// yet stop startup with a message saying what to change, never silently ignored.
#include "runtime/engine_config.hpp"
#include "runtime/result.hpp"
#include "tools/cli/flags.hpp"

namespace troupe::cli {

// The engine settings a CPU engine can run with, checked in this order:
//   tensor_parallel_size == 1, pipeline_parallel_size == 1, prefix_caching_hash_algo "sha256" or
//   "xxhash" (prefix caching itself may be on or off), kv_cache_dtype "auto", dtype one of vLLM's,
//   block_size a power of two in [1, 256], max_num_seqs >= 1, max_num_batched_tokens >= 1,
//   gpu_memory_utilization in (0, 1], and without chunked prefill
//   max_num_batched_tokens >= max_model_len (as vLLM).
// requires: for the last rule to bite, max_model_len resolved from the model (0 = unknown is
//   skipped), so call this again once the model is loaded.
// guarantees: pure; the first violated rule's message, naming the flag and the fix.
status validate_for_cpu(const runtime::engine_config& config);

// Settings that name files: --chat-template must be a readable regular file, or (as vLLM takes
// it) the template text itself, recognised by containing '{', '}' or a newline.
// guarantees: reads the file system only (stat/open), changes nothing.
status validate_paths(const command_line& command);

}  // namespace troupe::cli
