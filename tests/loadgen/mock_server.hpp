#pragma once
// A raw-socket HTTP server for loadgen tests: streams max_tokens SSE chunks at programmed times
// (TTFT, then one token every ITL) and counts the requests in flight and served. One thread per
// connection, one request per connection (it closes after answering).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace troupe::loadgen::test_support {

using clock_type = std::chrono::steady_clock;

class mock_server {
 public:
  mock_server(double ttft_s, double itl_s) : ttft_(ttft_s), itl_(itl_s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 1024);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~mock_server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    while (num_workers_ > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int port() const { return port_; }
  int max_in_flight() const { return max_in_flight_; }
  int num_served() const { return num_served_; }

 private:
  void accept_loop() {
    while (!stop_) {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      ++num_workers_;  // detached: a long run would otherwise keep every finished thread
      std::thread([this, conn] {
        serve(conn);
        --num_workers_;
      }).detach();
    }
  }

  static int max_tokens_of(const std::string& request) {
    const auto at = request.find("\"max_tokens\":");
    return at == std::string::npos ? 1 : std::stoi(request.substr(at + 13));
  }

  static void send_all(int conn, const std::string& s) {
    size_t sent = 0;
    while (sent < s.size()) {
      const ssize_t n = ::send(conn, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  static std::string chunk(const std::string& payload) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    return std::string(size) + payload + "\r\n";
  }

  std::string read_request(int conn) {
    std::string request;
    char buf[4096];
    while (true) {
      const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return request;
      request.append(buf, static_cast<size_t>(n));
      const auto end = request.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const auto cl = request.find("Content-Length: ");
      const size_t body = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
      if (request.size() >= end + 4 + body) return request;
    }
  }

  void serve(int conn) {
    const std::string request = read_request(conn);
    const auto received = clock_type::now();
    const int now_in_flight = ++in_flight_;
    int seen = max_in_flight_;
    while (now_in_flight > seen && !max_in_flight_.compare_exchange_weak(seen, now_in_flight)) {
    }
    send_all(conn,
             "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
             "Transfer-Encoding: chunked\r\n\r\n");
    const int n = max_tokens_of(request);
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_until(received +
                                    std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(ttft_ + i * itl_)));
      send_all(conn, chunk("data: {\"choices\":[{\"text\":\"t\"}]}\n\n"));
    }
    send_all(conn, chunk("data: {\"choices\":[],\"usage\":{\"completion_tokens\":" +
                         std::to_string(n) + "}}\n\n"));
    --in_flight_;  // before the last bytes: the client may start the next request right away
    ++num_served_;
    send_all(conn, chunk("data: [DONE]\n\n") + "0\r\n\r\n");
    ::close(conn);
  }

  double ttft_, itl_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> in_flight_{0}, max_in_flight_{0}, num_served_{0};
  std::atomic<int> num_workers_{0};
  std::thread acceptor_;
};

}  // namespace troupe::loadgen::test_support
