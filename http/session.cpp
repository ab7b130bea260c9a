#include "http/session.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>

#include "http/session_impl.hpp"

namespace troupe::http {
namespace {

constexpr uint32_t max_header_bytes = 64 * 1024;
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

// A malformed request (as opposed to the peer going away) deserves an error response.
std::optional<api_error> protocol_error(const error_code& ec, std::size_t max_body_bytes) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category() ||
      ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  if (ec == bhttp::error::body_limit) {
    return api_error{
        413, fmt::format("Request body too large (limit {} bytes).", max_body_bytes), {}};
  }
  if (ec == bhttp::error::header_limit) return api_error{431, "Request headers too large.", {}};
  return bad_request(fmt::format("Malformed HTTP request: {}.", ec.message()));
}

}  // namespace

session::session(tcp::socket socket, std::shared_ptr<server_context> ctx)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), ctx_(std::move(ctx)) {
  error_code ec;
  // Token chunks are small: without this, Nagle's algorithm holds each one back until the
  // client acknowledges the previous one (up to its delayed-ACK timeout).
  socket_.set_option(tcp::no_delay(true), ec);
  tcp::endpoint peer = socket_.remote_endpoint(ec);
  peer_ = ec ? "?" : fmt::format("{}:{}", peer.address().to_string(), peer.port());
  if (ctx_->options.tls) {
    tls_context_ = ctx_->options.tls->current();
    tls_.emplace(socket_, *tls_context_);
  }
}

void session::start() {
  net::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->tls_) return self->handshake();
    self->read_request();
  });
}

// -- reading ---------------------------------------------------------------------------------

// HTTPS: the handshake comes first, under the idle timeout. A client that fails it (plain HTTP
// to the HTTPS port, a missing or untrusted client certificate) is closed; nothing is answered.
void session::handshake() {
  arm_timer(ctx_->options.idle_timeout);
  tls_->async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
    if (self->closed_) return;
    if (ec) {
      spdlog::debug("http: TLS handshake with {} failed: {}", self->peer_, ec.message());
      return self->close();
    }
    self->read_request();
  });
}

void session::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(max_header_bytes);
  parser_->body_limit(ctx_->options.max_body_bytes);
  reading_ = true;
  if (!busy_) arm_timer(ctx_->options.idle_timeout);
  with_stream([&](auto& stream) {
    bhttp::async_read_header(
        stream, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  });
}

void session::on_header(error_code ec) {
  if (ec) return on_read_error(ec);
  if (closed_) return;
  if (lingering_) return discard_input();
  // curl waits a second for this before sending a large body.
  if (!busy_ && boost::beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
    send(std::string(continue_response));
  }
  with_stream([&](auto& stream) {
    bhttp::async_read(
        stream, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_body(ec); });
  });
}

void session::on_body(error_code ec) {
  reading_ = false;
  if (ec) return on_read_error(ec);
  if (closed_) return;
  if (lingering_) return discard_input();
  if (busy_) {
    pending_ = parser_->release();
    return;
  }
  begin_request(parser_->release());
}

void session::on_read_error(error_code ec) {
  reading_ = false;
  if (closed_) return;
  // linger() cancelled the pending read to shut TLS down.
  if (lingering_ && tls_ && ec == net::error::operation_aborted) return discard_input();
  if (ec == net::error::operation_aborted) return;
  std::optional<api_error> error =
      lingering_ ? std::nullopt : protocol_error(ec, ctx_->options.max_body_bytes);
  if (!error) return close();  // the peer went away
  if (busy_) {
    pending_error_ = std::move(error);
    return;
  }
  busy_ = true;
  started_ = steady::now();
  method_ = target_ = "-";
  if (parser_->is_header_done()) {
    method_ = std::string(parser_->get().method_string());
    target_ = std::string(parser_->get().target());
  }
  keep_alive_ = false;
  respond_error(*error);
}

