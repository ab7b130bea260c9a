#pragma once
// The endpoints of the HTTP server as one table: the path, the methods it answers and the handler
// that serves it. The session looks every request up here: an unknown path is a 404, a known path
// asked with another method a 405 (OpenAI-style errors both); anything else goes to the handler.
// A new endpoint is an entry here plus its handler in a file of its own (e.g. prefix_cache_api).
#include <cstdint>
#include <span>
#include <string_view>

namespace troupe::http {

enum class endpoint : uint8_t {
  completions,         // POST /v1/completions: completion_request, completion_responder
  chat_completions,    // POST /v1/chat/completions: chat_request, chat_responder
  messages,            // POST /v1/messages: anthropic_request, then chat, anthropic_responder
  count_tokens,        // POST /v1/messages/count_tokens: anthropic_request, the chat prompt
  responses,           // POST /v1/responses: responses_request, then chat, responses_responder
  response_by_id,      // GET /v1/responses/{id}, POST /v1/responses/{id}/cancel: response_store
  tokenize,            // GET|POST /tokenize: tokenize_api
  detokenize,          // GET|POST /detokenize: tokenize_api
  models,              // GET /v1/models: openai_json
  health,              // GET /health, GET|POST /ping: 200, empty body
  version,             // GET /version: {"version": server_options::version}
  load,                // GET /load: {"server_load": generations in progress}
  reset_prefix_cache,  // POST /reset_prefix_cache: prefix_cache_api
  metrics,             // GET /metrics: telemetry_api (Prometheus text)
  telemetry,           // GET /v1/telemetry: telemetry_api (one JSON snapshot)
  dashboard,           // GET /dashboard: dashboard_page (self-contained HTML)
};

// The methods a route answers, as bits of route::methods.
inline constexpr uint8_t method_get = 1;
inline constexpr uint8_t method_post = 2;

struct route {
  std::string_view path;  // matched exactly, without the query string (or its start: prefix)
  uint8_t methods = 0;    // method_get | method_post
  endpoint handler = endpoint::health;
  bool prefix = false;  // matches every path that starts with `path` (a path parameter follows)
};

// Every route, each path once.
std::span<const route> routes();

// `target` without its "?query".
std::string_view target_path(std::string_view target);

// The path the routes see under vLLM's --root-path ROOT (FastAPI's root_path, for a server behind
// a proxy that forwards a path prefix): as Starlette's routing takes it, `path` without a leading
// ROOT that is followed by "/" or nothing ("" then, which no route has); any other path as it
// is, so the unprefixed paths answer too. An empty ROOT changes nothing.
std::string_view route_path(std::string_view path, std::string_view root_path);

// The route of `path` (as target_path returns it): the one matching it exactly, else a prefix
// route it starts with; nullptr for an unknown path.
const route* find_route(std::string_view path);

// Whether `r` answers `method` ("GET", "POST", ... as the request line spells it; case matters,
// as in HTTP).
bool allows(const route& r, std::string_view method);

}  // namespace troupe::http
