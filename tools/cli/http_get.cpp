#include "tools/cli/http_get.hpp"

#include <optional>

#include <openssl/ssl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace troupe::cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

result<http_url> parse_http_url(std::string_view url) {
  http_url out;
  out.tls = url.starts_with("https://");
  if (!out.tls && !url.starts_with("http://")) {
    return error{"expected a URL like http://127.0.0.1:8000, got '" + std::string(url) + "'"};
  }
  std::string_view rest = url.substr(out.tls ? 8 : 7);
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.prefix = std::string(rest.substr(slash));
  while (!out.prefix.empty() && out.prefix.back() == '/')
    out.prefix.pop_back();
  const size_t colon = authority.rfind(':');
  out.host = std::string(authority.substr(0, colon));
  out.port = out.tls ? "443" : "80";
  if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  if (out.host.empty() || out.port.empty())
    return error{"cannot parse the URL " + std::string(url)};
  return out;
}

// The exchange is asynchronous only so that the stream's deadline covers connect, handshake,
// write and read; the caller blocks in io_context::run().
result<http_reply> http_get(const http_url& url, std::string_view path,
                            std::chrono::milliseconds timeout, std::string_view api_key) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  std::optional<ssl::context> tls_context;
  std::optional<ssl::stream<beast::tcp_stream&>> tls;
  if (url.tls) {
    tls_context.emplace(ssl::context::tls_client);
    beast::error_code ignored;
    tls_context->set_default_verify_paths(ignored);
    tls_context->set_verify_mode(ssl::verify_peer);
    tls.emplace(stream, *tls_context);
    SSL_set_tlsext_host_name(tls->native_handle(), url.host.c_str());
    tls->set_verify_callback(ssl::host_name_verification(url.host));
  }
  // Calls `f` with what the request goes over: the TLS stream for https, else the TCP one.
  auto over = [&](auto&& f) {
    if (tls) return f(*tls);
    f(stream);
  };
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, url.prefix + std::string(path), 11};
  request.set(bhttp::field::host, url.host + ":" + url.port);
  request.set(bhttp::field::user_agent, "troupe-top");
  if (!api_key.empty()) request.set(bhttp::field::authorization, "Bearer " + std::string(api_key));
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  beast::error_code failure;
  std::string stage = "resolve";

  auto read_done = [&](beast::error_code ec, std::size_t) { failure = ec; };
  auto write_done = [&](beast::error_code ec, std::size_t) {
    if (ec) return void(failure = ec);
    stage = "read";
    over([&](auto& s) { bhttp::async_read(s, buffer, parser, read_done); });
  };
  auto send = [&] {
    stage = "send";
    over([&](auto& s) { bhttp::async_write(s, request, write_done); });
  };
  auto connected = [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec) return void(failure = ec);
    if (!tls) return send();
    stage = "TLS handshake";
    tls->async_handshake(ssl::stream_base::client, [&](beast::error_code handshake_ec) {
      if (handshake_ec) return void(failure = handshake_ec);
      send();
    });
  };
  resolver.async_resolve(url.host, url.port,
                         [&](beast::error_code ec, tcp::resolver::results_type results) {
                           if (ec) return void(failure = ec);
                           stage = "connect";
                           stream.expires_after(timeout);
                           stream.async_connect(results, connected);
                         });
  ioc.run();
  if (failure) {
    return error{"GET " + std::string(url.tls ? "https" : "http") + "://" + url.host + ":" +
                 url.port + url.prefix + std::string(path) + ": " + stage +
                 " failed: " + failure.message()};
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return http_reply{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace troupe::cli
