// HTTPS (http/tls.hpp): the server over TLS with certificates made here by the openssl command
// (the tests skip without it): requests and streams, plain HTTP refused, client certificates,
// cipher lists, ALPN, the TLS close of a `Connection: close` answer, bad setups, and certificate
// files rewritten while the server runs.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "http/tls.hpp"
#include "tests/http/fake_engine_server.hpp"
#include "tests/http/test_certificates.hpp"
#include "tests/http/test_client.hpp"

namespace troupe::http::testing {
namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;
using bhttp::verb;
using error_code = boost::system::error_code;

// A blocking HTTPS client that trusts `ca` (one connection per object).
class tls_client {
 public:
  struct setup {
    std::string ca;
    std::string cert, key;  // a client certificate, if any
    bool tls12_only = false;
    std::string alpn;  // wire format, e.g. "\x02h2\x08http/1.1"
  };

  tls_client(uint16_t port, const setup& s) : context_(ssl::context::tls_client) {
    context_.load_verify_file(s.ca);
    context_.set_verify_mode(ssl::verify_peer);
    if (!s.cert.empty()) {
      context_.use_certificate_chain_file(s.cert);
      context_.use_private_key_file(s.key, ssl::context::pem);
    }
    if (s.tls12_only) SSL_CTX_set_max_proto_version(context_.native_handle(), TLS1_2_VERSION);
    if (!s.alpn.empty()) {
      SSL_CTX_set_alpn_protos(context_.native_handle(),
                              reinterpret_cast<const unsigned char*>(s.alpn.data()),
                              static_cast<unsigned>(s.alpn.size()));
    }
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream_.emplace(socket_, context_);
    stream_->set_verify_callback(ssl::host_name_verification("localhost"));
    stream_->handshake(ssl::stream_base::client, handshake_error_);
  }

  const error_code& handshake_error() const { return handshake_error_; }

  // The answer, or none when the exchange failed (`failure` says why).
  std::optional<reply> request(verb method, const std::string& target, std::string body = {},
                               bool close = false) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "localhost");
    if (close) req.set(bhttp::field::connection, "close");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    bhttp::write(*stream_, req, failure);
    if (failure) return std::nullopt;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(*stream_, buffer_, res, failure);
    if (failure) return std::nullopt;
    return reply{static_cast<int>(res.result_int()),
                 res.body(),
                 {},
                 res.chunked(),
                 res.keep_alive(),
                 {},
                 {}};
  }

  // How the server ended the connection: eof after its close_notify, stream_truncated without.
  error_code read_end() {
    char byte;
    error_code ec;
    while (!ec)
      stream_->read_some(net::buffer(&byte, 1), ec);
    return ec;
  }

  std::string peer_common_name() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (cert == nullptr) return {};
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    X509_free(cert);
    return name;
  }

  std::string cipher() { return SSL_get_cipher_name(stream_->native_handle()); }

  std::string alpn() {
    const unsigned char* data = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(stream_->native_handle(), &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
  }

  error_code failure;

 private:
  net::io_context ioc_;
  ssl::context context_;
  tcp::socket socket_{ioc_};
  std::optional<ssl::stream<tcp::socket&>> stream_;
  boost::beast::flat_buffer buffer_;
  error_code handshake_error_;
};

class tls_server : public fake_engine_server {
 protected:
  void SetUp() override {
    if (!test_certificates().ok) GTEST_SKIP() << "the openssl command is not available";
  }

  void start_tls(tls_options tls) {
    auto contexts = tls_contexts::create(std::move(tls));
    ASSERT_TRUE(contexts.ok()) << contexts.message();
    server_options options;
    options.tls = *contexts;
    start(options);
  }

  const certificates& certs() const { return test_certificates(); }
  tls_client::setup trusting_server() const { return {certs().cert, {}, {}, false, {}}; }
};

