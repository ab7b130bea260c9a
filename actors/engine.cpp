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

#include "actors/choice_sink.hpp"
#include "actors/engine_core.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/request_actor.hpp"
#include "runtime/sched/prefix_router.hpp"
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

// What the data-parallel router matches: the prompt's text, or its token ids' bytes.
std::string_view routing_key(const generation_request& request) {
  if (request.prompt_token_ids.empty()) return request.prompt;
  return {reinterpret_cast<const char*>(request.prompt_token_ids.data()),
          request.prompt_token_ids.size() * sizeof(int32_t)};
}

// Each engine's router table holds about what its KV cache does: 4 bytes of text a token.
size_t router_capacity(const runtime::built_engine& built) {
  const auto tokens = static_cast<size_t>(built.kv_cache.num_blocks) *
                      static_cast<size_t>(built.kv_cache.block_size);
  return std::max<size_t>(1, tokens * 4 / runtime::prefix_router::chunk_bytes);
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

class engine_impl final : public engine {
 public:
  // requires: built.runners not empty, DP x R of them (engine d's rank r at d x R + r).
  explicit engine_impl(runtime::built_engine built)
      : system_(configure(cfg_, built.config)),
        tokenizer_(built.tokenizer),
        router_(runtime::parse_data_parallel_routing(built.config.data_parallel_routing)
                    .value_or(runtime::data_parallel_routing::least_loaded),
                std::max(1, built.config.data_parallel_size), router_capacity(built)) {
    const runtime::engine_config& config = built.config;
    info_.served_model_name = config.served_model_name;
    info_.max_model_len = config.max_model_len;
    info_.model_path = runtime::resolve_model_path(config);
    info_.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const auto num_engines = static_cast<size_t>(std::max(1, config.data_parallel_size));
    info_.data_parallel_size = static_cast<int32_t>(num_engines);
    add_actor_system_metrics(config);
    const auto vocabulary = grammar_vocabulary(*tokenizer_);
    const size_t ranks = built.runners.size() / num_engines;
    for (size_t d = 0; d < num_engines; ++d) {
      std::vector<std::unique_ptr<runtime::model_runner>> runners;
      for (size_t r = 0; r < ranks; ++r)
        runners.push_back(std::move(built.runners[d * ranks + r]));
      cores_.push_back(std::make_unique<engine_core>(system_, *metrics_, static_cast<int32_t>(d),
                                                     static_cast<int32_t>(num_engines), built,
                                                     std::move(runners), vocabulary));
    }
  }

  // Stops the request actors first (their sinks get a final event), then the engines' actors;
  // the actor system's destructor then waits for every actor to finish.
  ~engine_impl() override {
    for (auto& handle : live_->all())
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    cores_.clear();
  }

  uint64_t submit(generation_request request, std::shared_ptr<generation_sink> sink) override {
    const int64_t arrival = steady_now_ns();
    const int32_t n = std::max(1, request.n);
    const uint64_t id = next_id_.fetch_add(static_cast<uint64_t>(n));
    // Every choice of the request on one engine: they share the prompt's blocks there.
    engine_core& core = *cores_[static_cast<size_t>(pick_engine(request, true))];
    core.counters()->num_unfinished.fetch_add(n, std::memory_order_relaxed);
    if (const auto& stats = core.context()->stats) stats->request_params_n->observe(n);
    if (n == 1) {
      spawn_choice(core, id, std::move(request), std::move(sink), arrival, {});
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
      first.siblings.push_back(
          spawn_choice(core, id + static_cast<uint64_t>(i), choice_of(request, i),
                       std::make_shared<choice_sink>(fan_in, i), arrival, {id, {}, true}));
    }
    spawn_choice(core, id, choice_of(request, 0), std::make_shared<choice_sink>(fan_in, 0), arrival,
                 std::move(first));
    return id;
  }

  void abort(uint64_t id) override { stop_request(*live_, id); }

  // Every engine forgets its cached prefixes; `done` gets an error if any refused (blocks in
  // use there), the blocks in use summed; the engines that could reset have.
  void reset_prefix_cache(std::function<void(status)> done) override {
    std::vector<kv_allocator_actor> allocators;
    for (const auto& core : cores_)
      allocators.push_back(core->allocator());
    system_.spawn([allocators = std::move(allocators),
                   done = std::move(done)](caf::event_based_actor* self) {
      struct tally {
        size_t pending = 0;
        int32_t blocks_in_use = 0;
        std::string failure;
      };
      auto t = std::make_shared<tally>();
      t->pending = allocators.size();
      auto answered = [t, done] {
        if (--t->pending > 0) return;
        if (!t->failure.empty()) return done(error{"prefix cache reset failed: " + t->failure});
        if (t->blocks_in_use == 0) return done(ok_status());
        done(error{"Cannot reset the prefix cache while requests hold KV blocks (" +
                   std::to_string(t->blocks_in_use) + " in use); retry when the server is idle"});
      };
      for (const auto& allocator : allocators) {
        self->request(allocator, caf::infinite, clear_prefix_cache{})
            .then(
                [t, answered](prefix_cache_cleared& reply) {
                  if (!reply.done) t->blocks_in_use += reply.num_blocks_used;
                  answered();
                },
                [t, answered](caf::error& err) {
                  t->failure = caf::to_string(err);
                  answered();
                });
      }
    });
  }

  const telemetry::registry& metrics() const override { return *metrics_; }
  const model_info& info() const override { return info_; }
  const runtime::tokenizer& tokenizer() const override { return *tokenizer_; }

  engine_stats stats() const override {
    engine_stats s = cores_.front()->stats();
    for (size_t d = 1; d < cores_.size(); ++d)
      add_to(s, cores_[d]->stats());
    return s;
  }

  engine_stats engine_stats_of(int32_t index) const override {
    return cores_.at(static_cast<size_t>(index))->stats();
  }

  int32_t route(const generation_request& request) const override {
    return pick_engine(request, false);
  }

 private:
  // The request's data_parallel_rank, else the router's choice from the engines' load scores;
  // `record`: the router remembers the prompt there (a submission).
  int32_t pick_engine(const generation_request& request, bool record) const {
    const auto n = static_cast<int32_t>(cores_.size());
    if (n == 1) return 0;
    const std::string_view key = routing_key(request);
    if (const auto rank = request.data_parallel_rank; rank && *rank >= 0 && *rank < n) {
      if (record) {
        std::lock_guard lock(router_mutex_);
        router_.record(*rank, key, request.cache_salt);
      }
      return *rank;
    }
    std::vector<int64_t> scores;
    for (const auto& core : cores_)
      scores.push_back(core->load_score());
    std::lock_guard lock(router_mutex_);
    return record ? router_.route(key, request.cache_salt, scores)
                  : router_.peek(key, request.cache_salt, scores);
  }

  // requires: core's num_unfinished counts this choice already.
  request_actor spawn_choice(const engine_core& core, uint64_t id, generation_request request,
                             std::shared_ptr<generation_sink> sink, int64_t arrival,
                             choice_links links) {
    auto handle = spawn_request_actor(system_, core.context(), id, std::move(request),
                                      std::move(sink), arrival, std::move(links));
    live_->add(id, handle);
    // Runs at once if the actor has already terminated, so the entry never outlives it.
    handle->attach_functor([live = live_, counters = core.counters(), id] {
      live->remove(id);
      counters->num_unfinished.fetch_sub(1, std::memory_order_relaxed);
    });
    return handle;
  }

  static void add_to(engine_stats& sum, const engine_stats& s) {
    sum.num_kv_blocks_total += s.num_kv_blocks_total;
    sum.num_kv_blocks_free += s.num_kv_blocks_free;
    sum.num_kv_blocks_used += s.num_kv_blocks_used;
    sum.num_running += s.num_running;
    sum.num_waiting += s.num_waiting;
    sum.num_preemptions += s.num_preemptions;
    sum.num_steps += s.num_steps;
    sum.num_live_requests += s.num_live_requests;
    sum.num_prefix_cache_queries += s.num_prefix_cache_queries;
    sum.num_prefix_cache_hits += s.num_prefix_cache_hits;
    sum.num_kv_blocks_cached += s.num_kv_blocks_cached;
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
  std::shared_ptr<telemetry::registry> metrics_ = std::make_shared<telemetry::registry>();
  caf::actor_system_config cfg_;
  caf::actor_system system_;  // after cfg_, before every handle: destroyed after them
  std::shared_ptr<const runtime::tokenizer> tokenizer_;
  mutable std::mutex router_mutex_;
  mutable runtime::prefix_router router_;  // under router_mutex_
  model_info info_;
  std::atomic<uint64_t> next_id_{1};
  std::vector<std::unique_ptr<engine_core>> cores_;  // data-parallel engine d at index d
};

}  // namespace

std::string data_parallel_rank_message(int64_t rank, int32_t data_parallel_size) {
  return "data_parallel_rank " + std::to_string(rank) + " is out of range [0, " +
         std::to_string(data_parallel_size) + ").";
}

result<std::unique_ptr<engine>> start_engine(runtime::built_engine built) {
  if (built.runners.empty()) return error{"an engine needs a model runner"};
  const runtime::engine_config& config = built.config;
  const auto num_engines = static_cast<size_t>(std::max(1, config.data_parallel_size));
  if (built.runners.size() % num_engines != 0) {
    return error{"--data-parallel-size " + std::to_string(num_engines) +
                 " engines need the same number of runners each (got " +
                 std::to_string(built.runners.size()) + ")"};
  }
  spdlog::info(
      "engine started: max_model_len {}, {} KV blocks, max_num_seqs {}, budget {} tokens, {} "
      "executor(s), {} scheduling{}",
      config.max_model_len, built.kv_cache.num_blocks, config.max_num_seqs,
      *config.max_num_batched_tokens, built.runners.size() / num_engines, config.scheduling_policy,
      num_engines > 1 ? fmt::format("; {} data-parallel engines like it, requests to the least "
                                    "loaded (waiting x 4 + running)",
                                    num_engines)
                      : std::string());
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
