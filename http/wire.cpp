#include "http/wire.hpp"

#include <cassert>

#include <fmt/format.h>

#include "http/api_error.hpp"

namespace troupe::http {

std::string format_head(const response_head& head) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: troupe\r\nContent-Type: {}\r\n",
                                head.status, status_reason(head.status), head.content_type);
  if (!head.request_id.empty()) out += fmt::format("X-Request-Id: {}\r\n", head.request_id);
  if (head.content_length) {
    out += fmt::format("Content-Length: {}\r\n", *head.content_length);
  } else if (head.chunked) {
    // Proxies must not buffer a token stream.
    out += "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n";
  }
  out += head.keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return out;
}

std::string format_response(int status, std::string_view content_type, std::string_view body,
                            bool keep_alive, std::string_view request_id) {
  std::string out =
      format_head(response_head{status, content_type, body.size(), false, keep_alive, request_id});
  out += body;
  return out;
}

std::string format_chunk(std::string_view data) {
  assert(!data.empty());
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

std::string sse_event(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out += "data: ";
  out += payload;
  out += "\n\n";
  return out;
}

}  // namespace troupe::http
