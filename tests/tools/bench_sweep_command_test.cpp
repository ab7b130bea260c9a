// `troupe bench sweep` end to end through the command line, against the loadgen mock server
// (keep-alive, with /tokenize and /detokenize, so no local tokenizer is needed): every point's
// result JSON, the report files, and the SLO search's answer.
#include <gtest/gtest.h>
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

class bench_sweep_command : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_sweep_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  int run(int port, std::vector<std::string> extra) {
    std::vector<std::string> args = {"troupe",
                                     "bench",
                                     "sweep",
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
                                     "--result-dir",
                                     dir_.string(),
                                     "--disable-tqdm"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<const char*> argv;
    for (const auto& a : args)
      argv.push_back(a.c_str());
    auto cl = parse_command_line(static_cast<int>(argv.size()), argv.data());
    EXPECT_TRUE(cl.ok()) << cl.message();
    return cl.ok() ? run_bench(*cl) : -1;
  }

  std::vector<std::string> files(const std::string& prefix, const std::string& ext) const {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && name.ends_with(ext)) found.push_back(e.path().string());
    }
    return found;
  }

  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_F(bench_sweep_command, writes_points_and_report) {
  loadgen::test_support::mock_server server(0.002, 0.001, true);
  ASSERT_EQ(run(server.port(), {"--request-rates", "20,80"}), 0);
  EXPECT_EQ(files("vllm-20.0qps-mock-", ".json").size(), 1u);
  EXPECT_EQ(files("vllm-80.0qps-mock-", ".json").size(), 1u);
  EXPECT_EQ(files("sweep-vllm-mock-", ".svg").size(), 9u);
  const auto html = files("sweep-vllm-mock-", ".html");
  ASSERT_EQ(html.size(), 1u);
  EXPECT_NE(slurp(html[0]).find("<svg"), std::string::npos);
  EXPECT_GT(server.num_tokenizer_calls(), 0);  // the server tokenized the random prompts
  EXPECT_EQ(server.num_served(), 1 + 8 + 8);   // the initial test request and two points
}

TEST_F(bench_sweep_command, slo_search_answers_in_the_json) {
  loadgen::test_support::mock_server server(0.002, 0.001, true);
  ASSERT_EQ(run(server.port(),
                {"--request-rates", "20", "--slo", "ttft:1000,tpot:1000", "--slo-max-probes", "2"}),
            0);
  const auto json = files("sweep-vllm-mock-", ".json");
  ASSERT_EQ(json.size(), 1u);
  const std::string text = slurp(json[0]);
  EXPECT_NE(text.find("\"best_rate\":40.0"), std::string::npos) << text;
  EXPECT_NE(text.find("\"stop_reason\":\"max probes reached\""), std::string::npos);
  EXPECT_EQ(files("vllm-40.0qps-mock-", ".json").size(), 1u);
}

}  // namespace
}  // namespace troupe::cli
