#include "actors/engine_metrics.hpp"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace troupe::actors {
namespace {

using telemetry::labels;
using telemetry::registry;

// vLLM's bucket boundaries (vllm/v1/metrics/loggers.py).
const std::vector<double> ttft_buckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                          20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
const std::vector<double> itl_buckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> request_latency_buckets = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const std::vector<double> iteration_token_buckets = {1,   8,    16,   32,   64,   128,  256,
                                                     512, 1024, 2048, 4096, 8192, 16384};
const std::vector<double> n_buckets = {1, 2, 5, 10, 20};

// troupe's step figures: 10 us to 60 s; 0 to 16384 tokens; 1 to 1024 sequences.
const std::vector<double> step_seconds_buckets = {1e-5,   2.5e-5, 5e-5, 1e-4,  2.5e-4, 5e-4, 1e-3,
                                                  2.5e-3, 5e-3,   0.01, 0.025, 0.05,   0.1,  0.25,
                                                  0.5,    1.0,    2.5,  5.0,   10.0,   30.0, 60.0};
const std::vector<double> step_token_buckets = {0,   1,   2,   4,    8,    16,   32,   64,
                                                128, 256, 512, 1024, 2048, 4096, 8192, 16384};
const std::vector<double> batch_size_buckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

// Python's str() of the CacheConfig values vLLM writes as labels.
std::string python_bool(bool b) {
  return b ? "True" : "False";
}
std::string python_float(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v == std::floor(v) ? "%.1f" : "%.15g", v);
  return buf;
}
std::string python_optional_int(int32_t v) {
  return v > 0 ? std::to_string(v) : "None";
}

void add_cache_config_info(registry& r, const vllm_metrics_info& info) {
  // An info metric as vLLM emulates it: a gauge set to 1 whose labels are the config.
  labels l = {{"block_size", std::to_string(info.block_size)},
              {"cache_dtype", info.cache_dtype},
              {"enable_prefix_caching", python_bool(info.enable_prefix_caching)},
              {"gpu_memory_utilization", python_float(info.gpu_memory_utilization)},
              {"num_gpu_blocks", std::to_string(info.num_gpu_blocks)},
              {"num_gpu_blocks_override", python_optional_int(info.num_gpu_blocks_override)},
              {"prefix_caching_hash_algo", info.prefix_caching_hash_algo},
              {"engine", std::to_string(info.engine_index)}};
  r.add_gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", std::move(l))
      .set(1);
}

}  // namespace

std::vector<double> buckets_1_2_5(double max_value) {
  std::vector<double> buckets;
  for (double scale = 1;; scale *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * scale > max_value) return buckets;
      buckets.push_back(m * scale);
    }
  }
}

telemetry::counter& vllm_metrics::success(runtime::finish_reason reason) const {
  const auto i = static_cast<size_t>(reason);
  assert(i >= 1 && i <= request_success.size() && "a finished request has a reason");
  return *request_success[i - 1];
}

