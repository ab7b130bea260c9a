#pragma once
// One engine of the serving engine (vLLM's EngineCore): the KV-cache allocator actor, one
// executor actor per rank (tensor x pipeline parallel), the batcher actor running the step loop,
// the stats logger, the counters they publish and the request context its request actors use.
// With --data-parallel-size N the engine facade (actors/engine.cpp) runs N of them in one actor
// system and routes each request to one; they share nothing but the tokenizer and the metrics
// registry, where each labels its metrics with its index (vllm:* always engine="d", as vLLM's;
// troupe_* only when there are several engines, so one engine's series stay as they were).
//
// Thread: built and destroyed on the engine's thread; the accessors from any thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/engine_counters.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/messages.hpp"
#include "actors/request_actor.hpp"
#include "runtime/grammar/token_matcher.hpp"
#include "runtime/serving/engine_builder.hpp"

namespace troupe::actors {

// The tokens that end a generation (the tokenizer's end-of-generation ids), in id order.
std::vector<int32_t> eog_token_ids(const runtime::tokenizer& tokenizer);

class engine_core {
 public:
  // Spawns the actors of engine `index` of `num_engines` over `runners` (its ranks, rank r at r),
  // with built.config's limits, built.kv_cache's blocks and built.tokenizer. `metrics` outlives
  // the core. requires: runners not empty.
  engine_core(caf::actor_system& system, telemetry::registry& metrics, int32_t index,
              int32_t num_engines, const runtime::built_engine& built,
              std::vector<std::unique_ptr<runtime::model_runner>> runners,
              std::shared_ptr<const runtime::grammar::token_vocabulary> vocabulary);
  // Stops the actors (exit messages; the actor system waits for them).
  ~engine_core();
  engine_core(const engine_core&) = delete;
  engine_core& operator=(const engine_core&) = delete;

  int32_t index() const { return index_; }
  const std::shared_ptr<const request_context>& context() const { return context_; }
  const kv_allocator_actor& allocator() const { return allocator_; }
  // Written by the engine (num_unfinished) and the actors; read by anyone.
  const std::shared_ptr<engine_counters>& counters() const { return counters_; }
  engine_stats stats() const { return counters_->snapshot(); }
  // vLLM's internal load balancing score (its DPLBAsyncMPClient): waiting x 4 + running, from
  // this engine's live counts: running = the batcher's running batch, waiting = the requests
  // submitted here and not finished that are not in it (queued, or still being tokenized).
  int64_t load_score() const;

 private:
  // The kind's actor metrics, labelled with this engine when there are several.
  actor_kind_metrics actor_kind(const std::string& kind, telemetry::labels extra = {});
  telemetry::labels with_engine(telemetry::labels l) const;

  telemetry::registry& metrics_;
  int32_t index_;
  int32_t num_engines_;
  std::shared_ptr<engine_counters> counters_ = std::make_shared<engine_counters>();
  std::optional<vllm_metrics> vllm_;  // empty with --disable-log-stats
  kv_allocator_actor allocator_;
  std::vector<executor_actor> executors_;  // rank r at index r
  batcher_actor batcher_;
  stats_logger_actor stats_logger_;
  std::shared_ptr<const request_context> context_;
};

}  // namespace troupe::actors
