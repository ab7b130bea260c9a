#pragma once
// `bin/troupe serve` as a user starts it: a process of the built binary on a free port, its log
// in build/test_output, stopped with SIGTERM at the end of the test.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/http/test_client.hpp"

namespace troupe::testing {

// The seed's vLLM serve command line (docs/usage.md), unchanged but for the model path; the
// caller adds --port.
inline std::string seed_serve_args(const std::string& model) {
  return "--model " + model +
         " --served_model_name smol --max-model-len 4096 --gpu-memory-utilization 0.9"
         " --enable-chunked-prefill --max-num-batched-tokens 512 --max-num-seqs 16"
         " --enable-prefix-caching --kv-cache-dtype auto --dtype auto --tensor-parallel-size 2"
         " --disable-log-requests";
}

class serve_process {
 public:
  // Starts `bin/troupe serve <args> --port 0`, logging to test_output/<log_name>, and waits for
  // its "serving" line. port() is 0 when it did not come (the log says why; log() holds it).
  serve_process(const std::string& args, const std::string& log_name) {
    using namespace std::chrono_literals;
    const std::string binary = std::string(TROUPE_BINARY_DIR) + "/bin/troupe";
    if (!std::filesystem::exists(binary)) return;
    const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test_output";
    std::filesystem::create_directories(dir);
    const auto log = dir / log_name;
    const std::string command =
        binary + " serve " + args + " --port 0 > " + log.string() + " 2>&1 & echo $!";
    FILE* shell = ::popen(command.c_str(), "r");
    if (shell == nullptr) return;
    if (std::fscanf(shell, "%d", &pid_) != 1) pid_ = 0;
    ::pclose(shell);
    // "serving 'NAME' (max_model_len N) on http://127.0.0.1:PORT"
    for (int i = 0; i < 600 && pid_ != 0 && port_ == 0; ++i) {
      std::this_thread::sleep_for(100ms);
      std::ifstream in(log);
      std::stringstream s;
      s << in.rdbuf();
      log_ = s.str();
      const auto at = log_.find("serving '");
      const auto colon = at == std::string::npos ? at : log_.find("127.0.0.1:", at);
      // The whole line: the log may be read while the port is half written.
      if (colon != std::string::npos && log_.find('\n', colon) != std::string::npos)
        port_ = static_cast<uint16_t>(std::stoi(log_.substr(colon + 10)));
    }
  }
  ~serve_process() {
    if (pid_ != 0 && port_ == 0) ::kill(pid_, SIGKILL);
  }
  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  static bool binary_built() {
    return std::filesystem::exists(std::string(TROUPE_BINARY_DIR) + "/bin/troupe");
  }

  uint16_t port() const { return port_; }
  const std::string& log() const { return log_; }

  // SIGTERM, then waits for the process to be gone; whether it went.
  bool stop() {
    using namespace std::chrono_literals;
    if (pid_ == 0) return true;
    ::kill(pid_, SIGTERM);  // not our child (the shell's): wait for it to be gone
    for (int i = 0; i < 100 && ::kill(pid_, 0) == 0; ++i)
      std::this_thread::sleep_for(100ms);
    const bool gone = ::kill(pid_, 0) != 0;
    pid_ = 0;
    return gone;
  }

 private:
  int pid_ = 0;
  uint16_t port_ = 0;
  std::string log_;
};

// The seed's line plus `extra` as a user starts it: asks it one greedy completion (expects a
// 200), stops it with SIGTERM (expects it gone) and returns its log for the caller's checks.
// requires: serve_process::binary_built() and the model fetched (the caller skips otherwise).
inline std::string serve_seed_line_once(const std::string& model, const std::string& extra,
                                        const std::string& log_name) {
  serve_process serve(seed_serve_args(model) + extra, log_name);
  EXPECT_NE(serve.port(), 0) << serve.log();
  if (serve.port() == 0) return serve.log();
  http::testing::test_client client(serve.port());
  auto reply = client.post(R"({"model": "smol", "prompt": "The capital of France is",)"
                           R"( "max_tokens": 8, "temperature": 0})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(serve.stop()) << "troupe serve did not stop on SIGTERM";
  return serve.log();
}

}  // namespace troupe::testing
