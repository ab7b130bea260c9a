// troupe bench's result JSON against one written by vLLM's own benchmarks/benchmark_serving.py
// (tests/data/loadgen/benchmark_serving_result.json; its README says how): a run with the same
// options writes every key that file has, with the same JSON type (int and float apart, as
// Python reads them), and each per-request array has one entry per prompt there and here, so a
// script reading either file reads the other.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "loadgen/sweep_run.hpp"
#include "tests/loadgen/mock_server.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::loadgen {
namespace {

namespace fs = std::filesystem;
using json = rapidjson::Value;

rapidjson::Document parse_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag>(text.str().c_str());
  return doc;
}

// The JSON type as Python's json module reads it ("10" is an int, "10.0" a float).
std::string kind(const json& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "bool";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  if (v.IsObject()) return "object";
  return v.IsDouble() ? "float" : "int";
}

// The per-request arrays: one entry per prompt.
std::set<std::string> per_request_keys(const rapidjson::Document& doc) {
  std::set<std::string> keys;
  const auto n = doc["num_prompts"].GetInt64();
  for (const auto& m : doc.GetObject())
    if (m.value.IsArray() && static_cast<int64_t>(m.value.Size()) == n)
      keys.insert(m.name.GetString());
  return keys;
}

// Every element of `ours` has the kind of `theirs`' elements (one level down for "itls").
void expect_same_element_kinds(const std::string& key, const json& theirs, const json& ours) {
  ASSERT_GT(theirs.Size(), 0u) << key;
  const json& model = theirs[0];
  for (const auto& v : ours.GetArray()) {
    ASSERT_EQ(kind(v), kind(model)) << key;
    if (!v.IsArray()) continue;
    for (const auto& inner : v.GetArray())
      EXPECT_EQ(kind(inner), "float") << key;
  }
}

void expect_interchangeable(const rapidjson::Document& theirs, const rapidjson::Document& ours) {
  const auto their_arrays = per_request_keys(theirs);
  EXPECT_EQ(their_arrays, (std::set<std::string>{"input_lens", "output_lens", "ttfts", "itls",
                                                 "generated_texts", "errors"}));
  const auto our_n = ours["num_prompts"].GetInt64();
  for (const auto& m : theirs.GetObject()) {
    const std::string key = m.name.GetString();
    ASSERT_TRUE(ours.HasMember(key.c_str())) << key;
    const json& v = ours[key.c_str()];
    EXPECT_EQ(kind(v), kind(m.value)) << key;
    if (!their_arrays.count(key)) continue;
    ASSERT_TRUE(v.IsArray()) << key;
    EXPECT_EQ(static_cast<int64_t>(v.Size()), our_n) << key;
    expect_same_element_kinds(key, m.value, v);
  }
}

class benchmark_serving_compat : public ::testing::Test {
 protected:
  void SetUp() override {
    reference_ = parse_file(testing::repo_testdata("loadgen/benchmark_serving_result.json"));
    ASSERT_FALSE(reference_.HasParseError());
    ASSERT_TRUE(reference_.IsObject());
    dir_ = fs::temp_directory_path() / ("troupe_bs_compat_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The reference's command line: --metadata k=v --percentile-metrics ttft,tpot,itl,e2el
  // --metric-percentiles 50,99 --goodput ttft:100 --save-result --save-detailed.
  point_setup setup(int port, int n) const {
    point_setup s;
    for (int i = 0; i < n; ++i)
      s.requests.push_back({"req" + std::to_string(i), 2, 4});
    s.arrivals.seed = 3;
    s.endpoint.port = std::to_string(port);
    s.body.model = "mock";
    s.metric_percentiles = {50.0, 99.0};
    s.goodput = {{"ttft", 100.0}};
    s.run.model_id = "mock-model";
    s.run.tokenizer_id = "mock-model";
    s.run.num_prompts = n;
    s.run.metadata = {{"k", "v"}};
    s.run.percentile_metrics = {"ttft", "tpot", "itl", "e2el"};
    s.run.metric_percentiles = s.metric_percentiles;
    s.run.has_goodput = true;
    s.result_dir = dir_.string();
    s.save_detailed = true;
    return s;
  }

  rapidjson::Document reference_;
  fs::path dir_;
};

TEST_F(benchmark_serving_compat, a_run_has_every_benchmark_serving_key_and_type) {
  test_support::mock_server server(0.002, 0.001);
  auto point = run_point(setup(server.port(), 12), 200.0);
  ASSERT_TRUE(point.ok()) << point.message();
  ASSERT_EQ(point->metrics.completed, 12);
  const auto ours = parse_file(point->result_file);
  ASSERT_FALSE(ours.HasParseError());
  expect_interchangeable(reference_, ours);
  EXPECT_EQ(ours["itls"][0].Size(), 3u);  // 4 tokens: 3 gaps, in seconds
  EXPECT_LT(ours["ttfts"][0].GetDouble(), 1.0);
  EXPECT_EQ(ours["request_goodput:"].GetDouble(), ours["request_goodput"].GetDouble());
}

TEST_F(benchmark_serving_compat, a_run_whose_requests_all_fail_keeps_every_key) {
  auto point = run_point(setup(1, 5), 1000.0);  // nothing listens on port 1
  ASSERT_TRUE(point.ok()) << point.message();
  ASSERT_EQ(point->metrics.failed, 5);
  const auto ours = parse_file(point->result_file);
  ASSERT_FALSE(ours.HasParseError());
  expect_interchangeable(reference_, ours);
  EXPECT_EQ(ours["output_lens"][0].GetInt(), 0);
  EXPECT_NE(std::string(ours["errors"][0].GetString()), "");
}

}  // namespace
}  // namespace troupe::loadgen
