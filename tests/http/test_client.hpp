#pragma once
// A blocking HTTP/1.1 client for the server tests (Beast, one connection per object), plus
// helpers to parse JSON bodies and server-sent event streams.
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace troupe::http::testing {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

struct reply {
  int status = 0;
  std::string body;
  std::string content_type;
  bool chunked = false;
  bool keep_alive = false;
  std::string request_id;                                    // the X-Request-Id header, if any
  std::vector<std::pair<std::string, std::string>> headers;  // every header, in order

  // The first header named `name` (any case); "" when there is none.
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (boost::beast::iequals(n, name)) return v;
    return {};
  }
  bool has_header(std::string_view name) const {
    for (const auto& h : headers)
      if (boost::beast::iequals(h.first, name)) return true;
    return false;
  }
};

class test_client {
 public:
  explicit test_client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  using header_list = std::vector<std::pair<std::string, std::string>>;

  void send(bhttp::verb method, std::string target, std::string body = {}, unsigned version = 11,
            const header_list& headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, version};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    for (const auto& [name, value] : headers)
      req.set(name, value);  // a Content-Type given here wins
    req.body() = std::move(body);
    req.prepare_payload();
    bhttp::write(socket_, req);
  }

  reply receive() {
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket_, buffer_, res);
    reply r{static_cast<int>(res.result_int()),
            res.body(),
            std::string(res[bhttp::field::content_type]),
            res.chunked(),
            res.keep_alive(),
            std::string(res["X-Request-Id"]),
            {}};
    for (const auto& field : res)
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return r;
  }

  reply request(bhttp::verb method, std::string target, std::string body = {},
                const header_list& headers = {}) {
    send(method, std::move(target), std::move(body), 11, headers);
    return receive();
  }
  reply post(std::string body) { return request(bhttp::verb::post, "/v1/completions", body); }

  void send_raw(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }

  // Reads raw bytes until `marker` has been seen (or the connection ends); returns them all.
  std::string read_until(std::string_view marker) {
    std::string seen;
    char chunk[4096];
    boost::system::error_code ec;
    while (seen.find(marker) == std::string::npos) {
      size_t n = socket_.read_some(net::buffer(chunk), ec);
      if (ec) break;
      seen.append(chunk, n);
    }
    return seen;
  }

  // True when the server has closed the connection (reads hit end of file).
  bool closed_by_peer() {
    char byte;
    boost::system::error_code ec;
    while (!ec)
      socket_.read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

  void close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

inline rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << "not JSON: " << text;
  return doc;
}

// The payloads of a text/event-stream body ("data: <payload>\n\n" each).
inline std::vector<std::string> sse_payloads(std::string_view body) {
  std::vector<std::string> payloads;
  while (!body.empty()) {
    size_t end = body.find("\n\n");
    EXPECT_NE(end, std::string_view::npos) << "unterminated event: " << body;
    if (end == std::string_view::npos) break;
    std::string_view event = body.substr(0, end);
    EXPECT_EQ(event.substr(0, 6), "data: ") << event;
    payloads.emplace_back(event.substr(6));
    body.remove_prefix(end + 2);
  }
  return payloads;
}

// Checks an OpenAI-style error body and returns its message.
inline std::string expect_error_body(const reply& r, int status, std::string_view type) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.content_type.find("application/json"), std::string::npos);
  rapidjson::Document doc = parse_json(r.body);
  if (!doc.IsObject() || !doc.HasMember("error") || !doc["error"].IsObject()) {
    ADD_FAILURE() << "not an error body: " << r.body;
    return {};
  }
  const auto& error = doc["error"];
  EXPECT_TRUE(error["message"].IsString());
  EXPECT_EQ(std::string_view(error["type"].GetString()), type);
  EXPECT_TRUE(error.HasMember("param"));
  EXPECT_EQ(error["code"].GetInt(), status);
  return error["message"].IsString() ? error["message"].GetString() : "";
}

}  // namespace troupe::http::testing
