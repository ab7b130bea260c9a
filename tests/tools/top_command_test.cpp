// `troupe top` against a server on the fake engine whose registry holds actor metrics:
//  - piped (stdout not a terminal): plain lines per refresh, --iterations stops it;
//  - under a pseudo-terminal (util-linux `script`, running the built bin/troupe): the full-screen
//    actor table, `b` re-sorts, `q` quits and the terminal is restored (alternate screen left);
//    SIGTERM restores it too. Skips when `script` or the binary is missing.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "http/server.hpp"
#include "tests/http/fake_engine.hpp"
#include "tests/http/test_certificates.hpp"
#include "tools/cli/flags.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class top_command : public ::testing::Test {
 protected:
  void SetUp() override {
    telemetry::registry& r = engine_.mutable_metrics();
    for (const char* kind : {"batcher", "executor", "kv_allocator"}) {
      const telemetry::labels l = {{"kind", kind}};
      r.add_gauge("troupe_actors_running", "Actors of the kind alive.", l).set(1);
      r.add_gauge("troupe_actor_mailbox_depth", "Messages waiting.", l)
          .set(std::string(kind) == "executor" ? 7 : 0);
      r.add_counter("troupe_actor_busy_seconds_total", "Time spent handling messages.", l)
          .inc(std::string(kind) == "batcher" ? 5 : 1);
    }
    r.add_gauge("vllm:num_requests_running", "Running.", {{"model_name", "fake-model"}}).set(4);
    http::server_options options;
    options.port = 0;
    options.disable_log_requests = true;
    auto started = http::start_server(engine_, options);
    ASSERT_TRUE(started.ok()) << started.message();
    server_ = std::move(started.value());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  static std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Runs `troupe top` (the built binary) under `script` with `keys` typed after `delay_s`;
  // returns the exit status of the shell pipeline and the terminal's output.
  std::pair<int, std::string> run_in_pty(const std::string& top_flags, const std::string& keys,
                                         double delay_s) {
    const std::filesystem::path dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test_output";
    std::filesystem::create_directories(dir);
    const auto out = dir / "top_pty.txt";
    const std::string binary = std::string(TROUPE_BINARY_DIR) + "/bin/troupe";
    const std::string command = "(sleep " + std::to_string(delay_s) + "; printf '" + keys +
                                "'; sleep 3) | timeout 20 script -qefc \"" + binary +
                                " top --url " + url_ + " " + top_flags + "\" /dev/null > " +
                                out.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out)};
  }

  void skip_without_pty_tools() {
    if (std::system("command -v script > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "util-linux 'script' is not installed";
    }
    if (!std::filesystem::exists(std::string(TROUPE_BINARY_DIR) + "/bin/troupe")) {
      GTEST_SKIP() << "bin/troupe is not built (cmake --build build --target troupe)";
    }
  }

  http::testing::fake_engine engine_;  // declared first: outlives the server
  std::unique_ptr<http::server> server_;
  std::string url_;
};

TEST_F(top_command, plain_lines_when_stdout_is_not_a_terminal) {
  std::vector<std::string> args = {"troupe",     "top",  "--url",        url_,
                                   "--interval", "0.05", "--iterations", "3"};
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  auto cl = parse_command_line(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(cl.ok()) << cl.message();
  ::testing::internal::CaptureStdout();
  const int code = run_top(*cl);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  // Three refreshes: three engine lines, each followed by the kinds, deepest mailbox first.
  size_t engines = 0;
  for (size_t at = out.find("engine running=4"); at != std::string::npos;
       at = out.find("engine running=4", at + 1))
    ++engines;
  EXPECT_EQ(engines, 3u) << out;
  EXPECT_THAT(out, HasSubstr("actor kind=executor actors=1 depth=7"));
  EXPECT_LT(out.find("kind=executor"), out.find("kind=batcher"));
  EXPECT_THAT(out, HasSubstr("busy=0.0%"));   // nothing moved between refreshes
  EXPECT_THAT(out, Not(HasSubstr("\x1b[")));  // no terminal control sequences
}

TEST_F(top_command, a_server_that_is_not_there_is_an_error) {
  const char* argv[] = {"troupe", "top", "--url", "http://127.0.0.1:1", "--iterations", "1"};
  auto cl = parse_command_line(6, argv);
  ASSERT_TRUE(cl.ok()) << cl.message();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_top(*cl), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("troupe top: GET"));
  const char* bad[] = {"troupe", "top", "--url", "ftp://x"};
  auto bad_cl = parse_command_line(4, bad);
  ASSERT_TRUE(bad_cl.ok());
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_top(*bad_cl), 2);
  ::testing::internal::GetCapturedStderr();
  const char* zero[] = {"troupe", "top", "--interval", "0"};
  EXPECT_FALSE(parse_command_line(4, zero).ok());
}

