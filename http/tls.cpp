#include "http/tls.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ssl/context.hpp>

namespace troupe::http {
namespace {

namespace ssl = boost::asio::ssl;

constexpr unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// The client's ALPN list names http/1.1: that is the protocol; else none is agreed (the client
// then speaks HTTP/1.1 or gives up, as it would with a server that has no ALPN).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, alpn_http11, sizeof alpn_http11, in, in_len) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// OpenSSL's reason for a failed call: asio's error code carries OpenSSL's (asio has taken it
// off OpenSSL's error queue); for a direct call, the queue's last.
std::string openssl_reason(const boost::system::error_code& ec) {
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  return reason != nullptr ? reason : ec.message();
}
std::string openssl_reason(std::string fallback) {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : fallback;
}

// A file the flag names must be there to read: Python's ssl module says FileNotFoundError where
// OpenSSL would say "system lib".
status check_readable(std::string_view flag, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return error{fmt::format("{} {}: {}", flag, path, std::strerror(errno))};
  }
  return ok_status();
}

result<std::shared_ptr<ssl::context>> make_context(const tls_options& options) {
  if (options.certfile.empty()) {
    return error{"--ssl-keyfile needs --ssl-certfile (the certificate the key belongs to)"};
  }
  if (options.cert_reqs < 0 || options.cert_reqs > 2) {
    return error{fmt::format(
        "--ssl-cert-reqs {}: expected 0 (CERT_NONE), 1 (CERT_OPTIONAL) or 2 (CERT_REQUIRED)",
        options.cert_reqs)};
  }
  for (auto [flag, path] : {std::pair{"--ssl-certfile", &options.certfile},
                            std::pair{"--ssl-keyfile", &options.keyfile},
                            std::pair{"--ssl-ca-certs", &options.ca_certs}}) {
    if (path->empty()) continue;
    if (status readable = check_readable(flag, *path); !readable) return readable.err();
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  // An encrypted key is refused instead of OpenSSL asking for its passphrase on the terminal.
  context->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  ERR_clear_error();
  boost::system::error_code ec;
  context->use_certificate_chain_file(options.certfile, ec);
  if (ec) {
    return error{fmt::format("--ssl-certfile {}: not a PEM certificate chain ({})",
                             options.certfile, openssl_reason(ec))};
  }
  const std::string& keyfile = options.keyfile.empty() ? options.certfile : options.keyfile;
  context->use_private_key_file(keyfile, ssl::context::pem, ec);
  if (ec) {
    if (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
      return error{fmt::format("the private key in {} does not belong to the certificate of {}",
                               keyfile, options.certfile)};
    }
    if (options.keyfile.empty()) {
      return error{fmt::format(
          "--ssl-certfile {} holds no usable private key (give the key with --ssl-keyfile): {}",
          options.certfile, openssl_reason(ec))};
    }
    return error{fmt::format("--ssl-keyfile {}: not a usable PEM private key ({})", keyfile,
                             openssl_reason(ec))};
  }
  if (!options.ca_certs.empty()) {
    context->load_verify_file(options.ca_certs, ec);
    if (ec) {
      return error{fmt::format("--ssl-ca-certs {}: not PEM certificates ({})", options.ca_certs,
                               openssl_reason(ec))};
    }
  }
  if (options.cert_reqs == 1) context->set_verify_mode(ssl::verify_peer);
  if (options.cert_reqs == 2) {
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  // Resumed sessions of a server that checks client certificates need an id context.
  static constexpr unsigned char session_context[] = "troupe";
  SSL_CTX_set_session_id_context(native, session_context, sizeof session_context - 1);
  if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(native, options.ciphers.c_str()) != 1) {
    return error{fmt::format("--ssl-ciphers '{}': {}", options.ciphers,
                             openssl_reason("no cipher can be selected"))};
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  return context;
}

}  // namespace

result<std::shared_ptr<tls_contexts>> tls_contexts::create(tls_options options) {
  std::shared_ptr<tls_contexts> contexts(new tls_contexts(std::move(options)));
  std::vector<file_stamp> stamps = contexts->stamps();
  auto made = make_context(contexts->options_);
  if (!made) return made.err();
  contexts->current_ = std::move(*made);
  contexts->stamps_ = std::move(stamps);
  return contexts;
}

std::shared_ptr<ssl::context> tls_contexts::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::vector<tls_contexts::file_stamp> tls_contexts::stamps() const {
  std::vector<file_stamp> out;
  for (const std::string* path : {&options_.certfile, &options_.keyfile, &options_.ca_certs}) {
    file_stamp stamp;
    struct stat st {};
    if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
      stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
      stamp.size = st.st_size;
      stamp.inode = st.st_ino;
    }
    out.push_back(stamp);
  }
  return out;
}

bool tls_contexts::refresh() {
  std::vector<file_stamp> now = stamps();
  {
    std::lock_guard lock(mu_);
    if (now == stamps_) return false;
  }
  auto made = make_context(options_);
  std::lock_guard lock(mu_);
  if (!made) {
    if (now != failed_) {
      spdlog::warn(
          "TLS: the certificate files changed but cannot be loaded ({}); connections "
          "keep the previous ones",
          made.message());
    }
    failed_ = std::move(now);
    return false;
  }
  current_ = std::move(*made);
  stamps_ = std::move(now);
  failed_.clear();
  spdlog::info("TLS: reloaded the certificate files {}; new connections use them",
               options_.certfile);
  return true;
}

}  // namespace troupe::http
