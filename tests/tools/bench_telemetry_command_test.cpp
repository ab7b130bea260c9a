// `troupe bench --telemetry` end to end through the command line, against the loadgen mock server
// (keep-alive, with /tokenize and /detokenize): the client telemetry section and the JSON's
// "troupe_telemetry" appear only with the flag, with every message counted; the periodic line.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/loadgen/mock_server.hpp"
#include "tools/cli/flags.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

result<command_line> parse(std::vector<std::string> args) {
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

class bench_telemetry_command : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_bench_telemetry_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `troupe bench` with 8 random prompts at rate inf; returns stdout.
  std::string run(int port, std::vector<std::string> extra) {
    std::vector<std::string> args = {"troupe",
                                     "bench",
                                     "--port",
                                     std::to_string(port),
                                     "--model",
                                     "mock",
                                     "--dataset-name",
                                     "random",
                                     "--random-input-len",
                                     "6",
                                     "--random-output-len",
                                     "3",
                                     "--num-prompts",
                                     "8",
                                     "--save-result",
                                     "--result-dir",
                                     dir_.string(),
                                     "--disable-tqdm"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cl = parse(args);
    EXPECT_TRUE(cl.ok()) << cl.message();
    ::testing::internal::CaptureStdout();
    const int rc = cl.ok() ? run_bench(*cl) : -1;
    std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(rc, 0) << out;
    return out;
  }

  rapidjson::Document result() const {
    rapidjson::Document doc;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::ifstream in(e.path());
      std::stringstream text;
      text << in.rdbuf();
      doc.Parse<rapidjson::kParseNanAndInfFlag>(text.str().c_str());
    }
    return doc;
  }

  fs::path dir_;
};

int64_t messages_of(const rapidjson::Value& telemetry, const std::string& kind) {
  for (const auto& k : telemetry["kinds"].GetArray())
    if (kind == k["kind"].GetString()) return k["messages"].GetInt64();
  ADD_FAILURE() << "no kind " << kind;
  return -1;
}

TEST_F(bench_telemetry_command, without_the_flag_there_is_no_telemetry) {
  loadgen::test_support::mock_server server(0.002, 0.001, true);
  const std::string out = run(server.port(), {});
  EXPECT_EQ(out.find("client telemetry"), std::string::npos) << out;
  const auto doc = result();
  ASSERT_TRUE(doc.IsObject());
  EXPECT_FALSE(doc.HasMember("troupe_telemetry"));
  EXPECT_TRUE(doc["troupe_client_bottleneck"].IsString());
}

TEST_F(bench_telemetry_command, the_flag_counts_every_message) {
  loadgen::test_support::mock_server server(0.002, 0.001, true);
  const std::string out = run(server.port(), {"--telemetry"});
  const auto section = out.find("troupe bench client telemetry");
  ASSERT_NE(section, std::string::npos) << out;
  for (const char* kind : {"\ndriver ", "\ncollector ", "\nhttp_client "})
    EXPECT_NE(out.find(kind, section), std::string::npos) << kind << out;
  EXPECT_NE(out.find("\nclient-side bottleneck: ", section), std::string::npos) << out;
  const auto doc = result();
  ASSERT_TRUE(doc.HasMember("troupe_telemetry"));
  const auto& t = doc["troupe_telemetry"];
  // Rate inf: one send_due releases all 8; then one request_finished each. The initial test
  // request runs before the actors start.
  EXPECT_EQ(messages_of(t, "driver"), 8 + 1);
  EXPECT_EQ(messages_of(t, "collector"), 8);
  EXPECT_EQ(messages_of(t, "http_client"), 8);
  EXPECT_EQ(server.num_served(), 1 + 8);
}

TEST_F(bench_telemetry_command, a_line_every_interval_on_stderr) {
  loadgen::test_support::mock_server server(0.002, 0.001, true);
  ::testing::internal::CaptureStderr();
  run(server.port(), {"--telemetry", "--telemetry-interval", "0.05", "--request-rate", "30"});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("\ntroupe bench telemetry [0."), std::string::npos) << err;
  EXPECT_NE(err.find("/8 done]: driver busy "), std::string::npos) << err;
}

TEST(bench_telemetry_flags, interval_needs_the_flag) {
  auto c = parse({"troupe", "bench", "--telemetry", "--telemetry-interval", "2.5"});
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_TRUE(c->bench.telemetry);
  EXPECT_DOUBLE_EQ(c->bench.telemetry_interval, 2.5);
  EXPECT_FALSE(parse({"troupe", "bench"})->bench.telemetry);
  EXPECT_DOUBLE_EQ(parse({"troupe", "bench"})->bench.telemetry_interval, 10.0);
  EXPECT_EQ(parse({"troupe", "bench", "--telemetry-interval", "1"}).message(),
            "'troupe bench': --telemetry-interval needs --telemetry");
  EXPECT_FALSE(parse({"troupe", "bench", "--telemetry", "--telemetry-interval", "-1"}).ok());
}

}  // namespace
}  // namespace troupe::cli
