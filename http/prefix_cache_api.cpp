#include "http/prefix_cache_api.hpp"

#include <utility>

namespace troupe::http {

reset_reply reset_prefix_cache_reply(const status& result) {
  if (result.ok()) return std::nullopt;
  return api_error{409, result.message(), {}};
}

void reset_prefix_cache(actors::engine& engine, std::function<void(reset_reply)> reply) {
  engine.reset_prefix_cache(
      [reply = std::move(reply)](status result) { reply(reset_prefix_cache_reply(result)); });
}

}  // namespace troupe::http