TEST_F(tls_server, serves_requests_and_streams_over_one_connection) {
  ASSERT_NO_FATAL_FAILURE(start_tls({certs().cert, certs().key, {}, 0, {}, false}));
  tls_client client(port(), trusting_server());
  ASSERT_FALSE(client.handshake_error()) << client.handshake_error().message();
  EXPECT_EQ(client.peer_common_name(), "localhost");
  auto models = client.request(verb::get, "/v1/models");
  ASSERT_TRUE(models) << client.failure.message();
  EXPECT_EQ(models->status, 200);
  EXPECT_NE(models->body.find("fake-model"), std::string::npos);
  EXPECT_TRUE(models->keep_alive);
  auto stream = client.request(verb::post, "/v1/completions",
                               R"({"prompt": "say:abcdefgh", "max_tokens": 5, "stream": true})");
  ASSERT_TRUE(stream) << client.failure.message();
  EXPECT_EQ(stream->status, 200);
  EXPECT_TRUE(stream->chunked);
  EXPECT_NE(stream->body.find(R"("text":"abcd")"), std::string::npos) << stream->body;
  EXPECT_NE(stream->body.find("data: [DONE]"), std::string::npos) << stream->body;
}

TEST_F(tls_server, plain_http_gets_no_answer_and_disturbs_nothing) {
  ASSERT_NO_FATAL_FAILURE(start_tls({certs().cert, certs().key, {}, 0, {}, false}));
  test_client plain(port());
  plain.send(verb::get, "/health");
  EXPECT_TRUE(plain.closed_by_peer());
  tls_client client(port(), trusting_server());
  auto health = client.request(verb::get, "/health");
  ASSERT_TRUE(health) << client.failure.message();
  EXPECT_EQ(health->status, 200);
}

TEST_F(tls_server, the_key_may_sit_in_the_certificate_file) {
  ASSERT_NO_FATAL_FAILURE(start_tls({certs().combined, {}, {}, 0, {}, false}));
  tls_client client(port(), trusting_server());
  auto health = client.request(verb::get, "/health");
  ASSERT_TRUE(health) << client.failure.message();
  EXPECT_EQ(health->status, 200);
}

TEST_F(tls_server, a_closing_answer_ends_with_the_tls_close) {
  ASSERT_NO_FATAL_FAILURE(start_tls({certs().cert, certs().key, {}, 0, {}, false}));
  tls_client client(port(), trusting_server());
  auto models = client.request(verb::get, "/v1/models", {}, /*close=*/true);
  ASSERT_TRUE(models) << client.failure.message();
  EXPECT_EQ(models->status, 200);
  EXPECT_FALSE(models->keep_alive);
  // close_notify reads as eof; a connection dropped without it as stream_truncated.
  EXPECT_EQ(client.read_end(), net::error::eof);
}

TEST_F(tls_server, client_certificates_are_required_under_cert_required) {
  ASSERT_NO_FATAL_FAILURE(
      start_tls({certs().cert, certs().key, certs().client_cert, 2, {}, false}));
  tls_client::setup with_cert = trusting_server();
  with_cert.cert = certs().client_cert;
  with_cert.key = certs().client_key;
  tls_client accepted(port(), with_cert);
  auto health = accepted.request(verb::get, "/health");
  ASSERT_TRUE(health) << accepted.failure.message();
  EXPECT_EQ(health->status, 200);

  // TLS 1.3 reports the refusal after the client's side of the handshake: at the first exchange.
  tls_client refused(port(), trusting_server());
  EXPECT_TRUE(refused.handshake_error() || !refused.request(verb::get, "/health"));
}

TEST_F(tls_server, an_optional_client_certificate_is_checked_when_sent) {
  ASSERT_NO_FATAL_FAILURE(
      start_tls({certs().cert, certs().key, certs().client_cert, 1, {}, false}));
  tls_client without(port(), trusting_server());
  auto health = without.request(verb::get, "/health");
  ASSERT_TRUE(health) << without.failure.message();
  EXPECT_EQ(health->status, 200);

  tls_client::setup untrusted = trusting_server();  // a certificate the CA list does not hold
  untrusted.cert = certs().renewed_cert;
  untrusted.key = certs().renewed_key;
  tls_client refused(port(), untrusted);
  EXPECT_TRUE(refused.handshake_error() || !refused.request(verb::get, "/health"));
}

TEST_F(tls_server, no_client_certificate_is_asked_for_by_default) {
  ASSERT_NO_FATAL_FAILURE(start_tls({certs().cert, certs().key, {}, 0, {}, false}));
  tls_client::setup untrusted = trusting_server();
  untrusted.cert = certs().renewed_cert;
  untrusted.key = certs().renewed_key;
  tls_client client(port(), untrusted);
  auto health = client.request(verb::get, "/health");
  ASSERT_TRUE(health) << client.failure.message();
  EXPECT_EQ(health->status, 200);
}