// After the last response of a closing connection: read and drop what the client still sends,
// so that closing does not reset the connection before the client has read the response. Under
// HTTPS the TLS shutdown does it: close_notify, then the client's (what comes before is dropped).
void session::discard_input() {
  reading_ = true;
  if (tls_) {
    tls_->async_shutdown([self = shared_from_this()](error_code) {
      self->reading_ = false;
      self->close();
    });
    return;
  }
  socket_.async_read_some(net::buffer(discard_buffer_),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                            self->reading_ = false;
                            if (ec) return self->close();
                            self->discard_input();
                          });
}

// -- writing and lifetime --------------------------------------------------------------------

void session::send(std::string bytes) {
  if (closed_) return;
  if (!head_headers_.empty()) {
    // The response's first bytes are its head: the headers go after the status line.
    const size_t status_line_end = bytes.find("\r\n");
    if (status_line_end != std::string::npos) bytes.insert(status_line_end + 2, head_headers_);
    head_headers_.clear();
  }
  write_queue_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void session::write_next() {
  // Coalesce what queued up during the last write into one.
  while (write_queue_.size() > 1) {
    write_queue_[0] += write_queue_[1];
    write_queue_.erase(write_queue_.begin() + 1);
  }
  writing_ = true;
  with_stream([&](auto& stream) {
    net::async_write(
        stream, net::buffer(write_queue_.front()),
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  });
}

void session::on_write(error_code ec) {
  writing_ = false;
  write_queue_.pop_front();
  if (ec) return close();  // the peer went away
  if (closed_) return;
  if (!write_queue_.empty()) return write_next();
  if (response_done_) finish_response();
}

void session::arm_timer(steady::duration timeout) {
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->on_timer();
  });
}

void session::on_timer() {
  if (closed_ || timer_.expiry() > steady::now()) return;  // re-armed since
  if (lingering_ || !busy_) close();
}

void session::linger() {
  lingering_ = true;
  arm_timer(linger_timeout);
  error_code ec;
  if (tls_) {
    // The shutdown reads the socket: the read kept pending must end first (on_read_error).
    if (reading_) return void(socket_.cancel(ec));
    return discard_input();
  }
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (!reading_) discard_input();
}

void session::end_generation() {
  if (generating_ && ctx_->options.enable_server_load_tracking) --ctx_->server_load;
  generating_ = false;
}

void session::abort_generations() {
  if (abort_sent_) return;
  abort_sent_ = true;
  for (uint64_t id : engine_ids_)
    ctx_->engine.abort(id);
  for (const auto& search : beam_searches_)
    search->abort();
}

void session::close() {
  if (closed_) return;
  closed_ = true;
  if (generating_) abort_generations();
  end_generation();
  if (busy_ && !lingering_) {
    status_ = 499;  // nginx's "client closed request"
    log_request();
  }
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  timer_.cancel();
  keep_self_.reset();
}

// -- shared with the listener ----------------------------------------------------------------

void start_session(tcp::socket socket, const std::shared_ptr<server_context>& ctx) {
  auto s = std::make_shared<session>(std::move(socket), ctx);
  {
    std::lock_guard lock(ctx->sessions_mu);
    if (ctx->stopping) return;
    std::erase_if(ctx->sessions, [](const std::weak_ptr<session>& w) { return w.expired(); });
    ctx->sessions.push_back(s);
  }
  s->start();
}

uint64_t server_context::next_default_seed() {
  if (!options.seed) return make_random_seed();
  // splitmix64 of (seed, request number): distinct, well-mixed seeds from one flag.
  uint64_t z = *options.seed + (num_default_seeds.fetch_add(1) + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void close_all_sessions(server_context& ctx) {
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lock(ctx.sessions_mu);
    ctx.stopping = true;
    for (const auto& w : ctx.sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    ctx.sessions.clear();
  }
  for (auto& s : live)
    net::post(s->executor(), [s] { s->close(); });
  std::vector<std::shared_ptr<background_response>> running;
  {
    std::lock_guard lock(ctx.background_mu);
    for (auto& [id, job] : ctx.background)
      running.push_back(job);
  }
  for (auto& job : running)
    job->cancel();  // off the lock: its end takes the lock to leave the table
}

}  // namespace troupe::http
