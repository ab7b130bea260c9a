#include "loadgen/http_stream_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "loadgen/openai_stream.hpp"

namespace troupe::loadgen {

std::vector<std::pair<std::string, std::string>> request_headers(
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view api_key) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!api_key.empty()) out.emplace_back("Authorization", "Bearer " + std::string(api_key));
  for (const auto& [name, value] : headers) {
    std::erase_if(out, [&](const auto& h) { return boost::beast::iequals(h.first, name); });
    out.emplace_back(name, value);
  }
  return out;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// One TCP connection, with TLS on top for https endpoints. Never moved: the TLS stream holds a
// reference to the socket.
struct connection {
  connection(asio::io_context& io, asio::ssl::context* tls_context) : socket(io) {
    if (tls_context) tls.emplace(socket, *tls_context);
  }
  tcp::socket socket;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
};

}  // namespace

struct http_stream_client::impl {
  http_endpoint endpoint;
  std::chrono::steady_clock::time_point epoch;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  tcp::resolver::results_type resolved;
  std::vector<std::thread> threads;
  // Kept-alive connections between requests (declared after `io`, so closed before it).
  std::mutex idle_mutex;
  std::vector<std::unique_ptr<connection>> idle;
  std::atomic<int64_t> num_connections{0};
  std::optional<asio::ssl::context> tls_context;               // https endpoints only
  std::optional<actor_telemetry::actor_kind_metrics> metrics;  // --telemetry only

  std::unique_ptr<connection> take_idle() {
    std::lock_guard lock(idle_mutex);
    if (idle.empty()) return nullptr;
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }
  void keep(std::unique_ptr<connection> c) {
    std::lock_guard lock(idle_mutex);
    idle.push_back(std::move(c));
  }

  double now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch).count();
  }
};

namespace {

// One request: take a kept-alive connection or connect, write, then read the body piece by
// piece, timestamping each piece; a connection the server keeps open goes back to the pool.
class stream_session : public std::enable_shared_from_this<stream_session> {
 public:
  stream_session(http_stream_client::impl& client, std::string body, bool chat,
                 http_stream_client::callback done)
      : client_(client), sse_(chat), done_(std::move(done)) {
    request_.method(http::verb::post);
    request_.target(client.endpoint.target);
    request_.version(11);
    request_.set(http::field::host, client.endpoint.host + ":" + client.endpoint.port);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::user_agent, "troupe-bench");
    for (const auto& [k, v] : client.endpoint.headers)
      request_.set(k, v);
    request_.body() = std::move(body);
    request_.prepare_payload();
    reset_parser();
  }

  void set_start(double t) { outcome_.start = t; }
  double start_time() const { return outcome_.start; }

  void run() {
    if (auto kept = client_.take_idle()) {
      conn_ = std::move(kept);
      reused_ = true;
      return write();
    }
    connect();
  }

