#pragma once
// An asynchronous HTTP/1.1 client for streamed completions, on Boost.Beast with its own
// io_context threads, so sockets, SSE parsing and JSON parsing never run on the thread that
// keeps the arrival schedule. Connections are kept alive and reused (as benchmark_serving's
// aiohttp session does): a request takes an idle connection if there is one, else opens one;
// a reused connection the server closed meanwhile is retried once on a new one.
//
// With metrics (the "http_client" kind of `troupe bench --telemetry`), the io threads count as
// actors and start() as a message to them: messages, io queue depth and peak, and the wait from
// start() (where a request's clock starts) to an io thread picking the request up.
//
// Thread: start() may be called from any thread; `done` runs on one of the client's io threads.
// The destructor stops the threads; requests still in flight are abandoned (their callbacks may
// not run), so destroy the client only after every callback has come back.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actor_telemetry/actor_kind_metrics.hpp"
#include "base/result.hpp"

namespace troupe::loadgen {

struct http_endpoint {
  std::string host = "127.0.0.1";
  std::string port = "8000";
  std::string target = "/v1/completions";
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  // https: TLS with the server's certificate checked against OpenSSL's default CA paths
  // (SSL_CERT_FILE / SSL_CERT_DIR override them) and the host name.
  bool tls = false;
};

// The extra headers a benchmark sends: `Authorization: Bearer <api_key>` when api_key is not
// empty (vLLM's benchmark takes it from OPENAI_API_KEY, for a server with --api-key), then
// `headers` (--header KEY=VALUE), each replacing an earlier one of the same name (any case).
std::vector<std::pair<std::string, std::string>> request_headers(
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view api_key);

// What the client saw of one streamed request. Times are seconds since the client's epoch.
struct stream_outcome {
  bool success = false;
  std::string error;
  double start = 0;  // when start() was called (benchmark_serving: before the POST)
  double first = 0;  // first content chunk
  double last = 0;   // last content chunk
  std::vector<double> itl;
  std::string text;
  int32_t output_tokens = 0;  // from usage; 0 = not sent
};

// Splits "http[s]://host[:port]/prefix" into host, port (80 / 443 by default), TLS and path
// prefix; error for anything else.
result<http_endpoint> parse_base_url(const std::string& base_url, const std::string& endpoint);

class http_stream_client {
 public:
  using callback = std::function<void(stream_outcome)>;

  // Resolves the endpoint's host now; error when it cannot be resolved. `metrics`, when given,
  // must outlive the client (its registry).
  static result<std::unique_ptr<http_stream_client>> create(
      http_endpoint endpoint, int num_threads, std::chrono::steady_clock::time_point epoch,
      std::optional<actor_telemetry::actor_kind_metrics> metrics = std::nullopt);
  ~http_stream_client();
  http_stream_client(const http_stream_client&) = delete;
  http_stream_client& operator=(const http_stream_client&) = delete;

  // POSTs `body` (JSON) and streams the answer; `chat` picks the delta.content field.
  void start(std::string body, bool chat, callback done);

  double now() const;               // seconds since the epoch
  int64_t num_connections() const;  // TCP connections opened so far
  double io_cpu_seconds() const;    // CPU time of the io threads so far (user + system)

  struct impl;  // opaque: io_context, threads, resolved endpoint

 private:
  explicit http_stream_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace troupe::loadgen
