#pragma once
// A raw-socket HTTP server for loadgen tests: streams max_tokens SSE chunks at programmed times
// (TTFT, then one token every ITL) and counts the requests in flight and served. One thread per
// connection, one request per connection (it closes after answering).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace troupe::loadgen::test_support {

using clock_type = std::chrono::steady_clock;

class mock_server {
 public:
  // `keep_alive`: answer further requests on a connection (else "Connection: close").
  // `close_anyway`: say keep-alive but close after each answer (a server's idle timeout).
  mock_server(double ttft_s, double itl_s, bool keep_alive = false, bool close_anyway = false)
      : ttft_(ttft_s), itl_(itl_s), keep_alive_(keep_alive), close_anyway_(close_anyway) {
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
  int num_connections() const { return num_connections_; }
  int num_tokenizer_calls() const { return num_tokenizer_calls_; }

  // When the first and last content chunks of the request whose prompt is "req<N>" left the
  // server: the truth a client's TTFT and E2EL are measured against (the programmed times
  // count from the request's arrival, after the client's connect and this server's wake-ups).
  struct sent_times {
    clock_type::time_point first, last;
  };
  std::map<int, sent_times> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  // The completion requests' bodies, in arrival order.
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      ++num_workers_;
      ++num_connections_;  // detached: a long run would otherwise keep every finished thread
      std::thread([this, conn] {
        serve(conn);
        --num_workers_;
      }).detach();
    }
  }

  static int request_index(const std::string& request) {
    const auto at = request.find("\"prompt\":\"req");
    return at == std::string::npos ? -1 : std::atoi(request.c_str() + at + 13);
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

  // vLLM's /tokenize and /detokenize over a word vocabulary: token id N is the word "wN"
  // (N < kVocab); any other word is id 0. An id outside the vocabulary is a 400.
  static constexpr int kVocab = 1000;

  static std::string json_response(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Bad Request") +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  }

  static std::string tokenizer_answer(const std::string& request, bool tokenize) {
    rapidjson::Document doc;
    doc.Parse(request.c_str() + request.find("\r\n\r\n") + 4);
    if (doc.HasParseError() || !doc.IsObject()) return json_response(400, "{}");
    std::string out;
    if (tokenize) {
      std::string ids, word;
      int count = 0;
      std::istringstream words(doc["prompt"].GetString());
      while (words >> word) {
        const bool known = word.size() > 1 && word[0] == 'w' && word.size() < 6 &&
                           word.find_first_not_of("0123456789", 1) == std::string::npos &&
                           std::stoi(word.substr(1)) < kVocab;
        if (count++ > 0) ids.push_back(',');
        ids.append(known ? word.substr(1) : std::string("0"));
      }
      return json_response(200, "{\"count\":" + std::to_string(count) +
                                    ",\"max_model_len\":4096,\"tokens\":[" + ids + "]}");
    }
    for (const auto& id : doc["tokens"].GetArray()) {
      if (!id.IsInt() || id.GetInt() < 0 || id.GetInt() >= kVocab) {
        return json_response(400, "{\"error\":{\"message\":\"out of vocabulary\"}}");
      }
      out += (out.empty() ? "w" : " w") + std::to_string(id.GetInt());
    }
    return json_response(200, "{\"prompt\":\"" + out + "\"}");
  }

  // One request per connection, or (keep-alive) requests until the client closes.
  void serve(int conn) {
    while (true) {
      const std::string request = read_request(conn);
      if (request.empty()) break;
      answer(conn, request);
      if (!keep_alive_ || close_anyway_ || request.rfind("POST /tokenize ", 0) == 0 ||
          request.rfind("POST /detokenize ", 0) == 0) {
        break;
      }
    }
    ::close(conn);
  }

  void answer(int conn, const std::string& request) {
    for (const bool tokenize : {true, false}) {
      if (request.rfind(tokenize ? "POST /tokenize " : "POST /detokenize ", 0) == 0) {
        ++num_tokenizer_calls_;
        send_all(conn, tokenizer_answer(request, tokenize));
        return;
      }
    }
    const auto received = clock_type::now();
    const int now_in_flight = ++in_flight_;
    int seen = max_in_flight_;
    while (now_in_flight > seen && !max_in_flight_.compare_exchange_weak(seen, now_in_flight)) {
    }
    send_all(conn, std::string("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n") +
                       (keep_alive_ ? "" : "Connection: close\r\n") +
                       "Transfer-Encoding: chunked\r\n\r\n");
    const int n = max_tokens_of(request);
    {
      std::lock_guard lock(mutex_);
      bodies_.push_back(request.substr(request.find("\r\n\r\n") + 4));
    }
    sent_times times;
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_until(received +
                                    std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(ttft_ + i * itl_)));
      send_all(conn, chunk("data: {\"choices\":[{\"text\":\"t\"}]}\n\n"));
      (i == 0 ? times.first : times.last) = clock_type::now();
    }
    if (n == 1) times.last = times.first;
    if (const int index = request_index(request); index >= 0) {
      std::lock_guard lock(mutex_);
      sent_[index] = times;
    }
    send_all(conn, chunk("data: {\"choices\":[],\"usage\":{\"completion_tokens\":" +
                         std::to_string(n) + "}}\n\n"));
    --in_flight_;  // before the last bytes: the client may start the next request right away
    ++num_served_;
    send_all(conn, chunk("data: [DONE]\n\n") + "0\r\n\r\n");
  }

  double ttft_, itl_;
  bool keep_alive_, close_anyway_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> in_flight_{0}, max_in_flight_{0}, num_served_{0};
  std::atomic<int> num_workers_{0};
  std::atomic<int> num_tokenizer_calls_{0};
  std::atomic<int> num_connections_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
  std::map<int, sent_times> sent_;
  std::thread acceptor_;
};

}  // namespace troupe::loadgen::test_support
