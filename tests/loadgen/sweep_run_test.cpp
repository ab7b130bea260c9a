// A small sweep and an SLO search against the mock server: every point writes its result JSON,
// achieved rates grow with the configured rate, and the report files hold the plots and table.
#include "loadgen/sweep_run.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "loadgen/sweep_report.hpp"
#include "tests/loadgen/mock_server.hpp"

namespace troupe::loadgen {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

class sweep_run : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_sweep_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  point_setup setup(int port, int n) const {
    point_setup s;
    for (int i = 0; i < n; ++i)
      s.requests.push_back({"w1 w2", 2, 3});
    s.arrivals.seed = 5;
    s.endpoint.port = std::to_string(port);
    s.body.model = "mock";
    s.run.model_id = "mock-model";
    s.run.num_prompts = n;
    s.run.percentile_metrics = {"ttft", "tpot", "itl"};
    s.run.metric_percentiles = {99.0};
    s.result_dir = dir_.string();
    return s;
  }

  fs::path dir_;
};

TEST_F(sweep_run, points_write_results_and_achieved_rates_increase) {
  test_support::mock_server server(0.004, 0.002);
  int num_reported = 0;
  auto points = run_sweep(setup(server.port(), 20), {10, 40, 160},
                          [&](const point_result&) { ++num_reported; });
  ASSERT_TRUE(points.ok()) << points.message();
  ASSERT_EQ(points->size(), 3u);
  EXPECT_EQ(num_reported, 3);
  EXPECT_EQ(server.num_served(), 60);
  for (size_t i = 0; i < points->size(); ++i) {
    const auto& p = (*points)[i];
    EXPECT_EQ(p.metrics.completed, 20);
    EXPECT_EQ(p.samples.ttft_ms.size(), 20u);
    ASSERT_TRUE(fs::exists(p.result_file)) << p.result_file;
    const std::string json = slurp(p.result_file);
    EXPECT_NE(json.find("\"request_rate\":" + std::to_string(static_cast<int>(p.configured_rate))),
              std::string::npos);
    EXPECT_NE(fs::path(p.result_file).filename().string().find("qps-mock-model-"),
              std::string::npos);
    if (i > 0) {
      EXPECT_GT(p.metrics.request_throughput, 1.5 * (*points)[i - 1].metrics.request_throughput);
    }
  }
  sweep_report report{"sweep against the mock", *points, {}, {}, {}};
  auto files = write_sweep_report(report, dir_.string(), "sweep-test");
  ASSERT_TRUE(files.ok()) << files.message();
  EXPECT_EQ(files->size(), 2u + 9u);  // html, json, 9 plots
  for (const auto& f : *files)
    EXPECT_GT(fs::file_size(f), 100u) << f;
  const std::string html = slurp(dir_ / "sweep-test.html");
  EXPECT_EQ(count(html, "<svg"), 9u);
  EXPECT_EQ(count(html, "<tr>"), 4u);  // header + 3 points
  EXPECT_NE(html.find("Time to first token vs achieved request rate"), std::string::npos);
  const std::string json = slurp(dir_ / "sweep-test.json");
  EXPECT_EQ(count(json, "\"achieved_request_rate\""), 3u);
  EXPECT_NE(json.find("\"slo\":null"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "sweep-test-cdf-ttft.svg"));
}

TEST_F(sweep_run, slo_search_probes_are_full_runs) {
  test_support::mock_server server(0.004, 0.002);
  slo_spec slo{{{"ttft", 1000}, {"tpot", 1000}}, 99};
  auto out = run_slo_search(setup(server.port(), 10), slo, {50, 0.05, 3}, {});
  ASSERT_TRUE(out.ok()) << out.message();
  ASSERT_EQ(out->probes.size(), 3u);
  EXPECT_EQ(out->search.stop_reason, "max probes reached");
  EXPECT_EQ(*out->search.best_rate, 200.0);
  EXPECT_EQ(server.num_served(), 30);
  for (const auto& p : out->probes) {
    ASSERT_TRUE(p.slo);
    EXPECT_TRUE(p.slo->met);
    EXPECT_TRUE(fs::exists(p.result_file));
  }
  // An SLO no loopback request can meet: the search halves and answers none.
  slo_spec impossible{{{"ttft", 0.001}}, 50};
  auto none = run_slo_search(setup(server.port(), 5), impossible, {100, 0.05, 2}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->search.best_rate);
  EXPECT_EQ(none->probes[1].configured_rate, 50.0);
  sweep_report report{"slo", out->probes, slo, search_options{50, 0.05, 3}, out->search};
  const std::string text = sweep_summary_text(report);
  EXPECT_NE(text.find("highest rate meeting the SLO: 200 req/s"), std::string::npos) << text;
  EXPECT_NE(sweep_json(report).find("\"best_rate\":200.0"), std::string::npos);
}

}  // namespace
}  // namespace troupe::loadgen
