#pragma once
// Self-signed certificates for the HTTPS tests, made once per test binary by the openssl command
// (ok is false without it: the tests skip) and removed at exit: the server's (CN "localhost",
// and a renewed one, CN "renewed"), both for localhost and 127.0.0.1, and a client's.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace troupe::http::testing {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

struct certificates {
  certificates()
      : dir(fs::temp_directory_path() / ("troupe_tls_test_" + std::to_string(::getpid()))) {
    fs::create_directories(dir);
    ok = make("server", "localhost") && make("renewed", "renewed") && make("client", "client");
    if (ok) write_file(combined, read_file(cert) + read_file(key));
  }
  ~certificates() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }

  fs::path dir;
  bool ok = false;
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::string cert = path("server_cert.pem"), key = path("server_key.pem");
  std::string renewed_cert = path("renewed_cert.pem"), renewed_key = path("renewed_key.pem");
  std::string client_cert = path("client_cert.pem"), client_key = path("client_key.pem");
  std::string combined = path("combined.pem");  // the server's certificate, then its key

 private:
  bool make(const std::string& name, const std::string& cn) const {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=" +
        cn + " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        path(name + "_key.pem") + " -out " + path(name + "_cert.pem") + " >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }
};

inline const certificates& test_certificates() {
  static const certificates made;
  return made;
}

}  // namespace troupe::http::testing
