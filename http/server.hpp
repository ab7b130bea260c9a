#pragma once
// The OpenAI/vLLM-compatible HTTP front end: POST /v1/completions and /v1/chat/completions
// (JSON or server-sent events), vLLM's Anthropic POST /v1/messages and /v1/messages/count_tokens,
// OpenAI's Responses API (POST /v1/responses, GET /v1/responses/{id}, POST
// /v1/responses/{id}/cancel), GET /v1/models, GET /health, /tokenize and /detokenize, POST
// /reset_prefix_cache; telemetry: GET /metrics, /v1/telemetry and /dashboard. Talks to the engine
// only through actors::engine; the endpoints are the route table of http/routes.hpp.
//
// Inside (http/server.cpp, http/session*.cpp): one Boost.Asio io_context run by num_io_threads
// threads; an acceptor; one session per connection on its own strand (keep-alive, request size
// and idle limits). A session submits a generation with a sink that posts the engine's events
// back to its strand; a client that disconnects mid-generation gets its request aborted.
// No Beast or Asio header appears here.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "base/result.hpp"
#include "http/chat_output_setup.hpp"
#include "http/chat_prompt.hpp"
#include "http/cors.hpp"
#include "http/structured_outputs_config.hpp"
#include "http/tls.hpp"
#include "runtime/sampling_defaults.hpp"

namespace troupe::http {

struct server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0 = an ephemeral port (see server::port())
  int32_t num_io_threads = 1;
  bool disable_log_requests = false;  // else one info line per request
  // vLLM's --disable-uvicorn-access-log: no access lines (the line per request above); and
  // --disable-access-log-for-endpoints: none for these paths (exact, without the query string).
  bool disable_access_log = false;
  std::vector<std::string> access_log_excluded_paths;
  // `--enable-prompt-tokens-details`: a usage object gains "prompt_tokens_details":
  // {"cached_tokens": N} when the engine reports N > 0 prompt tokens from the prefix cache.
  bool enable_prompt_tokens_details = false;
  // vLLM's --enable-request-id-headers: every response carries X-Request-Id (the request's own
  // header, else a random 32-hex id).
  bool enable_request_id_headers = false;
  // `--enable-per-request-metrics`: vLLM's per-request "metrics" object (milliseconds) in a
  // non-streaming body, or a stream's usage chunk (http/request_metrics.hpp).
  bool enable_per_request_metrics = false;
  // `--return-tokens-as-token-ids`: logprobs name tokens "token_id:<id>" unless a request's
  // return_tokens_as_token_ids says otherwise.
  bool return_tokens_as_token_ids = false;
  // `--enable-force-include-usage`: every stream ends with a usage chunk and carries the usage on
  // every chunk, as stream_options' include_usage and continuous_usage_stats would.
  bool enable_force_include_usage = false;
  // `--enable-server-load-tracking`: GET /load counts the completions and chat generations in
  // progress (vLLM's server_load); without it, 0.
  bool enable_server_load_tracking = false;
  // vLLM's --api-key (or VLLM_API_KEY): the API's paths need one of these as a Bearer token
  // (http/api_keys.hpp); empty = no check.
  std::vector<std::string> api_keys;
  // vLLM's --allowed-origins, --allowed-methods, --allowed-headers, --allow-credentials
  // (http/cors.hpp); by default no other origin may read an answer.
  cors_policy cors;
  // vLLM's --response-role: a chat answer's role after a generation prompt.
  std::string response_role = "assistant";
  // GET /version's {"version": ...} (troupe's version).
  std::string version;
  // vLLM's system_fingerprint (`--fingerprint-mode`): complete responses and a stream's last
  // chunk carry it; none = null.
  std::optional<std::string> system_fingerprint;
  // `--structured-outputs-config`: what every request's JSON schemas start from.
  structured_outputs_config structured_outputs;
  // `--reasoning-parser`, `--enable-auto-tool-choice` and `--tool-call-parser`: how chat answers
  // are parsed (http/chat_output_setup.hpp).
  chat_output_setup chat_output;
  std::size_t max_body_bytes = 8u << 20;  // larger request bodies get 413
  // A connection that does not deliver a complete request within this time while no response of
  // it is in progress (idle keep-alive, slow headers or body) is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  // `--seed`: requests without a "seed" get seeds drawn from a stream started here, so a replay
  // of the same requests in the same order samples the same tokens. None = random seeds.
  std::optional<uint64_t> seed;
  // Defaults for the sampling fields a request leaves unset (`--generation-config`: the model's
  // generation_config.json); see http/sampling_fields.hpp.
  runtime::sampling_defaults sampling_defaults;
  // vLLM's --max-logprobs: the most logprobs (sample, top or prompt) a request may ask for; -1 is
  // the whole vocabulary.
  int32_t max_logprobs = 20;
  // The chat template of /v1/chat/completions and /tokenize's "messages"; null or without a
  // template: those requests get 400 (see http/chat_prompt.hpp).
  std::shared_ptr<const chat_template_setup> chat_template;
  // vLLM's --anthropic-disabled-thinking-effort: the reasoning_effort of a /v1/messages request
  // with thinking {"type": "disabled"}; "auto" probes the template (http/anthropic_request.hpp).
  std::string anthropic_disabled_thinking_effort = "auto";
  // vLLM's VLLM_ENABLE_RESPONSES_API_STORE=1: /v1/responses keeps the responses whose request
  // has store true (its default), for GET /v1/responses/{id} and previous_response_id.
  bool enable_responses_store = false;
  // HTTPS (http/tls.hpp): every connection handshakes with the context's current one; null =
  // plain HTTP.
  std::shared_ptr<tls_contexts> tls;
  bool exclude_tools_when_tool_choice_none = false;  // vLLM's flag: tool_choice "none" hides tools
  // vLLM's --root-path: a prefix a proxy may leave on the paths (http/routes.hpp route_path).
  std::string root_path;
};

class server {
 public:
  class impl;
  explicit server(std::unique_ptr<impl> impl);
  ~server();  // stop() and wait()
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // The bound port (the real one when options.port was 0).
  uint16_t port() const;
  // Stops accepting, closes every connection and aborts their generations. Thread-safe,
  // idempotent, returns at once; must not be called from a handler thread together with wait().
  void stop();
  // Blocks until stop() has taken effect and the I/O threads have exited.
  void wait();

 private:
  std::unique_ptr<impl> impl_;
};

// Binds and starts serving. Errors (unresolvable host, port in use, ...) are values.
// Requires: `engine` outlives the returned server.
result<std::unique_ptr<server>> start_server(actors::engine& engine, server_options options);

}  // namespace troupe::http
