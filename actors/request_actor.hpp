#pragma once
// The request actor: one per generation. Tokenizes and validates the request, submits it to the
// batcher, turns token deltas into generation_events (incremental detokenization) for the sink,
// and quits after the final event.
//
//   engine::submit ──spawn──▶ request actor ──submit_generation──▶ batcher
//   sink ◀──generation_event── request actor ◀──token_delta / request_failed── batcher
//   engine::abort ──stop_generation──▶ request actor ──abort_generation──▶ batcher
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::actors {

// What every request actor shares; immutable after start_engine.
struct request_context {
  std::shared_ptr<const runtime::tokenizer> tokenizer;
  batcher_actor batcher;
  int32_t max_model_len = 0;
  int32_t vocab_size = 0;              // valid prompt token ids are [0, vocab_size)
  std::vector<int32_t> eog_token_ids;  // the request's stop tokens (unless ignore_eos)
  bool log_requests = true;
};

// `sink` receives every event; the last has finished set. If the actor is killed first (engine
// shutdown), the sink gets a final 503 error event. A choice of an n > 1 request passes the id of
// its first choice as `group_id` (runtime::request_spec::group_id: the choices share their
// prompt's KV blocks); 0 otherwise.
request_actor spawn_request_actor(caf::actor_system& system,
                                  std::shared_ptr<const request_context> context, uint64_t id,
                                  generation_request request, std::shared_ptr<generation_sink> sink,
                                  uint64_t group_id = 0);

}  // namespace troupe::actors
