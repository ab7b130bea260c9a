#pragma once
// The engine's metrics, defined in this one place and created once when the engine starts; every
// actor gets the handles it observes, so an observation is an atomic add (no lookup, string or
// allocation per step or token). docs/telemetry.md is the reference.
//
//   vllm_metrics  vLLM's own names, types, label names, HELP texts and buckets (vLLM v1's
//                 PrometheusStatLogger), labels model_name = served name, engine = "0", so
//                 dashboards made for vLLM work unchanged. Not created with --disable-log-stats.
//   step_metrics  troupe's step figures: steps, step time by phase, tokens per step by kind,
//                 batch size. Always on.
//
//   who observes            what
//   engine::submit          request_params_n
//   batcher                 num_requests_running/waiting, num_preemptions, iteration_tokens,
//                           spec_decode_*;
//                           every step_metrics figure
//   kv allocator            kv_cache_usage_perc, prefix_cache_queries/hits
//   request actor           prompt/generation tokens, TTFT, inter-token latency, e2e, the
//                           request intervals, request_success, per-request token histograms
//
// Thread: created on the engine's thread before the actors start; observed from any thread.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/sched/request.hpp"
#include "runtime/telemetry/metrics.hpp"

namespace troupe::actors {

// What the vLLM metrics are labelled with and sized by.
struct vllm_metrics_info {
  std::string model_name;     // the served model name
  int32_t engine_index = 0;   // label engine: the data-parallel engine's index
  int32_t max_model_len = 0;  // the token histograms' 1-2-5 buckets go up to it
  // vllm:cache_config_info's labels (vLLM's CacheConfig fields, as Python prints them)
  int32_t block_size = 16;
  int32_t num_gpu_blocks = 0;  // the KV blocks the engine has (CPU memory here)
  int32_t num_gpu_blocks_override = 0;
  bool enable_prefix_caching = true;
  std::string prefix_caching_hash_algo = "sha256";
  std::string cache_dtype = "auto";
  double gpu_memory_utilization = 0.9;
  // Speculative decoding's draft length; 0 = off (no vllm:spec_decode_* metrics, as in vLLM).
  int32_t num_speculative_tokens = 0;
};

struct vllm_metrics {
  telemetry::gauge* num_requests_running = nullptr;
  telemetry::gauge* num_requests_waiting = nullptr;
  telemetry::gauge* kv_cache_usage_perc = nullptr;  // a fraction, 0..1, as vLLM's
  telemetry::counter* prefix_cache_queries = nullptr;
  telemetry::counter* prefix_cache_hits = nullptr;
  telemetry::counter* num_preemptions = nullptr;
  telemetry::counter* prompt_tokens = nullptr;
  telemetry::counter* generation_tokens = nullptr;
  // By finish reason: stop, length, abort (runtime::finish_reason 1..3).
  std::array<telemetry::counter*, 3> request_success{};
  telemetry::histogram* time_to_first_token = nullptr;
  telemetry::histogram* inter_token_latency = nullptr;
  telemetry::histogram* e2e_request_latency = nullptr;
  telemetry::histogram* request_queue_time = nullptr;
  telemetry::histogram* request_prefill_time = nullptr;
  telemetry::histogram* request_decode_time = nullptr;
  telemetry::histogram* request_inference_time = nullptr;
  telemetry::histogram* iteration_tokens = nullptr;
  telemetry::histogram* request_prompt_tokens = nullptr;
  telemetry::histogram* request_generation_tokens = nullptr;
  telemetry::histogram* request_params_max_tokens = nullptr;
  telemetry::histogram* request_params_n = nullptr;
  // With speculative decoding (runtime::spec_decode_stats): drafts, draft tokens, accepted ones,
  // accepted ones by position in the draft (label position = 0, 1, ...).
  telemetry::counter* spec_decode_num_drafts = nullptr;
  telemetry::counter* spec_decode_num_draft_tokens = nullptr;
  telemetry::counter* spec_decode_num_accepted_tokens = nullptr;
  std::vector<telemetry::counter*> spec_decode_num_accepted_tokens_per_pos;

  // requires: reason is stop, length or abort.
  telemetry::counter& success(runtime::finish_reason reason) const;

  // Registers every metric (and vllm:cache_config_info, set to 1) in `registry`.
  static vllm_metrics create(telemetry::registry& registry, const vllm_metrics_info& info);
};

struct step_metrics {
  telemetry::counter* steps = nullptr;
  // troupe_step_seconds{phase}: schedule = scheduler propose + finalize, allocate = the KV
  // allocator round trip, execute = the executor round trip, postprocess = update + emit.
  telemetry::histogram* schedule_seconds = nullptr;
  telemetry::histogram* allocate_seconds = nullptr;
  telemetry::histogram* execute_seconds = nullptr;
  telemetry::histogram* postprocess_seconds = nullptr;
  // troupe_step_tokens{kind}: tokens computed per step; decode = a sequence's one token after
  // its first output, prefill = every other (prompt chunks, recomputation after preemption).
  telemetry::histogram* prefill_tokens = nullptr;
  telemetry::histogram* decode_tokens = nullptr;
  telemetry::histogram* batch_size = nullptr;  // sequences per step

  // `extra`: labels every series carries (the engine's, with data parallelism).
  static step_metrics create(telemetry::registry& registry, const telemetry::labels& extra = {});
};

// vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to and including max_value.
std::vector<double> buckets_1_2_5(double max_value);

}  // namespace troupe::actors
