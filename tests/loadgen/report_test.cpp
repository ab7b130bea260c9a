// The console report keeps benchmark_serving's layout; the JSON has its keys; file naming.
#include "loadgen/report.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <limits>

namespace troupe::loadgen {
namespace {

run_description sample_run() {
  run_description run;
  run.backend = "vllm";
  run.model_id = "org/SmolLM2";
  run.tokenizer_id = "org/SmolLM2";
  run.num_prompts = 2;
  run.request_rate = 4.0;
  run.max_concurrency = 8;
  run.percentile_metrics = {"ttft", "tpot", "itl"};
  run.metric_percentiles = {99.0, 99.9};
  run.metadata = {{"gpu", "none"}};
  run.duration_s = 1.5;
  return run;
}

std::vector<request_record> sample_records() {
  request_record r;
  r.success = true;
  r.ttft = 0.1;
  r.itl = {0.01, 0.02};
  r.latency = 0.13;
  r.output_tokens = 3;
  r.prompt_len = 5;
  return {r, r};
}

TEST(report, has_benchmark_serving_titles_and_row_layout) {
  const auto run = sample_run();
  const auto records = sample_records();
  const auto m = calculate_metrics(records, run.duration_s, run.metric_percentiles, {}, {});
  const std::string text = format_report(run, m);
  EXPECT_EQ(text.substr(0, 51), "============ Serving Benchmark Result ============\n");
  EXPECT_NE(text.find("Successful requests:                     2         \n"), std::string::npos);
  EXPECT_NE(text.find("Benchmark duration (s):                  1.50      \n"), std::string::npos);
  EXPECT_NE(text.find("---------------Time to First Token----------------\n"), std::string::npos);
  EXPECT_NE(text.find("-----Time per Output Token (excl. 1st token)------\n"), std::string::npos);
  EXPECT_NE(text.find("P99.9 ITL (ms):"), std::string::npos);
  EXPECT_NE(text.find("Maximum request concurrency:             8"), std::string::npos);
  EXPECT_EQ(text.find("E2EL"), std::string::npos);  // not selected
  EXPECT_EQ(text.substr(text.size() - 51), std::string(50, '=') + "\n");
}

TEST(report, client_cpu_rows_when_measured) {
  const auto run = sample_run();
  auto m = calculate_metrics(sample_records(), run.duration_s, run.metric_percentiles, {}, {});
  EXPECT_EQ(format_report(run, m).find("Client CPU"), std::string::npos);
  set_client_cpu(m, 0.0012);  // 6 output tokens
  const std::string text = format_report(run, m);
  char rows[256];
  std::snprintf(rows, sizeof rows, "%-40s %-10s\n%-40s %-10s\n", "Client CPU time (s):", "0.00",
                "Client CPU per output token (us):", "200.00");
  EXPECT_NE(text.find(rows), std::string::npos) << text;
  rapidjson::Document doc;
  doc.Parse(result_json(run, m, sample_records(), "20260101-000000", false).c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_DOUBLE_EQ(doc["troupe_client_cpu_us_per_token"].GetDouble(), 200.0);
  EXPECT_DOUBLE_EQ(doc["troupe_client_cpu_s"].GetDouble(), 0.0012);
  EXPECT_EQ(doc["troupe_num_connections"].GetInt64(), 0);
  m.num_connections = 3;
  char row[128];
  std::snprintf(row, sizeof row, "%-40s %-10s\n", "Connections opened:", "3");
  EXPECT_NE(format_report(run, m).find(row), std::string::npos);
}

TEST(result_json, has_benchmark_serving_keys) {
  const auto run = sample_run();
  const auto records = sample_records();
  const auto m = calculate_metrics(records, run.duration_s, run.metric_percentiles, {}, {});
  rapidjson::Document doc;
  doc.Parse(result_json(run, m, records, "20260101-000000", false).c_str());
  ASSERT_FALSE(doc.HasParseError());
  for (const char* k : {"date",
                        "endpoint_type",
                        "backend",
                        "label",
                        "model_id",
                        "tokenizer_id",
                        "num_prompts",
                        "request_rate",
                        "burstiness",
                        "max_concurrency",
                        "duration",
                        "completed",
                        "failed",
                        "total_input_tokens",
                        "total_output_tokens",
                        "request_throughput",
                        "request_goodput",
                        "output_throughput",
                        "total_token_throughput",
                        "latencies",
                        "queue_times",
                        "max_output_tokens_per_s",
                        "max_concurrent_requests",
                        "mean_ttft_ms",
                        "median_ttft_ms",
                        "std_ttft_ms",
                        "p99_ttft_ms",
                        "p99.9_ttft_ms",
                        "mean_tpot_ms",
                        "p99_itl_ms",
                        "gpu"}) {
    EXPECT_TRUE(doc.HasMember(k)) << k;
  }
  EXPECT_FALSE(doc.HasMember("ttfts"));  // only with --save-detailed
  EXPECT_TRUE(doc["request_goodput"].IsNull());
  EXPECT_EQ(doc["completed"].GetInt(), 2);
  EXPECT_NEAR(doc["mean_ttft_ms"].GetDouble(), 100.0, 1e-9);

  rapidjson::Document detailed;
  detailed.Parse(result_json(run, m, records, "20260101-000000", true).c_str());
  for (const char* k :
       {"input_lens", "output_lens", "ttfts", "itls", "start_times", "generated_texts", "errors"}) {
    EXPECT_TRUE(detailed.HasMember(k)) << k;
  }
  EXPECT_EQ(detailed["itls"][0].Size(), 2u);
}

client_telemetry sample_telemetry(double driver_busy) {
  client_telemetry t;
  t.duration_s = 1.5;
  auto kind = [](const char* name, int64_t messages, double busy, bool cpu) {
    actor_kind_figures k;
    k.kind = name;
    k.num_actors = 1;
    k.messages = messages;
    k.mailbox_depth_peak = 4;
    k.mean_wait_ms = 0.05;
    k.p99_wait_ms = 0.25;
    k.busy_s = busy * 1.5;
    k.busy_fraction = busy;
    k.cpu_timed = cpu;
    return k;
  };
  t.kinds = {kind("driver", 3, driver_busy, false), kind("collector", 2, 0.01, false),
             kind("http_client", 2, 0.2, true)};
  return t;
}

TEST(report, telemetry_section_only_with_telemetry) {
  const auto run = sample_run();
  auto m = calculate_metrics(sample_records(), run.duration_s, run.metric_percentiles, {}, {});
  std::string text = format_report(run, m);
  EXPECT_EQ(text.find("client telemetry"), std::string::npos);
  EXPECT_EQ(text.find("client-side bottleneck"), std::string::npos);  // no lateness: not said
  set_client_telemetry(m, sample_telemetry(0.1));
  text = format_report(run, m);
  const auto section = text.find("----------troupe bench client telemetry-----------\n");
  ASSERT_NE(section, std::string::npos) << text;
  EXPECT_LT(text.find("troupe bench (beyond benchmark_serving)"), section);
  char row[256];
  std::snprintf(row, sizeof row, "%-12s %6s %9s %10s %18s %9s %6s\n", "driver", "1", "3", "4",
                "0.05 / 0.25", "0.15", "10.0%");
  EXPECT_NE(text.find(row, section), std::string::npos) << text;
  EXPECT_NE(text.find("http_client", section), std::string::npos);
  EXPECT_NE(text.find("client-side bottleneck: none\n" + std::string(50, '=') + "\n"),
            std::string::npos)
      << text;
  set_client_telemetry(m, sample_telemetry(0.95));
  EXPECT_NE(format_report(run, m).find("client-side bottleneck: driver busy 95% (limit 80%)\n  ("),
            std::string::npos);
}

TEST(report, late_sends_are_a_client_bottleneck_without_telemetry) {
  const auto run = sample_run();
  auto records = sample_records();
  for (auto& r : records)
    r.arrival_time = r.scheduled_time + 0.050;  // released 50 ms late
  const auto m = calculate_metrics(records, run.duration_s, run.metric_percentiles, {}, {});
  const std::string reason = "send lateness p99 50.00 ms (limit 10.00 ms)";
  ASSERT_EQ(m.client_bottleneck, std::vector<std::string>{reason});
  const std::string text = format_report(run, m);
  EXPECT_NE(text.find("client-side bottleneck: " + reason + "\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("client telemetry"), std::string::npos);
  rapidjson::Document doc;
  doc.Parse(result_json(run, m, records, "20260101-000000", false).c_str());
  EXPECT_EQ(std::string(doc["troupe_client_bottleneck"].GetString()), reason);
}

TEST(result_json, troupe_telemetry_only_with_telemetry) {
  const auto run = sample_run();
  const auto records = sample_records();
  auto m = calculate_metrics(records, run.duration_s, run.metric_percentiles, {}, {});
  rapidjson::Document plain;
  plain.Parse(result_json(run, m, records, "20260101-000000", false).c_str());
  EXPECT_FALSE(plain.HasMember("troupe_telemetry"));
  EXPECT_EQ(std::string(plain["troupe_client_bottleneck"].GetString()), "");
  set_client_telemetry(m, sample_telemetry(0.9));
  rapidjson::Document doc;
  doc.Parse(result_json(run, m, records, "20260101-000000", false).c_str());
  ASSERT_TRUE(doc.HasMember("troupe_telemetry"));
  const auto& t = doc["troupe_telemetry"];
  EXPECT_DOUBLE_EQ(t["duration_s"].GetDouble(), 1.5);
  ASSERT_EQ(t["kinds"].Size(), 3u);
  const auto& driver = t["kinds"][0];
  EXPECT_EQ(std::string(driver["kind"].GetString()), "driver");
  EXPECT_EQ(driver["actors"].GetInt64(), 1);
  EXPECT_EQ(driver["messages"].GetInt64(), 3);
  EXPECT_EQ(driver["mailbox_depth_peak"].GetInt64(), 4);
  EXPECT_DOUBLE_EQ(driver["mean_mailbox_wait_ms"].GetDouble(), 0.05);
  EXPECT_DOUBLE_EQ(driver["p99_mailbox_wait_ms"].GetDouble(), 0.25);
  EXPECT_DOUBLE_EQ(driver["busy_fraction"].GetDouble(), 0.9);
  EXPECT_FALSE(driver["busy_is_cpu_time"].GetBool());
  EXPECT_TRUE(t["kinds"][2]["busy_is_cpu_time"].GetBool());
  EXPECT_EQ(std::string(doc["troupe_client_bottleneck"].GetString()),
            "driver busy 90% (limit 80%)");
}

TEST(result_file_name, follows_benchmark_serving_naming) {
  auto run = sample_run();
  EXPECT_EQ(result_file_name(run, "20260101-120000"),
            "vllm-4.0qps-concurrency8-SmolLM2-20260101-120000.json");
  run.label = "mine";
  run.max_concurrency.reset();
  run.request_rate = std::numeric_limits<double>::infinity();
  EXPECT_EQ(result_file_name(run, "d"), "mine-infqps-SmolLM2-d.json");
  EXPECT_EQ(python_float(0.5), "0.5");
  EXPECT_EQ(percentile_word(99.0), "99");
  EXPECT_EQ(percentile_word(99.9), "99.9");
}

}  // namespace
}  // namespace troupe::loadgen