 private:
  void reset_parser() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    buffer_.clear();
  }

  // Calls f(stream) with the TLS stream or the plain socket.
  template <class F>
  void with_stream(F&& f) {
    if (conn_->tls) {
      f(*conn_->tls);
    } else {
      f(conn_->socket);
    }
  }

  void connect() {
    conn_ = std::make_unique<connection>(client_.io,
                                         client_.tls_context ? &*client_.tls_context : nullptr);
    ++client_.num_connections;
    asio::async_connect(conn_->socket, client_.resolved,
                        [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                          if (ec) return self->fail("connect: " + ec.message());
                          // As aiohttp: no Nagle delay on small writes (a kept-alive request
                          // would otherwise wait for the delayed ACK of the previous answer).
                          beast::error_code ignored;
                          self->conn_->socket.set_option(tcp::no_delay(true), ignored);
                          if (self->conn_->tls) return self->handshake();
                          self->write();
                        });
  }

  // TLS: SNI and certificate checks against the host name (OpenSSL's default CA paths, or
  // SSL_CERT_FILE / SSL_CERT_DIR when set).
  void handshake() {
    auto& tls = *conn_->tls;
    const std::string& host = client_.endpoint.host;
    SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
    tls.set_verify_callback(asio::ssl::host_name_verification(host));
    tls.async_handshake(asio::ssl::stream_base::client,
                        [self = shared_from_this()](beast::error_code ec) {
                          if (ec) return self->fail("TLS handshake: " + ec.message());
                          self->write();
                        });
  }

  // A kept-alive connection the server has meanwhile closed fails before any answer: retry once
  // on a new connection, as aiohttp does.
  void fail_or_retry(std::string message) {
    if (!reused_ || parser_->is_header_done()) return fail(std::move(message));
    reused_ = false;
    beast::error_code ignored;
    conn_->socket.close(ignored);
    reset_parser();
    connect();
  }

  void write() {
    with_stream([this](auto& stream) {
      http::async_write(stream, request_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->fail_or_retry("write: " + ec.message());
                          self->read();
                        });
    });
  }

  void read() {
    parser_->get().body().data = chunk_;
    parser_->get().body().size = sizeof chunk_;
    with_stream([this](auto& stream) {
      http::async_read_some(
          stream, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
    });
  }

  void on_read(beast::error_code ec) {
    const double t = client_.now();
    // ACK at once (Linux clears quick-ACK after each read): a server that streams with Nagle's
    // algorithm on would otherwise hold each chunk until our delayed ACK, up to 40 ms, once a
    // kept-alive connection has left TCP's initial quick-ACK phase.
    int one = 1;
    ::setsockopt(conn_->socket.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = sizeof chunk_ - parser_->get().body().size;
    if (parser_->is_header_done() && parser_->get().result_int() != 200) {
      error_body_.append(chunk_, got);
    } else if (got > 0) {
      sse_.feed(std::string_view(chunk_, got), t);
    }
    // A TLS peer that closes without close_notify ends the stream as plain EOF would.
    const bool eof = ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated;
    if (ec && !eof) return fail_or_retry("read: " + ec.message());
    if (eof && !parser_->is_header_done()) return fail_or_retry("read: " + ec.message());
    if (parser_->is_done() || eof) return finish(!ec);
    read();
  }

  // `reusable`: the whole message was read and the connection is still open.
  void finish(bool reusable) {
    if (reusable && parser_->is_done() && parser_->get().keep_alive()) {
      client_.keep(std::move(conn_));
    } else {
      beast::error_code ignored;
      conn_->socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
    const unsigned status = parser_->get().result_int();
    if (status != 200) return fail("HTTP " + std::to_string(status) + ": " + error_body_);
    if (!sse_.error().empty()) return fail(sse_.error());
    if (!sse_.got_content()) return fail("Never received a valid chunk to calculate TTFT.");
    outcome_.success = true;
    outcome_.first = sse_.first_chunk_time();
    outcome_.last = sse_.last_chunk_time();
    outcome_.itl = sse_.itl();
    outcome_.text = sse_.text();
    outcome_.output_tokens = sse_.output_tokens();
    done_(std::move(outcome_));
  }

  void fail(std::string message) {
    outcome_.success = false;
    outcome_.error = std::move(message);
    done_(std::move(outcome_));
  }

  http_stream_client::impl& client_;
  std::unique_ptr<connection> conn_;
  bool reused_ = false;  // conn_ came from the pool
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  beast::flat_buffer buffer_;
  char chunk_[16384];
  sse_parser sse_;
  std::string error_body_;
  stream_outcome outcome_;
  http_stream_client::callback done_;
};

}  // namespace

result<http_endpoint> parse_base_url(const std::string& base_url, const std::string& endpoint) {
  const bool tls = base_url.rfind("https://", 0) == 0;
  if (!tls && base_url.rfind("http://", 0) != 0) {
    return error{"--base-url must start with http:// or https://: " + base_url};
  }
  std::string rest = base_url.substr(tls ? 8 : 7);
  const size_t slash = rest.find('/');
  const std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  const std::string authority = rest.substr(0, slash);
  http_endpoint out;
  out.tls = tls;
  const size_t colon = authority.rfind(':');
  out.host = colon == std::string::npos ? authority : authority.substr(0, colon);
  out.port = colon == std::string::npos ? (tls ? "443" : "80") : authority.substr(colon + 1);
  if (out.host.empty() || out.port.empty()) return error{"cannot parse --base-url " + base_url};
  std::string path = prefix;
  if (!path.empty() && path.back() == '/') path.pop_back();
  out.target = path + endpoint;
  return out;
}

http_stream_client::http_stream_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

result<std::unique_ptr<http_stream_client>> http_stream_client::create(
    http_endpoint endpoint, int num_threads, std::chrono::steady_clock::time_point epoch,
    std::optional<actor_telemetry::actor_kind_metrics> metrics) {
  auto p = std::make_unique<impl>();
  p->endpoint = std::move(endpoint);
  p->epoch = epoch;
  beast::error_code ec;
  tcp::resolver resolver(p->io);
  p->resolved = resolver.resolve(p->endpoint.host, p->endpoint.port, ec);
  if (ec) {
    return error{"cannot resolve " + p->endpoint.host + ":" + p->endpoint.port + ": " +
                 ec.message()};
  }
  if (p->endpoint.tls) {
    p->tls_context.emplace(asio::ssl::context::tls_client);
    p->tls_context->set_default_verify_paths(ec);
    p->tls_context->set_verify_mode(asio::ssl::verify_peer);
  }
  p->metrics = metrics;
  for (int i = 0; i < std::max(num_threads, 1); ++i) {
    p->threads.emplace_back([io = &p->io] { io->run(); });
    if (p->metrics) p->metrics->running->inc();
  }
  return std::unique_ptr<http_stream_client>(new http_stream_client(std::move(p)));
}

http_stream_client::~http_stream_client() {
  impl_->guard.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads)
    t.join();
  if (impl_->metrics) impl_->metrics->running->dec(static_cast<double>(impl_->threads.size()));
}

void http_stream_client::start(std::string body, bool chat, callback done) {
  auto session = std::make_shared<stream_session>(*impl_, std::move(body), chat, std::move(done));
  session->set_start(impl_->now());  // the send decision, before the io thread picks it up
  if (!impl_->metrics) {
    asio::post(impl_->io, [session] { session->run(); });
    return;
  }
  const auto& m = *impl_->metrics;
  m.depth->inc();
  m.depth_peak->max(m.depth->value());
  asio::post(impl_->io, [session, client = impl_.get()] {
    const auto& m = *client->metrics;
    m.wait_seconds->observe(client->now() - session->start_time());
    m.depth->dec();
    m.messages->inc();
    session->run();
  });
}

double http_stream_client::now() const {
  return impl_->now();
}

int64_t http_stream_client::num_connections() const {
  return impl_->num_connections;
}

double http_stream_client::io_cpu_seconds() const {
  double total = 0;
  for (auto& t : impl_->threads) {
    clockid_t clock{};
    timespec ts{};
    if (pthread_getcpuclockid(t.native_handle(), &clock) == 0 && clock_gettime(clock, &ts) == 0) {
      total += static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
  }
  return total;
}

}  // namespace troupe::loadgen
