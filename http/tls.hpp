#pragma once
// HTTPS, as vLLM serves it through uvicorn: --ssl-certfile (with the private key in
// --ssl-keyfile, or in the certificate file itself), --ssl-ca-certs and --ssl-cert-reqs for client
// certificates, --ssl-ciphers, and --enable-ssl-refresh, which picks up certificate files
// rewritten while the server runs (a renewed certificate) for the connections accepted after.
//
// As Python's ssl.PROTOCOL_TLS_SERVER context: TLS 1.2 or later, the key checked against the
// certificate, no client certificate asked for under CERT_NONE (0), one checked when the client
// sends it under CERT_OPTIONAL (1), the handshake refused without one under CERT_REQUIRED (2).
// ALPN picks http/1.1, the one protocol served.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace boost::asio::ssl {
class context;
}

namespace troupe::http {

struct tls_options {
  std::string certfile;   // PEM certificate chain; empty = plain HTTP
  std::string keyfile;    // PEM private key; empty = in certfile
  std::string ca_certs;   // PEM certificates that client certificates are checked against
  int32_t cert_reqs = 0;  // Python's ssl.CERT_NONE (0), CERT_OPTIONAL (1) or CERT_REQUIRED (2)
  std::string ciphers;    // an OpenSSL cipher list for TLS 1.2; empty = OpenSSL's default
  bool refresh = false;   // --enable-ssl-refresh

  bool enabled() const { return !certfile.empty() || !keyfile.empty(); }
};

// The server's TLS context, made from tls_options and remade when its files change.
class tls_contexts {
 public:
  // A clear error for what Python's ssl module would refuse: a key without a certificate, a file
  // that cannot be read, a key that does not match the certificate, an unknown cert_reqs, a
  // cipher list that selects nothing.
  static result<std::shared_ptr<tls_contexts>> create(tls_options options);

  // The context new connections handshake with. Thread-safe; a connection keeps the context it
  // started with.
  std::shared_ptr<boost::asio::ssl::context> current() const;

  // Looks at the files again (modification time, size, inode): when one changed, the context is
  // made anew from them for the connections accepted from now on. One that cannot be made (a file
  // caught half-written) leaves the old in place, with a warning, and is retried at the next
  // look. True when the context was replaced. Thread-safe.
  bool refresh();

  const tls_options& options() const { return options_; }

 private:
  struct file_stamp {
    int64_t mtime_ns = -1, size = -1;
    uint64_t inode = 0;
    bool operator==(const file_stamp&) const = default;
  };
  explicit tls_contexts(tls_options options) : options_(std::move(options)) {}
  std::vector<file_stamp> stamps() const;

  const tls_options options_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
  std::vector<file_stamp> stamps_;                      // guarded by mu_; what current_ was made of
  std::vector<file_stamp> failed_;  // guarded by mu_; what a remake last failed on (warned once)
};

}  // namespace troupe::http
