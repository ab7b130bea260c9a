#include "actors/engine_core.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/batcher.hpp"
#include "actors/executor.hpp"
#include "actors/kv_allocator_actor.hpp"
#include "actors/stats_logger.hpp"

namespace troupe::actors {
namespace {

vllm_metrics_info metrics_info(const runtime::built_engine& built, int32_t index) {
  const runtime::engine_config& config = built.config;
  vllm_metrics_info info;
  info.model_name = config.served_model_name;
  info.engine_index = index;
  info.max_model_len = config.max_model_len;
  info.block_size = built.kv_cache.block_size;
  info.num_gpu_blocks = built.kv_cache.num_blocks;
  info.num_gpu_blocks_override = config.num_gpu_blocks_override;
  info.enable_prefix_caching = config.enable_prefix_caching;
  info.prefix_caching_hash_algo = runtime::to_string(built.hash_algo);
  info.cache_dtype = config.kv_cache_dtype;
  info.gpu_memory_utilization = config.gpu_memory_utilization;
  info.num_speculative_tokens = config.speculative.num_speculative_tokens;
  return info;
}

batcher_options batcher_options_for(const runtime::built_engine& built) {
  const runtime::engine_config& config = built.config;
  batcher_options options;
  options.scheduler = {config.max_num_seqs,
                       *config.max_num_batched_tokens,
                       config.enable_chunked_prefill,
                       config.max_model_len,
                       built.kv_cache.block_size,
                       built.hash_algo,
                       config.scheduling_policy == "priority" ? runtime::scheduling_policy::priority
                                                              : runtime::scheduling_policy::fcfs,
                       config.speculative};
  options.max_waiting_requests = config.max_waiting_requests;
  options.debug_log = spdlog::should_log(spdlog::level::debug);
  options.log_requests = config.log_requests();
  options.async_scheduling = config.async_scheduling;
  options.token_rank = static_cast<size_t>(config.tensor_parallel_size) *
                       static_cast<size_t>(std::max(0, config.pipeline_parallel_size - 1));
  options.max_steps_in_flight = static_cast<size_t>(std::max(1, config.pipeline_parallel_size));
  options.scheduler.pipeline_stages = std::max(1, config.pipeline_parallel_size);
  return options;
}

}  // namespace

std::vector<int32_t> eog_token_ids(const runtime::tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_eog(id)) ids.push_back(id);
  }
  return ids;
}

engine_core::engine_core(caf::actor_system& system, telemetry::registry& metrics, int32_t index,
                         int32_t num_engines, const runtime::built_engine& built,
                         std::vector<std::unique_ptr<runtime::model_runner>> runners,
                         std::shared_ptr<const runtime::grammar::token_vocabulary> vocabulary)
    : metrics_(metrics), index_(index), num_engines_(num_engines) {
  const runtime::engine_config& config = built.config;
  counters_->prefix_caching = config.enable_prefix_caching;
  if (!config.disable_log_stats) vllm_ = vllm_metrics::create(metrics_, metrics_info(built, index));
  const int32_t block_size = built.kv_cache.block_size;
  allocator_ = spawn_kv_allocator(system, built.kv_cache.num_blocks, block_size, counters_, vllm_,
                                  actor_kind("kv_allocator"));
  const int32_t vocab_size = std::min(runners.front()->vocab_size(), built.tokenizer->vocab_size());
  // One executor per rank (tensor x pipeline parallel), each on its own thread.
  for (size_t rank = 0; rank < runners.size(); ++rank) {
    const telemetry::labels labels = {{"rank", std::to_string(rank)}};
    auto& held = metrics_.add_gauge("troupe_executor_sequences",
                                    "Sequences an executor holds state for (its rank's).",
                                    with_engine(labels));
    telemetry::counter* input_wait = nullptr;
    if (rank >= static_cast<size_t>(config.tensor_parallel_size)) {  // a later pipeline stage
      input_wait = &metrics_.add_counter(
          "troupe_executor_input_wait_seconds_total",
          "Time a pipeline stage's rank waited for its input from the stage before it.",
          with_engine(labels));
    }
    executors_.push_back(spawn_executor(system, std::move(runners[rank]),
                                        actor_kind("executor", labels), &held, vocabulary,
                                        input_wait));
  }
  batcher_ = spawn_batcher(
      system, batcher_options_for(built), allocator_, executors_, counters_,
      {actor_kind("batcher"), step_metrics::create(metrics_, with_engine({})), vllm_});
  auto context = std::make_shared<request_context>();
  context->tokenizer = built.tokenizer;
  context->batcher = batcher_;
  context->max_model_len = config.max_model_len;
  context->vocab_size = vocab_size;
  context->eog_token_ids = eog_token_ids(*built.tokenizer);
  context->log_requests = config.log_requests();
  context->actor = actor_kind("request");
  context->stats = vllm_;
  context->prefix_caching = config.enable_prefix_caching;
  context->block_size = block_size;
  context->hash_algo = built.hash_algo;
  context_ = std::move(context);
  if (vllm_) {
    const auto interval = std::chrono::milliseconds(
        static_cast<int64_t>(std::max(0.001, config.log_stats_interval) * 1000));
    stats_logger_ =
        spawn_stats_logger(system, counters_, *vllm_, actor_kind("stats_logger"), interval, index);
  }
}

engine_core::~engine_core() {
  caf::anon_send_exit(batcher_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(allocator_, caf::exit_reason::user_shutdown);
  for (const auto& executor : executors_)
    caf::anon_send_exit(executor, caf::exit_reason::user_shutdown);
  if (stats_logger_) caf::anon_send_exit(stats_logger_, caf::exit_reason::user_shutdown);
}

int64_t engine_core::load_score() const {
  constexpr auto relaxed = std::memory_order_relaxed;
  const int64_t unfinished = counters_->num_unfinished.load(relaxed);
  const int64_t running = std::min<int64_t>(counters_->num_running.load(relaxed), unfinished);
  return (unfinished - running) * 4 + running;
}

telemetry::labels engine_core::with_engine(telemetry::labels l) const {
  if (num_engines_ > 1) l.emplace_back("engine", std::to_string(index_));
  return l;
}

actor_kind_metrics engine_core::actor_kind(const std::string& kind, telemetry::labels extra) {
  return actor_kind_metrics::create(metrics_, kind, with_engine(std::move(extra)));
}

}  // namespace troupe::actors
