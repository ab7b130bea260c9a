#include "actors/engine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/batcher.hpp"
#include "actors/choice_sink.hpp"
#include "actors/engine_counters.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/executor.hpp"
#include "actors/kv_allocator_actor.hpp"
#include "actors/request_actor.hpp"
#include "actors/stats_logger.hpp"
#include "runtime/serving/model_files.hpp"

namespace troupe::actors {
namespace {

// The request actors alive, by engine id: engine::abort finds its targets here, the engine's
// destructor stops them all. Each actor removes itself when it terminates. The n choices of an
// n > 1 request have the ids first .. first + n - 1, and engine::abort(first) stops them all.
class live_requests {
 public:
  void add(uint64_t id, request_actor handle) {
    std::lock_guard lock{mutex_};
    actors_.emplace(id, std::move(handle));
  }
  // requires: before the choices are added; n >= 2.
  void add_group(uint64_t first, int32_t n) {
    std::lock_guard lock{mutex_};
    groups_[first] = {n, n};
  }
  void remove(uint64_t id) {
    std::lock_guard lock{mutex_};
    actors_.erase(id);
    auto it = groups_.upper_bound(id);
    if (it == groups_.begin()) return;
    --it;  // the group starting at or before id
    auto& [n, num_live] = it->second;
    if (id < it->first + static_cast<uint64_t>(n) && --num_live == 0) groups_.erase(it);
  }
  // The request `id`, or every live choice of the n > 1 request that `id` names.
  std::vector<request_actor> find(uint64_t id) const {
    std::lock_guard lock{mutex_};
    auto group = groups_.find(id);
    const int32_t n = group == groups_.end() ? 1 : group->second.first;
    std::vector<request_actor> handles;
    for (uint64_t i = id; i < id + static_cast<uint64_t>(n); ++i) {
      if (auto it = actors_.find(i); it != actors_.end()) handles.push_back(it->second);
    }
    return handles;
  }
  std::vector<request_actor> all() const {
    std::lock_guard lock{mutex_};
    std::vector<request_actor> handles;
    for (const auto& [id, handle] : actors_)
      handles.push_back(handle);
    return handles;
  }
  int32_t size() const {
    std::lock_guard lock{mutex_};
    return static_cast<int32_t>(actors_.size());
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, request_actor> actors_;
  std::map<uint64_t, std::pair<int32_t, int32_t>> groups_;  // first id -> {n, choices alive}
};

// Stops a request (all its choices). Thread-safe; the actors may be gone already.
void stop_request(const live_requests& live, uint64_t id) {
  for (auto& handle : live.find(id))
    caf::anon_send(handle, stop_generation{id});
}

std::vector<int32_t> eog_token_ids(const runtime::tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_eog(id)) ids.push_back(id);
  }
  return ids;
}

// The token bytes structured outputs' grammars are matched against: special tokens never match
// text, the end-of-generation ones end it.
std::shared_ptr<const runtime::grammar::token_vocabulary> grammar_vocabulary(
    const runtime::tokenizer& tokenizer) {
  const auto n = static_cast<size_t>(tokenizer.vocab_size());
  std::vector<std::string> bytes(n);
  std::vector<char> special(n, 0);
  for (size_t id = 0; id < n; ++id) {
    bytes[id] = tokenizer.token_bytes(static_cast<int32_t>(id));
    special[id] = tokenizer.is_special(static_cast<int32_t>(id)) ? 1 : 0;
  }
  return std::make_shared<runtime::grammar::token_vocabulary>(std::move(bytes), special,
                                                              eog_token_ids(tokenizer));
}

int32_t num_actor_threads(const runtime::engine_config& config) {
  return std::max(1, config.num_actor_threads);
}

caf::actor_system_config& configure(caf::actor_system_config& cfg,
                                    const runtime::engine_config& config) {
  cfg.set("scheduler.max-threads", static_cast<size_t>(num_actor_threads(config)));
  // Idle workers wait on a condition variable. The default work-stealing policy polls for 25 ms
  // after every message with 50 us sleeps: each wake-up preempts a compute thread, and the other
  // then waits for it at the next barrier (a 128-token prefill took 69 ms instead of 52).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  return cfg;
}

vllm_metrics_info metrics_info(const runtime::built_engine& built) {
  const runtime::engine_config& config = built.config;
  vllm_metrics_info info;
  info.model_name = config.served_model_name;
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

class engine_impl final : public engine {
 public:
  // requires: built.runners not empty, runners[r] rank r's.
  explicit engine_impl(runtime::built_engine built)
      : system_(configure(cfg_, built.config)), tokenizer_(std::move(built.tokenizer)) {
    const runtime::engine_config& config = built.config;
    counters_->prefix_caching = config.enable_prefix_caching;
    info_.served_model_name = config.served_model_name;
    info_.max_model_len = config.max_model_len;
    info_.model_path = runtime::resolve_model_path(config);
    info_.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    if (!config.disable_log_stats) {
      vllm_ = vllm_metrics::create(*metrics_, metrics_info(built));
    }
    add_actor_system_metrics(config);
    const int32_t block_size = built.kv_cache.block_size;
    allocator_ = spawn_kv_allocator(system_, built.kv_cache.num_blocks, block_size, counters_,
                                    vllm_, actor_kind("kv_allocator"));
    const int32_t vocab_size =
        std::min(built.runners.front()->vocab_size(), tokenizer_->vocab_size());
    // One executor per rank (tensor x pipeline parallel), each on its own thread.
    const auto vocabulary = grammar_vocabulary(*tokenizer_);
    for (size_t rank = 0; rank < built.runners.size(); ++rank) {
      const telemetry::labels labels = {{"rank", std::to_string(rank)}};
      auto& held =
          metrics_->add_gauge("troupe_executor_sequences",
                              "Sequences an executor holds state for (its rank's).", labels);
      telemetry::counter* input_wait = nullptr;
      if (rank >= static_cast<size_t>(config.tensor_parallel_size)) {  // a later pipeline stage
        input_wait = &metrics_->add_counter(
            "troupe_executor_input_wait_seconds_total",
            "Time a pipeline stage's rank waited for its input from the stage before it.", labels);
      }
      executors_.push_back(spawn_executor(system_, std::move(built.runners[rank]),
                                          actor_kind("executor", labels), &held, vocabulary,
                                          input_wait));
    }
    batcher_options options;
    options.scheduler = {config.max_num_seqs,
                         *config.max_num_batched_tokens,
                         config.enable_chunked_prefill,
                         config.max_model_len,
                         block_size,
                         built.hash_algo,
                         config.scheduling_policy == "priority"
                             ? runtime::scheduling_policy::priority
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
    batcher_ = spawn_batcher(system_, options, allocator_, executors_, counters_,
                             {actor_kind("batcher"), step_metrics::create(*metrics_), vllm_});
    auto context = std::make_shared<request_context>();
    context->tokenizer = tokenizer_;
    context->batcher = batcher_;
    context->max_model_len = config.max_model_len;
    context->vocab_size = vocab_size;
    context->eog_token_ids = eog_token_ids(*tokenizer_);
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
          spawn_stats_logger(system_, counters_, *vllm_, actor_kind("stats_logger"), interval);
    }
  }

  // Stops the request actors first (their sinks get a final event), then the pipeline; the
  // actor system's destructor then waits for every actor to finish.
  ~engine_impl() override {
    for (auto& handle : live_->all())
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(batcher_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(allocator_, caf::exit_reason::user_shutdown);
    for (const auto& executor : executors_)
      caf::anon_send_exit(executor, caf::exit_reason::user_shutdown);
    if (stats_logger_) caf::anon_send_exit(stats_logger_, caf::exit_reason::user_shutdown);
    context_ = nullptr;
    batcher_ = nullptr;
    allocator_ = nullptr;
    executors_.clear();
    stats_logger_ = nullptr;
  }

  uint64_t submit(generation_request request, std::shared_ptr<generation_sink> sink) override {
    const int64_t arrival = steady_now_ns();
    const int32_t n = std::max(1, request.n);
    const uint64_t id = next_id_.fetch_add(static_cast<uint64_t>(n));
    if (vllm_) vllm_->request_params_n->observe(n);
    if (n == 1) {
      spawn_choice(id, std::move(request), std::move(sink), arrival, {});
      return id;
    }
    // vLLM v1's parallel sampling: n requests, choice i seeded with seed + i. The first choice
    // tokenizes the prompt for all; the others find its blocks in the prefix cache.
    live_->add_group(id, n);
    auto fan_in = std::make_shared<choice_fan_in>(std::move(sink), n,
                                                  [live = std::weak_ptr<live_requests>(live_), id] {
                                                    if (auto l = live.lock()) stop_request(*l, id);
                                                  });
    choice_links first{id, {}, false};
    for (int32_t i = 1; i < n; ++i) {
      first.siblings.push_back(spawn_choice(id + static_cast<uint64_t>(i), choice_of(request, i),
                                            std::make_shared<choice_sink>(fan_in, i), arrival,
                                            {id, {}, true}));
    }
    spawn_choice(id, choice_of(request, 0), std::make_shared<choice_sink>(fan_in, 0), arrival,
                 std::move(first));
    return id;
  }

  void abort(uint64_t id) override { stop_request(*live_, id); }

  void reset_prefix_cache(std::function<void(status)> done) override {
    system_.spawn([allocator = allocator_, done = std::move(done)](caf::event_based_actor* self) {
      self->request(allocator, caf::infinite, clear_prefix_cache{})
          .then(
              [done](prefix_cache_cleared& reply) {
                if (reply.done) {
                  done(ok_status());
                  return;
                }
                done(error{"Cannot reset the prefix cache while requests hold KV blocks (" +
                           std::to_string(reply.num_blocks_used) +
                           " in use); retry when the server is idle"});
              },
              [done](caf::error& err) {
                done(error{"prefix cache reset failed: " + caf::to_string(err)});
              });
    });
  }

  const telemetry::registry& metrics() const override { return *metrics_; }
  const model_info& info() const override { return info_; }
  const runtime::tokenizer& tokenizer() const override { return *tokenizer_; }

  engine_stats stats() const override {
    engine_stats s = counters_->snapshot();
    s.num_live_requests = live_->size();
    return s;
  }

 private:
  request_actor spawn_choice(uint64_t id, generation_request request,
                             std::shared_ptr<generation_sink> sink, int64_t arrival,
                             choice_links links) {
    auto handle = spawn_request_actor(system_, context_, id, std::move(request), std::move(sink),
                                      arrival, std::move(links));
    live_->add(id, handle);
    // Runs at once if the actor has already terminated, so the entry never outlives it.
    handle->attach_functor([live = live_, id] { live->remove(id); });
    return handle;
  }

  actor_kind_metrics actor_kind(const std::string& kind, telemetry::labels extra = {}) {
    return actor_kind_metrics::create(*metrics_, kind, std::move(extra));
  }

  // The CAF scheduler's threads and the actors alive in the system (CAF's own count).
  void add_actor_system_metrics(const runtime::engine_config& config) {
    metrics_
        ->add_gauge("troupe_actor_system_scheduler_threads",
                    "CAF scheduler worker threads (--actor-threads).")
        .set(num_actor_threads(config));
    metrics_->add_gauge_fn("troupe_actor_system_running_actors",
                           "Actors alive in the actor system (CAF's registry).", {},
                           [this] { return static_cast<double>(system_.registry().running()); });
  }

  // Choice i of an n > 1 request samples with seed + i; only the first keeps the prompt text.
  static generation_request choice_of(const generation_request& request, int32_t i) {
    generation_request choice = request;
    choice.n = 1;
    choice.sampling.seed = request.sampling.seed + static_cast<uint64_t>(i);
    if (i > 0) {
      choice.prompt.clear();
      choice.prompt_token_ids.clear();
    }
    return choice;
  }

  std::shared_ptr<live_requests> live_ = std::make_shared<live_requests>();
  std::shared_ptr<engine_counters> counters_ = std::make_shared<engine_counters>();
  std::shared_ptr<telemetry::registry> metrics_ = std::make_shared<telemetry::registry>();
  std::optional<vllm_metrics> vllm_;  // empty with --disable-log-stats
  caf::actor_system_config cfg_;
  caf::actor_system system_;  // after cfg_, before every handle: destroyed after them
  std::shared_ptr<const runtime::tokenizer> tokenizer_;
  model_info info_;
  std::atomic<uint64_t> next_id_{1};
  kv_allocator_actor allocator_;
  std::vector<executor_actor> executors_;  // rank r at index r
  batcher_actor batcher_;
  stats_logger_actor stats_logger_;
  std::shared_ptr<const request_context> context_;
};

}  // namespace

result<std::unique_ptr<engine>> start_engine(runtime::built_engine built) {
  if (built.runners.empty()) return error{"an engine needs a model runner"};
  const runtime::engine_config& config = built.config;
  spdlog::info(
      "engine started: max_model_len {}, {} KV blocks, max_num_seqs {}, budget {} tokens, {} "
      "executor(s), {} scheduling",
      config.max_model_len, built.kv_cache.num_blocks, config.max_num_seqs,
      *config.max_num_batched_tokens, built.runners.size(), config.scheduling_policy);
  if (config.enable_prefix_caching) {
    spdlog::info("prefix caching on ({}): the cache holds up to {} blocks of {} tokens",
                 runtime::to_string(built.hash_algo), built.kv_cache.num_blocks,
                 built.kv_cache.block_size);
  } else {
    spdlog::info("prefix caching off (--no-enable-prefix-caching)");
  }
  if (const auto& spec = config.speculative; spec.enabled()) {
    spdlog::info(
        "speculative decoding: ngram, up to {} drafts a step from n-grams of {}-{} tokens{}",
        spec.num_speculative_tokens, spec.prompt_lookup_min, spec.prompt_lookup_max,
        spec.per_batch_size.empty() ? "" : ", by batch size");
  }
  return std::unique_ptr<engine>(std::make_unique<engine_impl>(std::move(built)));
}

result<std::unique_ptr<engine>> start_engine(const runtime::engine_config& config,
                                             std::shared_ptr<const runtime::tokenizer> tokenizer,
                                             std::unique_ptr<runtime::model_runner> runner,
                                             int32_t model_max_len) {
  std::vector<std::unique_ptr<runtime::model_runner>> runners;
  runners.push_back(std::move(runner));
  auto built =
      runtime::assemble_engine(config, std::move(tokenizer), std::move(runners), model_max_len);
  if (!built) return built.err();
  return start_engine(std::move(*built));
}

}  // namespace troupe::actors
