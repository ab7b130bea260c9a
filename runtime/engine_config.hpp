#pragma once
// The configuration of a serving engine, built from vLLM-named CLI flags. It is checked and
// resolved in one place, runtime/serving/config_checks.hpp (validate_engine_config before a
// model is loaded, resolve_engine_config once its context length and the KV cache are known);
// runtime::build_engine (runtime/serving/engine_builder.hpp) runs both.
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/sched/speculative.hpp"

namespace troupe::runtime {

struct engine_config {
  // -- model --
  std::string model;      // a .gguf file or Hugging Face directory (empty = the default model)
  std::string tokenizer;  // a tokenizer to use instead of the model's own (empty = none)
  std::string served_model_name;  // name clients use; defaults to the model's
  int32_t max_model_len = 0;      // 0 = the model's context length
  std::string dtype = "auto";
  // vLLM's --load-format: auto (the model's own format), safetensors (a Hugging Face directory),
  // gguf (a .gguf file), or dummy (random weights from a directory's config.json, for benchmarks:
  // runtime/formats/dummy_weights.hpp). vLLM's other loaders are refused by validation.
  std::string load_format = "auto";
  // vLLM's --quantization / -q: the method the checkpoint must be quantized with (its config's
  // quantization_config.quant_method; "gguf" for a .gguf file); empty = whatever it has. troupe
  // quantizes nothing on load, so a method the checkpoint lacks is refused (check_quantization).
  std::string quantization;
  std::string kv_cache_dtype = "auto";

  // -- scheduling --
  int32_t max_num_seqs = 256;
  // One step's token budget. Unset = vLLM's default: 2048, or without chunked prefill
  // max(max_model_len, 2048) (resolve_engine_config, which always sets it).
  std::optional<int32_t> max_num_batched_tokens;
  bool enable_chunked_prefill = true;
  bool enable_prefix_caching = true;                // vLLM V1's default
  std::string prefix_caching_hash_algo = "sha256";  // "sha256" | "xxhash"
  int32_t max_waiting_requests = 1024;  // bounded waiting queue; beyond it requests get 503
  // vLLM's --async-scheduling: step N+1 is scheduled and sent while step N runs
  // (actors/batcher.hpp).
  bool async_scheduling = false;
  // vLLM's --scheduling-policy: "fcfs" (arrival order) or "priority" (requests' `priority`, lower
  // first, then arrival; runtime/sched/scheduler.hpp).
  std::string scheduling_policy = "fcfs";
  // vLLM's --speculative-config (ngram only; runtime/sched/speculative.hpp): off by default.
  speculative_config speculative;

  // -- KV cache --
  int32_t block_size = 16;
  int64_t kv_cache_memory = 0;          // bytes for the KV cache on CPU (0 = automatic)
  int32_t num_gpu_blocks_override = 0;  // exact number of KV blocks (0 = from memory)
  // The GPU memory fraction vLLM sizes its KV cache from. No effect on the CPU backend (the size
  // comes from the two fields above); validated and reported in vllm:cache_config_info.
  double gpu_memory_utilization = 0.9;

  // -- device --
  // Where the model runs: "auto" (the GPU when this build has CUDA and a device is present, else
  // the CPU), "cpu" or "cuda" (vLLM's --device).
  std::string device = "auto";
  // vLLM's --enforce-eager: no CUDA graphs, every step's kernels launched one by one.
  bool enforce_eager = false;

  // -- parallelism / threads --
  int32_t tensor_parallel_size = 1;
  int32_t pipeline_parallel_size = 1;
  // vLLM's --data-parallel-size: that many engines in this process, each with its own batcher,
  // KV allocator, cache and TP x PP ranks, behind one server (actors/engine.hpp).
  int32_t data_parallel_size = 1;
  // How a request picks its engine with data_parallel_size above 1 (runtime/sched/prefix_router):
  // "prefix-aware" (the least loaded, or within one waiting request of it the engine whose cache
  // likely holds the prompt's prefix) or "least-loaded" (vLLM's rule alone).
  std::string data_parallel_routing = "prefix-aware";
  // vLLM's flags for data parallelism across nodes and external load balancers. troupe runs every
  // engine in this process: values that describe one node are accepted, the others refused
  // (config_checks, data_parallel).
  struct data_parallel_node_flags {
    int32_t size_local = 0;      // --data-parallel-size-local: 0 unset, else data_parallel_size
    int32_t start_rank = 0;      // --data-parallel-start-rank: 0 (a secondary node otherwise)
    int32_t rank = -1;           // --data-parallel-rank: -1 unset (one server per rank otherwise)
    std::string address;         // --data-parallel-address: the head node (no effect on one)
    int32_t rpc_port = 0;        // --data-parallel-rpc-port (no effect on one node)
    std::string backend = "mp";  // --data-parallel-backend: "mp" ("ray" refused)
    bool hybrid_lb = false;      // --data-parallel-hybrid-lb: refused
    bool external_lb = false;    // --data-parallel-external-lb: refused
    bool multi_port_external_lb = false;  // --data-parallel-multi-port-external-lb: refused
  } data_parallel_node;
  int32_t num_compute_threads = 0;  // 0 = hardware cores
  int32_t num_actor_threads = 1;    // CAF scheduler workers
  int32_t num_io_threads = 1;       // Beast io_context threads

  // -- server --
  std::string host = "127.0.0.1";
  int32_t port = 8000;
  std::string log_level = "info";
  // One structured line per request lifecycle event (received, queued, scheduled, first token,
  // finished), vLLM's --enable-log-requests; off by default as in vLLM. `disable_log_requests`
  // (vLLM's deprecated flag) wins over it and also silences the HTTP access line.
  bool enable_log_requests = false;
  bool disable_log_requests = false;
  // vLLM's --disable-log-stats: no engine metrics (vllm:*) and no periodic stats line. The actor
  // and step figures (troupe_*) stay.
  bool disable_log_stats = false;
  double log_stats_interval = 10.0;  // seconds between stats lines (vLLM's default; no flag)

  bool log_requests() const { return enable_log_requests && !disable_log_requests; }
};

}  // namespace troupe::runtime
