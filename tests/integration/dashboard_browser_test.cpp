// GET /dashboard in headless Chromium against the default model under traffic, in real time
// (tests/integration/dashboard_browser.py drives Chromium over the DevTools protocol): the page
// draws its updates without a failed poll, every chart has data, the page requests nothing but
// the server's own URLs (Chromium also resolves no outside host), and a screenshot is saved as
// build/test_output/dashboard.png. Skips without the model, python3 or chromium.
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "actors/engine.hpp"
#include "http/server.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/http/test_client.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Two clients sending short greedy completions until stopped.
class traffic {
 public:
  explicit traffic(uint16_t port) {
    for (int c = 0; c < 2; ++c) {
      threads_.emplace_back([this, port, c] {
        for (int i = 0; !stop_; ++i) {
          http::testing::test_client client(port);
          client.post(R"({"prompt": "Dashboard traffic )" + std::to_string(c * 1000 + i) +
                      R"(", "max_tokens": 6, "temperature": 0, "ignore_eos": true})");
          ++num_done_;
        }
      });
    }
  }
  ~traffic() {
    stop_ = true;
    for (auto& t : threads_)
      t.join();
  }
  int num_done() const { return num_done_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> num_done_{0};
  std::vector<std::thread> threads_;
};

TEST(dashboard_browser, draws_live_charts_without_external_requests) {
  if (testing::default_model_gguf().empty()) GTEST_SKIP() << "default model not fetched";
  runtime::engine_config config;
  config.num_gpu_blocks_override = 256;
  config.disable_log_requests = true;
  auto built = runtime::build_engine(config);
  ASSERT_TRUE(built) << built.message();
  auto engine = actors::start_engine(std::move(*built));
  ASSERT_TRUE(engine) << engine.message();
  http::server_options options;
  options.port = 0;
  options.disable_log_requests = true;
  auto server = http::start_server(**engine, options);
  ASSERT_TRUE(server) << server.message();
  const std::string origin = "http://127.0.0.1:" + std::to_string((*server)->port());

  traffic load((*server)->port());
  const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test_output";
  std::filesystem::create_directories(dir);
  const auto png = dir / "dashboard.png", out = dir / "dashboard_browser.json";
  const auto err = dir / "dashboard_browser.err";
  std::filesystem::remove(png);
  const std::string command = "python3 " + testing::source_dir() +
                              "/tests/integration/dashboard_browser.py --url " + origin +
                              "/dashboard --updates 7 --timeout 90 --png " + png.string() + " > " +
                              out.string() + " 2> " + err.string();
  const int status = std::system(command.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 3 || code == 127) GTEST_SKIP() << "no chromium or python3: " << read_file(err);
  ASSERT_EQ(code, 0) << read_file(err);
  EXPECT_GT(load.num_done(), 0);

  const std::string json = read_file(out);
  auto page = http::testing::parse_json(json);
  ASSERT_TRUE(page.IsObject()) << json;
  EXPECT_GE(page["updates"].GetInt(), 7) << json;
  EXPECT_EQ(page["errors"].GetInt(), 0) << json;
  for (const char* chart :
       {"chart-tokens", "chart-requests", "chart-ttft", "chart-itl", "chart-e2e", "chart-kv",
        "chart-mailbox", "chart-busy", "chart-step-time", "chart-step-tokens"}) {
    ASSERT_TRUE(page["points"].HasMember(chart)) << chart;
    EXPECT_GT(page["points"][chart].GetInt(), 0) << chart << " drew no data: " << json;
  }
  ASSERT_TRUE(page["requests"].IsArray());
  EXPECT_GE(page["requests"].Size(), 8u);  // the page, then its polls
  for (const auto& url : page["requests"].GetArray()) {
    EXPECT_EQ(std::string(url.GetString()).rfind(origin + "/", 0), 0u)
        << "external request: " << url.GetString();
  }
  const std::string image = read_file(png);
  EXPECT_GT(image.size(), 20000u);
  EXPECT_EQ(image.substr(0, 8), "\x89PNG\r\n\x1a\n");
}

}  // namespace
}  // namespace troupe
