#pragma once
// A small blocking HTTP/1.1 GET (Boost.Beast), for `troupe top`: one connection per call, one
// deadline for the whole exchange. https:// checks the server's certificate against OpenSSL's
// default CA paths (SSL_CERT_FILE / SSL_CERT_DIR when set) and its name against the host.
#include <chrono>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace troupe::cli {

struct http_url {
  bool tls = false;  // https://
  std::string host;
  std::string port = "80";  // 443 for https:// without one
  std::string prefix;       // a path the endpoints go under ("" or "/x", no trailing slash)
};

// "http[s]://host[:port][/prefix]"; errors for anything else.
result<http_url> parse_http_url(std::string_view url);

struct http_reply {
  int status = 0;
  std::string body;
};

// GETs url.prefix + path, with `Authorization: Bearer <api_key>` when api_key is not empty.
// Errors: resolution, connection, timeout, a malformed answer (an HTTP error status is a reply,
// not an error). Thread: any; nothing is shared between calls.
result<http_reply> http_get(const http_url& url, std::string_view path,
                            std::chrono::milliseconds timeout, std::string_view api_key = {});

}  // namespace troupe::cli
