#include "http/server.hpp"

#include <condition_variable>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "http/session.hpp"

namespace troupe::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

class server::impl {
 public:
  impl(actors::engine& engine, server_options options)
      : ctx_(std::make_shared<server_context>(engine, std::move(options))),
        acceptor_(net::make_strand(ioc_)),
        retry_timer_(acceptor_.get_executor()),
        tls_refresh_timer_(acceptor_.get_executor()),
        work_(net::make_work_guard(ioc_)) {
    const auto& setup = ctx_->options.chat_template;
    if (ctx_->anthropic.merge_inline_system && setup != nullptr && setup->tpl) {
      spdlog::warn(
          "The chat template requires system-first ordering, so inline system messages in "
          "/v1/messages requests (e.g. Claude Code's per-turn reminders) are merged into the "
          "leading system prompt. Each new one changes the prompt prefix, so the rest of the "
          "conversation misses the prefix cache. Pass a --chat-template that accepts non-leading "
          "system messages to avoid this.");
    }
  }

  ~impl() {
    stop();
    wait();
    std::lock_guard lock(ctx_->gate->mu);
    ctx_->gate->open = false;
  }

  status listen();
  void run();
  uint16_t port() const { return port_; }
  void stop();
  void wait();

 private:
  void accept();
  void watch_tls_files();

  net::io_context ioc_;  // declared first: destroyed after every I/O object below
  std::shared_ptr<server_context> ctx_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  net::steady_timer tls_refresh_timer_;  // --enable-ssl-refresh's look at the files
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  uint16_t port_ = 0;

  std::mutex mu_;
  std::condition_variable joined_cv_;
  std::vector<std::thread> threads_;  // guarded by mu_
  bool stopped_ = false;              // guarded by mu_
  bool joining_ = false;              // guarded by mu_
  bool joined_ = false;               // guarded by mu_
};

status server::impl::listen() {
  const server_options& options = ctx_->options;
  std::string host = options.host.empty() ? "0.0.0.0" : options.host;
  std::string where = fmt::format("{}:{}", host, options.port);
  error_code ec;
  tcp::resolver resolver(ioc_);
  auto endpoints = resolver.resolve(host, std::to_string(options.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return error{fmt::format("cannot resolve {}: {}", where, ec.message())};
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return error{fmt::format("cannot listen on {}: {}", where, ec.message())};
  port_ = acceptor_.local_endpoint(ec).port();
  return ok_status();
}

void server::impl::run() {
  accept();
  if (ctx_->options.tls && ctx_->options.tls->options().refresh) {
    net::post(acceptor_.get_executor(), [this] { watch_tls_files(); });
  }
  int32_t num_threads = std::max(1, ctx_->options.num_io_threads);
  std::lock_guard lock(mu_);
  for (int32_t i = 0; i < num_threads; ++i)
    threads_.emplace_back([this] { ioc_.run(); });
}

void server::impl::accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      // Streamed chunks are small writes: without TCP_NODELAY each one waits for the client's
      // delayed ACK of the previous (about 40 ms per chunk on a reused connection).
      error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      start_session(std::move(socket), ctx_);
      return accept();
    }
    // Out of file descriptors and the like: back off instead of spinning.
    spdlog::warn("http: accept failed: {}", ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([this](error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) accept();
    });
  });
}

// A look a second: a renewed certificate serves the connections accepted after it was written.
void server::impl::watch_tls_files() {
  if (!acceptor_.is_open()) return;  // stopped
  tls_refresh_timer_.expires_after(std::chrono::seconds(1));
  tls_refresh_timer_.async_wait([this](error_code ec) {
    if (ec || !acceptor_.is_open()) return;
    ctx_->options.tls->refresh();
    watch_tls_files();
  });
}

void server::impl::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  net::post(acceptor_.get_executor(), [this] {
    error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
    tls_refresh_timer_.cancel();
  });
  close_all_sessions(*ctx_);
  work_.reset();  // run() returns once the closed connections have wound down
}

void server::impl::wait() {
  std::unique_lock lock(mu_);
  if (joining_) {
    joined_cv_.wait(lock, [this] { return joined_; });
    return;
  }
  joining_ = true;
  std::vector<std::thread> threads = std::move(threads_);
  lock.unlock();
  for (auto& t : threads)
    t.join();
  lock.lock();
  joined_ = true;
  joined_cv_.notify_all();
}

server::server(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}
server::~server() = default;
uint16_t server::port() const {
  return impl_->port();
}
void server::stop() {
  impl_->stop();
}
void server::wait() {
  impl_->wait();
}

result<std::unique_ptr<server>> start_server(actors::engine& engine, server_options options) {
  auto impl = std::make_unique<server::impl>(engine, options);
  if (status listening = impl->listen(); !listening) return listening.err();
  impl->run();
  spdlog::info("http: serving the OpenAI API on {}://{}:{}", options.tls ? "https" : "http",
               options.host, impl->port());
  return std::make_unique<server>(std::move(impl));
}

}  // namespace troupe::http
