#pragma once
// POST /reset_prefix_cache (vLLM's endpoint): makes the engine forget every cached prompt prefix,
// e.g. between benchmark runs. The request body and query are ignored.
//
// Success answers 200 with an empty body, as vLLM does. The engine refuses while KV blocks are in
// use by requests (nothing is reset then); troupe answers that with 409 Conflict and the engine's
// message, where vLLM (which does not check the result) answers 200 anyway.
#include <functional>
#include <optional>

#include "actors/engine.hpp"
#include "base/result.hpp"
#include "http/api_error.hpp"

namespace troupe::http {

// What to answer: nullopt = 200 with an empty body, else the error response.
using reset_reply = std::optional<api_error>;

// The answer to the engine's result: ok -> nullopt; an error -> 409 with its message.
reset_reply reset_prefix_cache_reply(const status& result);

// Asks `engine` to reset its prefix cache. `reply` is called once, from an engine thread, with
// the answer: it must not block (post it to the caller's own executor). Thread: any.
void reset_prefix_cache(actors::engine& engine, std::function<void(reset_reply)> reply);

}  // namespace troupe::http