// https://: the server's certificate is checked against the default CA paths (SSL_CERT_FILE).
TEST(top_command_https, reads_a_server_whose_certificate_is_trusted) {
  const http::testing::certificates& certs = http::testing::test_certificates();
  if (!certs.ok) GTEST_SKIP() << "the openssl command is not available";
  http::testing::fake_engine engine;
  auto contexts = http::tls_contexts::create({certs.cert, certs.key, {}, 0, {}, false});
  ASSERT_TRUE(contexts.ok()) << contexts.message();
  http::server_options options;
  options.port = 0;
  options.disable_log_requests = true;
  options.tls = *contexts;
  auto server = http::start_server(engine, options);
  ASSERT_TRUE(server.ok()) << server.message();
  const std::string url = "https://localhost:" + std::to_string((*server)->port());
  const char* argv[] = {"troupe", "top", "--url", url.c_str(), "--iterations", "1"};
  auto cl = parse_command_line(6, argv);
  ASSERT_TRUE(cl.ok()) << cl.message();

  ::setenv("SSL_CERT_FILE", certs.cert.c_str(), 1);
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_top(*cl), 0);
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr("engine running="));
  ::unsetenv("SSL_CERT_FILE");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_top(*cl), 1);  // not trusted
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("GET https://localhost:" + std::to_string((*server)->port()) +
                        "/v1/telemetry: TLS handshake failed"));
}

TEST_F(top_command, under_a_terminal_shows_the_actor_table_and_quits_on_q) {
  skip_without_pty_tools();
  auto [code, out] = run_in_pty("--interval 0.2", "bq", 1.5);
  EXPECT_EQ(code, 0) << out;                   // quit by q (timeout would be 124)
  EXPECT_THAT(out, HasSubstr("\x1b[?1049h"));  // the alternate screen ...
  EXPECT_THAT(out, HasSubstr("KIND"));
  EXPECT_THAT(out, HasSubstr("executor"));
  EXPECT_THAT(out, HasSubstr("kv_allocator"));
  EXPECT_THAT(out, HasSubstr("fake-model  by depth"));
  EXPECT_THAT(out, HasSubstr("fake-model  by busy"));             // after b
  EXPECT_LT(out.rfind("\x1b[?1049h"), out.rfind("\x1b[?1049l"));  // ... left at the end
}

TEST_F(top_command, sigterm_restores_the_terminal) {
  skip_without_pty_tools();
  // `timeout` inside the terminal sends SIGTERM to troupe top after 1 s; --foreground keeps troupe
  // top in the terminal's foreground process group whatever shell `script` starts (dash does not
  // exec the command, so a plain `timeout` would put it in a background group).
  const std::string binary = std::string(TROUPE_BINARY_DIR) + "/bin/troupe";
  const auto out = std::filesystem::path(TROUPE_BINARY_DIR) / "test_output" / "top_sigterm.txt";
  std::filesystem::create_directories(out.parent_path());
  const std::string command =
      "sleep 3 | timeout 20 script -qefc \"timeout --foreground -s TERM 1 " + binary +
      " top --url " + url_ + " --interval 0.2\" /dev/null > " + out.string() + " 2>&1";
  std::system(command.c_str());
  const std::string text = read_file(out);
  EXPECT_THAT(text, HasSubstr("KIND"));
  ASSERT_NE(text.rfind("\x1b[?1049l"), std::string::npos) << "terminal not restored";
  EXPECT_LT(text.rfind("\x1b[?1049h"), text.rfind("\x1b[?1049l"));
}

TEST_F(top_command, a_background_job_prints_plain_lines_instead_of_stopping) {
  skip_without_pty_tools();
  // `timeout` without --foreground moves troupe top out of the terminal's foreground process
  // group (the shell is dash, which does not exec the command): raw mode would stop it by SIGTTOU.
  const std::string binary = std::string(TROUPE_BINARY_DIR) + "/bin/troupe";
  const auto out = std::filesystem::path(TROUPE_BINARY_DIR) / "test_output" / "top_background.txt";
  std::filesystem::create_directories(out.parent_path());
  const std::string command =
      "sleep 3 | SHELL=/bin/sh timeout 20 script -qefc \"timeout 15 " + binary + " top --url " +
      url_ + " --interval 0.2 --iterations 2\" /dev/null > " + out.string() + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string text = read_file(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  EXPECT_THAT(text, HasSubstr("actor kind=executor"));
  EXPECT_THAT(text, Not(HasSubstr("\x1b[?1049h")));
}

}  // namespace
}  // namespace troupe::cli
