#include "runtime/telemetry/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace troupe::telemetry {
namespace {

TEST(Metrics, CountersGaugesAndTheirText) {
  registry r;
  auto& c = r.add_counter("requests_total", "Requests.", {{"model_name", "m"}});
  c.inc();
  c.inc(2);
  auto& g = r.add_gauge("queue_depth", "Queue depth.");
  g.set(5);
  g.dec(2);
  g.max(1);  // lower than 3: unchanged
  EXPECT_EQ(r.value("requests_total", {{"model_name", "m"}}), 3.0);
  EXPECT_EQ(r.value("queue_depth"), 3.0);
  EXPECT_FALSE(r.value("requests_total"));  // other labels
  EXPECT_EQ(r.prometheus_text(),
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{model_name=\"m\"} 3\n"
            "# HELP queue_depth Queue depth.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 3\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeOnExport) {
  registry r;
  auto& h = r.add_histogram("latency_seconds", "Latency.", {{"engine", "0"}}, {0.125, 0.5, 1.0});
  for (double v : {0.0625, 0.125, 0.25, 2.0, 0.75})
    h.observe(v);
  const auto s = *r.histogram_value("latency_seconds", {{"engine", "0"}});
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{2, 1, 1, 1}));  // <= bound, the last above all
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 3.1875);
  EXPECT_EQ(r.prometheus_text(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{engine=\"0\",le=\"0.125\"} 2\n"
            "latency_seconds_bucket{engine=\"0\",le=\"0.5\"} 3\n"
            "latency_seconds_bucket{engine=\"0\",le=\"1\"} 4\n"
            "latency_seconds_bucket{engine=\"0\",le=\"+Inf\"} 5\n"
            "latency_seconds_sum{engine=\"0\"} 3.1875\n"
            "latency_seconds_count{engine=\"0\"} 5\n");
}

TEST(Metrics, OneFamilyManyLabelValuesAndEscaping) {
  registry r;
  r.add_counter("finished_total", "Finished.", {{"reason", "stop"}}).inc();
  r.add_counter("finished_total", "Finished.", {{"reason", "a \"b\"\\\n"}}).inc(4);
  auto& again = r.add_counter("finished_total", "Finished.", {{"reason", "stop"}});
  again.inc();  // the same member
  EXPECT_EQ(r.value("finished_total", {{"reason", "stop"}}), 2.0);
  const std::string text = r.prometheus_text();
  EXPECT_NE(text.find("finished_total{reason=\"a \\\"b\\\"\\\\\\n\"} 4\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("# TYPE finished_total"), text.rfind("# TYPE finished_total"));
}

TEST(Metrics, GaugeFunctionsAreReadAtExport) {
  registry r;
  int depth = 1;
  r.add_gauge_fn("depth", "Depth.", {}, [&] { return static_cast<double>(depth); });
  depth = 7;
  EXPECT_EQ(r.value("depth"), 7.0);
  EXPECT_NE(r.prometheus_text().find("depth 7\n"), std::string::npos);
}

TEST(Metrics, JsonSnapshot) {
  registry r;
  r.add_gauge("g", "A \"gauge\".", {{"k", "v"}}).set(0.25);
  r.add_histogram("h", "H.", {}, {1.0}).observe(3);
  EXPECT_EQ(r.json_snapshot(),
            "{\"metrics\":[{\"name\":\"g\",\"type\":\"gauge\",\"help\":\"A \\\"gauge\\\".\","
            "\"samples\":[{\"labels\":{\"k\":\"v\"},\"value\":0.25}]},"
            "{\"name\":\"h\",\"type\":\"histogram\",\"help\":\"H.\",\"samples\":[{\"labels\":{},"
            "\"buckets\":[[1,0],[\"+Inf\",1]],\"sum\":3,\"count\":1}]}]}");
}

TEST(Metrics, ConcurrentObservationsAreAllCounted) {
  registry r;
  auto& c = r.add_counter("c", "C.");
  auto& h = r.add_histogram("h", "H.", {}, {10.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(1.0);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(c.value(), 40000.0);
  EXPECT_EQ(h.snapshot().count, 40000u);
  EXPECT_DOUBLE_EQ(h.snapshot().sum, 40000.0);
}

TEST(Metrics, ValueFormatting) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-2), "-2");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
}

}  // namespace
}  // namespace troupe::telemetry
