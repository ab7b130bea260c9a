// https:// base URLs: the client streams from a local TLS mock server whose self-signed
// certificate (made here with the openssl command) it trusts through SSL_CERT_FILE, and refuses
// the same server without it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>

#include "loadgen/arrival_process.hpp"
#include "loadgen/bench_run.hpp"
#include "loadgen/metrics.hpp"
#include "loadgen/remote_tokenizer.hpp"

namespace troupe::loadgen {
namespace {

namespace fs = std::filesystem;

// Answers each connection's one request with `max_tokens` SSE chunks over TLS, then closes.
class tls_mock_server {
 public:
  tls_mock_server(const std::string& cert, const std::string& key) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    ok_ = SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) == 1 &&
          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) == 1;
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~tls_mock_server() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    while (num_workers_ > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  int num_served() const { return num_served_; }

 private:
  void accept_loop() {
    while (true) {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      ++num_workers_;
      std::thread([this, conn] {
        serve(conn);
        ::close(conn);
        --num_workers_;
      }).detach();
    }
  }

  static std::string chunk(const std::string& payload) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    return std::string(size) + payload + "\r\n";
  }

  // A vocabulary of 100 ids, all decoding to "x".
  static void answer_detokenize(SSL* ssl, const std::string& request) {
    const auto at = request.find("\"tokens\":[");
    const int id = at == std::string::npos ? -1 : std::atoi(request.c_str() + at + 10);
    const bool ok = id >= 0 && id < 100;
    const std::string body = ok ? "{\"prompt\":\"x\"}" : "{}";
    const std::string answer =
        std::string("HTTP/1.1 ") + (ok ? "200 OK" : "400 Bad Request") +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
  }

  void serve(int conn) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, conn);
    if (SSL_accept(ssl) == 1) {
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos ||
             request.find('}') == std::string::npos) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      if (request.rfind("POST /detokenize ", 0) == 0) {
        answer_detokenize(ssl, request);
        SSL_shutdown(ssl);
        SSL_free(ssl);
        return;
      }
      const auto at = request.find("\"max_tokens\":");
      const int tokens = at == std::string::npos ? 1 : std::atoi(request.c_str() + at + 13);
      std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
      for (int i = 0; i < tokens; ++i)
        answer += chunk("data: {\"choices\":[{\"text\":\"t\"}]}\n\n");
      answer +=
          chunk("data: {\"choices\":[],\"usage\":{\"completion_tokens\":" + std::to_string(tokens) +
                "}}\n\n");
      answer += chunk("data: [DONE]\n\n") + "0\r\n\r\n";
      if (SSL_write(ssl, answer.data(), static_cast<int>(answer.size())) > 0) ++num_served_;
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  SSL_CTX* ctx_ = nullptr;
  bool ok_ = false;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> num_workers_{0}, num_served_{0};
  std::thread acceptor_;
};

class https : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_https_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) GTEST_SKIP() << "the openssl command is not available";
  }
  void TearDown() override {
    ::unsetenv("SSL_CERT_FILE");
    fs::remove_all(dir_);
  }

  bench_plan plan(int port, int n) const {
    bench_plan p;
    auto endpoint = parse_base_url("https://localhost:" + std::to_string(port), "/v1/completions");
    EXPECT_TRUE(endpoint.ok()) << endpoint.message();
    if (endpoint) p.endpoint = *endpoint;
    p.body.model = "mock";
    for (int i = 0; i < n; ++i)
      p.requests.push_back({"w1 w2", 2, 4});
    p.schedule = arrival_schedule({100.0, 1.0, "", std::nullopt, std::nullopt, 1}, n);
    return p;
  }

  fs::path dir_;
  std::string cert_, key_;
};

TEST(parse_base_url, https_defaults_to_port_443) {
  auto e = parse_base_url("https://example.com/prefix/", "/v1/completions");
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->port, "443");
  EXPECT_EQ(e->target, "/prefix/v1/completions");
  auto plain = parse_base_url("http://example.com", "/v1/completions");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->port, "80");
  EXPECT_FALSE(parse_base_url("ftp://example.com", "/x").ok());
}

TEST_F(https, streams_from_a_tls_server_it_trusts) {
  tls_mock_server server(cert_, key_);
  ASSERT_TRUE(server.ok());
  ::setenv("SSL_CERT_FILE", cert_.c_str(), 1);
  auto out = run_benchmark(plan(server.port(), 5));
  ASSERT_TRUE(out.ok()) << out.message();
  const auto m = calculate_metrics(out->records, out->duration_s, {99.0}, {}, {});
  EXPECT_EQ(m.completed, 5) << out->records[0].error;
  EXPECT_EQ(m.total_output, 20);
  EXPECT_EQ(server.num_served(), 5);
}

TEST_F(https, the_servers_tokenizer_over_tls) {
  tls_mock_server server(cert_, key_);
  ASSERT_TRUE(server.ok());
  ::setenv("SSL_CERT_FILE", cert_.c_str(), 1);
  auto endpoint = parse_base_url("https://localhost:" + std::to_string(server.port()), "/x");
  ASSERT_TRUE(endpoint.ok());
  auto tok = remote_tokenizer::connect(*endpoint, "", "mock");
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ((*tok)->vocab_size(), 100);
  ::setenv("SSL_CERT_FILE", (dir_ / "missing.pem").c_str(), 1);
  auto untrusted = remote_tokenizer::connect(*endpoint, "", "mock");
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.message().find("TLS handshake"), std::string::npos) << untrusted.message();
}

TEST_F(https, refuses_an_untrusted_certificate) {
  tls_mock_server server(cert_, key_);
  ASSERT_TRUE(server.ok());
  ::setenv("SSL_CERT_FILE", (dir_ / "missing.pem").c_str(), 1);
  auto out = run_benchmark(plan(server.port(), 2));
  ASSERT_TRUE(out.ok()) << out.message();
  for (const auto& r : out->records) {
    EXPECT_FALSE(r.success);
    EXPECT_NE(r.error.find("TLS handshake"), std::string::npos) << r.error;
  }
  EXPECT_EQ(server.num_served(), 0);
}

}  // namespace
}  // namespace troupe::loadgen