vllm_metrics vllm_metrics::create(registry& r, const vllm_metrics_info& info) {
  const labels l = {{"model_name", info.model_name}, {"engine", std::to_string(info.engine_index)}};
  const auto tokens = buckets_1_2_5(info.max_model_len);
  vllm_metrics m;
  m.num_requests_running = &r.add_gauge("vllm:num_requests_running",
                                        "Number of requests in model execution batches.", l);
  m.num_requests_waiting =
      &r.add_gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", l);
  m.kv_cache_usage_perc =
      &r.add_gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", l);
  m.prefix_cache_queries =
      &r.add_counter("vllm:prefix_cache_queries_total",
                     "Prefix cache queries, in terms of number of queried tokens.", l);
  m.prefix_cache_hits = &r.add_counter(
      "vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", l);
  m.num_preemptions = &r.add_counter("vllm:num_preemptions_total",
                                     "Cumulative number of preemption from the engine.", l);
  m.prompt_tokens =
      &r.add_counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", l);
  m.generation_tokens =
      &r.add_counter("vllm:generation_tokens_total", "Number of generation tokens processed.", l);
  const runtime::finish_reason reasons[] = {
      runtime::finish_reason::stop, runtime::finish_reason::length, runtime::finish_reason::abort};
  for (size_t i = 0; i < 3; ++i) {
    labels with_reason = l;
    with_reason.emplace_back("finished_reason", std::string{runtime::to_string(reasons[i])});
    m.request_success[i] =
        &r.add_counter("vllm:request_success_total", "Count of successfully processed requests.",
                       std::move(with_reason));
  }
  m.request_prompt_tokens = &r.add_histogram("vllm:request_prompt_tokens",
                                             "Number of prefill tokens processed.", l, tokens);
  m.request_generation_tokens = &r.add_histogram(
      "vllm:request_generation_tokens", "Number of generation tokens processed.", l, tokens);
  m.iteration_tokens = &r.add_histogram("vllm:iteration_tokens_total",
                                        "Histogram of number of tokens per engine_step.", l,
                                        iteration_token_buckets);
  m.request_params_n = &r.add_histogram("vllm:request_params_n",
                                        "Histogram of the n request parameter.", l, n_buckets);
  m.request_params_max_tokens =
      &r.add_histogram("vllm:request_params_max_tokens",
                       "Histogram of the max_tokens request parameter.", l, tokens);
  m.time_to_first_token =
      &r.add_histogram("vllm:time_to_first_token_seconds",
                       "Histogram of time to first token in seconds.", l, ttft_buckets);
  m.inter_token_latency =
      &r.add_histogram("vllm:inter_token_latency_seconds",
                       "Histogram of inter-token latency in seconds.", l, itl_buckets);
  m.e2e_request_latency =
      &r.add_histogram("vllm:e2e_request_latency_seconds",
                       "Histogram of e2e request latency in seconds.", l, request_latency_buckets);
  m.request_queue_time = &r.add_histogram("vllm:request_queue_time_seconds",
                                          "Histogram of time spent in WAITING phase for request.",
                                          l, request_latency_buckets);
  m.request_inference_time = &r.add_histogram(
      "vllm:request_inference_time_seconds",
      "Histogram of time spent in RUNNING phase for request.", l, request_latency_buckets);
  m.request_prefill_time = &r.add_histogram("vllm:request_prefill_time_seconds",
                                            "Histogram of time spent in PREFILL phase for request.",
                                            l, request_latency_buckets);
  m.request_decode_time = &r.add_histogram("vllm:request_decode_time_seconds",
                                           "Histogram of time spent in DECODE phase for request.",
                                           l, request_latency_buckets);
  if (info.num_speculative_tokens > 0) {
    m.spec_decode_num_drafts =
        &r.add_counter("vllm:spec_decode_num_drafts_total", "Number of spec decoding drafts.", l);
    m.spec_decode_num_draft_tokens =
        &r.add_counter("vllm:spec_decode_num_draft_tokens_total", "Number of draft tokens.", l);
    m.spec_decode_num_accepted_tokens = &r.add_counter("vllm:spec_decode_num_accepted_tokens_total",
                                                       "Number of accepted tokens.", l);
    for (int32_t pos = 0; pos < info.num_speculative_tokens; ++pos) {
      labels with_pos = l;
      with_pos.emplace_back("position", std::to_string(pos));
      m.spec_decode_num_accepted_tokens_per_pos.push_back(
          &r.add_counter("vllm:spec_decode_num_accepted_tokens_per_pos_total",
                         "Accepted tokens per draft position.", std::move(with_pos)));
    }
  }
  add_cache_config_info(r, info);
  return m;
}

step_metrics step_metrics::create(registry& r, const labels& extra) {
  auto with = [&](labels l) {
    l.insert(l.end(), extra.begin(), extra.end());
    return l;
  };
  step_metrics m;
  m.steps = &r.add_counter("troupe_steps_total", "Model steps executed by the batcher.", extra);
  const char* help = "Time of one phase of a step (schedule, allocate, execute, postprocess).";
  auto phase = [&](const char* name) {
    return &r.add_histogram("troupe_step_seconds", help, with({{"phase", name}}),
                            step_seconds_buckets);
  };
  m.schedule_seconds = phase("schedule");
  m.allocate_seconds = phase("allocate");
  m.execute_seconds = phase("execute");
  m.postprocess_seconds = phase("postprocess");
  const char* tokens_help = "Tokens computed in one step, by kind (prefill or decode).";
  m.prefill_tokens = &r.add_histogram("troupe_step_tokens", tokens_help,
                                      with({{"kind", "prefill"}}), step_token_buckets);
  m.decode_tokens = &r.add_histogram("troupe_step_tokens", tokens_help, with({{"kind", "decode"}}),
                                     step_token_buckets);
  m.batch_size = &r.add_histogram("troupe_step_batch_size", "Sequences in one step.", extra,
                                  batch_size_buckets);
  return m;
}

}  // namespace troupe::actors
