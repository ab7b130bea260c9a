#pragma once
// HTTP/1.1 response bytes: status line and headers, chunked transfer framing, and server-sent
// events. Plain strings, so the framing is unit-tested without sockets.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::http {

inline constexpr std::string_view json_content_type = "application/json";
inline constexpr std::string_view sse_content_type = "text/event-stream; charset=utf-8";

struct response_head {
  int status = 200;
  std::string_view content_type = json_content_type;
  // Set for a body of known size; unset with `chunked` for a stream, or unset without it for a
  // body that ends when the connection closes (HTTP/1.0 clients).
  std::optional<std::size_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  std::string_view request_id;  // an X-Request-Id header when not empty
};

// "HTTP/1.1 <status> <reason>\r\n" + headers + "\r\n".
std::string format_head(const response_head& head);

// A complete response with a body of known length.
std::string format_response(int status, std::string_view content_type, std::string_view body,
                            bool keep_alive, std::string_view request_id = {});

// One chunk of a chunked body ("<hex size>\r\n<data>\r\n"); requires non-empty data, since an
// empty chunk ends the body.
std::string format_chunk(std::string_view data);
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

// One server-sent event: "data: <payload>\n\n".
std::string sse_event(std::string_view payload);
inline constexpr std::string_view sse_done = "data: [DONE]\n\n";

}  // namespace troupe::http
