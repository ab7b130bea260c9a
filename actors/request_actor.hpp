#pragma once
// The request actor: one per generation. Tokenizes and validates the request, hashes its prompt's
// full blocks for the prefix cache, submits it to the batcher, turns token deltas into
// generation_events (incremental detokenization) for the sink, and quits after the final event.
// The choices of an n > 1 request tokenize once: the first choice sends the prompt to the others.
//
//   engine::submit ──spawn──▶ request actor ──submit_generation──▶ batcher
//   sink ◀──generation_event── request actor ◀──token_delta / request_failed── batcher
//   engine::abort ──stop_generation──▶ request actor ──abort_generation──▶ batcher
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/engine.hpp"
#include "actors/engine_metrics.hpp"
#include "actors/instrumented.hpp"
#include "actors/messages.hpp"
#include "runtime/sched/block_hash.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::actors {

// What every request actor shares; immutable after start_engine.
struct request_context {
  std::shared_ptr<const runtime::tokenizer> tokenizer;
  batcher_actor batcher;
  int32_t max_model_len = 0;
  int32_t vocab_size = 0;              // valid prompt token ids are [0, vocab_size)
  std::vector<int32_t> eog_token_ids;  // the request's stop tokens (unless ignore_eos)
  // --enable-log-requests: one line per lifecycle event (actors/request_log.hpp).
  bool log_requests = false;
  actor_kind_metrics actor;           // every request actor's (kind "request")
  std::optional<vllm_metrics> stats;  // vLLM's per-request metrics; empty: --disable-log-stats
  // Prefix caching (--enable-prefix-caching): every request hashes its prompt's full blocks;
  // without it only the choices of an n > 1 request do, salted with their group, so that they
  // share their prompt's blocks with each other and nobody else.
  bool prefix_caching = true;
  int32_t block_size = 16;
  runtime::block_hash_algo hash_algo = runtime::block_hash_algo::sha256;
};

// How a request actor relates to the other choices of an n > 1 request.
struct choice_links {
  uint64_t group_id = 0;  // the first choice's id; 0 for a request with n = 1
  // Only for the first choice: the other choices, which get its prompt_ready (or its
  // request_failed when the prompt is rejected).
  std::vector<request_actor> siblings;
  bool awaits_prompt = false;  // the other choices: wait for prompt_ready instead of tokenizing
};

// `sink` receives every event; the last has finished set (with the request's timing when it
// produced output). If the actor is killed first (engine shutdown), the sink gets a final 503
// error event. A choice stopped while it waits for its prompt finishes "abort" at once.
// `arrival_ns`: when engine::submit was called (steady_now_ns()), where TTFT and e2e start.
request_actor spawn_request_actor(caf::actor_system& system,
                                  std::shared_ptr<const request_context> context, uint64_t id,
                                  generation_request request, std::shared_ptr<generation_sink> sink,
                                  int64_t arrival_ns, choice_links links = {});

}  // namespace troupe::actors