TEST_F(tls_server, ciphers_choose_tls12s_suite_and_alpn_picks_http11) {
  const std::string suite = "ECDHE-ECDSA-CHACHA20-POLY1305";
  ASSERT_NO_FATAL_FAILURE(start_tls({certs().cert, certs().key, {}, 0, suite, false}));
  tls_client::setup tls12 = trusting_server();
  tls12.tls12_only = true;
  tls12.alpn = std::string("\x02h2\x08http/1.1", 12);
  tls_client client(port(), tls12);
  ASSERT_FALSE(client.handshake_error()) << client.handshake_error().message();
  EXPECT_EQ(client.cipher(), suite);
  EXPECT_EQ(client.alpn(), "http/1.1");
  auto health = client.request(verb::get, "/health");
  ASSERT_TRUE(health) << client.failure.message();
  EXPECT_EQ(health->status, 200);
}

TEST(tls_contexts, bad_setups_are_refused_with_the_reason) {
  const certificates& c = test_certificates();
  if (!c.ok) GTEST_SKIP() << "the openssl command is not available";
  auto message = [](tls_options options) {
    auto made = tls_contexts::create(std::move(options));
    return made ? std::string("accepted") : made.message();
  };
  EXPECT_EQ(message({{}, c.key, {}, 0, {}, false}),
            "--ssl-keyfile needs --ssl-certfile (the certificate the key belongs to)");
  EXPECT_EQ(message({"/nonexistent/cert.pem", c.key, {}, 0, {}, false}),
            "--ssl-certfile /nonexistent/cert.pem: No such file or directory");
  EXPECT_EQ(message({c.cert, c.key, "/nonexistent/ca.pem", 0, {}, false}),
            "--ssl-ca-certs /nonexistent/ca.pem: No such file or directory");
  EXPECT_EQ(message({c.cert, c.key, {}, 3, {}, false}),
            "--ssl-cert-reqs 3: expected 0 (CERT_NONE), 1 (CERT_OPTIONAL) or 2 (CERT_REQUIRED)");
  EXPECT_NE(message({c.cert, c.renewed_key, {}, 0, {}, false}).find("does not belong"),
            std::string::npos);
  EXPECT_NE(message({c.cert, {}, {}, 0, {}, false}).find("holds no usable private key"),
            std::string::npos);
  EXPECT_NE(message({c.key, c.key, {}, 0, {}, false}).find("not a PEM certificate chain"),
            std::string::npos);
  EXPECT_NE(message({c.cert, c.key, {}, 0, "NO-SUCH-CIPHER", false}).find("--ssl-ciphers"),
            std::string::npos);
  EXPECT_EQ(message({c.cert, c.key, c.client_cert, 2, "ECDHE-ECDSA-AES128-GCM-SHA256", true}),
            "accepted");
}

TEST_F(tls_server, rewritten_certificate_files_serve_new_connections_under_refresh) {
  const fs::path dir = certs().dir / "refresh";
  fs::create_directories(dir);
  const fs::path cert = dir / "cert.pem", key = dir / "key.pem";
  fs::copy_file(certs().cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(certs().key, key, fs::copy_options::overwrite_existing);
  auto contexts = tls_contexts::create({cert.string(), key.string(), {}, 0, {}, true});
  ASSERT_TRUE(contexts.ok()) << contexts.message();
  server_options options;
  options.tls = *contexts;
  start(options);

  tls_client kept(port(), trusting_server());
  EXPECT_EQ(kept.peer_common_name(), "localhost");
  // A file caught half-written is not taken: the old certificate stays.
  write_file(cert, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_FALSE((*contexts)->refresh());
  // The renewed pair: the server's look (once a second) picks it up.
  write_file(key, read_file(certs().renewed_key));
  write_file(cert, read_file(certs().renewed_cert));
  tls_client::setup trusting_renewed{certs().renewed_cert, {}, {}, false, {}};
  std::string seen;
  for (int i = 0; i < 50 && seen != "renewed"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    tls_client fresh(port(), trusting_renewed);
    if (!fresh.handshake_error()) seen = fresh.peer_common_name();
  }
  EXPECT_EQ(seen, "renewed");
  // A connection made before goes on with the certificate it started with.
  auto health = kept.request(verb::get, "/health");
  ASSERT_TRUE(health) << kept.failure.message();
  EXPECT_EQ(health->status, 200);
  EXPECT_FALSE((*contexts)->refresh());  // nothing changed since
}

}  // namespace
}  // namespace troupe::http::testing
