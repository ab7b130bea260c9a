#include "loadgen/sweep.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace troupe::loadgen {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

TEST(parse_request_rates, lists_ranges_and_inf) {
  EXPECT_EQ(*parse_request_rates("1,2,4,8,inf"), (std::vector<double>{1, 2, 4, 8, inf}));
  EXPECT_EQ(*parse_request_rates("1:16:x2"), (std::vector<double>{1, 2, 4, 8, 16}));
  EXPECT_EQ(*parse_request_rates("1:8:1"), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(*parse_request_rates("1:10:x3"), (std::vector<double>{1, 3, 9}));
  EXPECT_EQ(*parse_request_rates("0.5:1.5:0.5,inf"), (std::vector<double>{0.5, 1, 1.5, inf}));
  const auto tenths = *parse_request_rates("0.1:0.3:0.1");  // 0.1 + 0.1 + 0.1 > 0.3 in doubles
  ASSERT_EQ(tenths.size(), 3u);
  EXPECT_DOUBLE_EQ(tenths.back(), 0.3);
}

TEST(parse_request_rates, rejects_bad_items) {
  for (const char* bad : {"", "0", "-1", "1,,2", "abc", "1:8", "8:1:1", "1:8:0", "1:8:x1", "1:8:x",
                          "1:2:3:4", "nan", "1:100000:0.01"}) {
    auto rates = parse_request_rates(bad);
    EXPECT_FALSE(rates.ok()) << bad;
    if (!rates.ok()) {
      EXPECT_NE(rates.message().find("--request-rates"), std::string::npos);
    }
  }
}

TEST(collect_samples, converts_to_ms_and_skips_failures_and_single_token_tpot) {
  request_record a;
  a.success = true, a.ttft = 0.010, a.latency = 0.040, a.itl = {0.010, 0.020};
  request_record b = a;
  b.success = false;
  request_record c;
  c.success = true, c.ttft = 0.005, c.latency = 0.005;
  const auto s = collect_samples({a, b, c}, {4, 0, 1});
  EXPECT_EQ(s.ttft_ms, (std::vector<double>{10, 5}));
  EXPECT_EQ(s.e2el_ms, (std::vector<double>{40, 5}));
  ASSERT_EQ(s.tpot_ms.size(), 1u);
  EXPECT_DOUBLE_EQ(s.tpot_ms[0], 10.0);
  EXPECT_EQ(s.itl_ms, (std::vector<double>{10, 20}));
  EXPECT_EQ(&samples_of(s, "itl"), &s.itl_ms);
}

TEST(empirical_cdf, sorted_fractions_ending_at_one) {
  const auto cdf = empirical_cdf({3, 1, 2, 4});
  ASSERT_EQ(cdf.size(), 4u);
  EXPECT_EQ(cdf[0], (std::pair<double, double>{1, 0.25}));
  EXPECT_EQ(cdf[3], (std::pair<double, double>{4, 1.0}));
  EXPECT_TRUE(empirical_cdf({}).empty());
  std::vector<double> many;
  for (int i = 0; i < 10000; ++i)
    many.push_back(10000 - i);
  const auto thin = empirical_cdf(many, 100);
  ASSERT_EQ(thin.size(), 100u);
  EXPECT_EQ(thin.front().first, 1);
  EXPECT_EQ(thin.back(), (std::pair<double, double>{10000, 1.0}));
  for (size_t i = 1; i < thin.size(); ++i) {
    EXPECT_GT(thin[i].first, thin[i - 1].first);
    EXPECT_GT(thin[i].second, thin[i - 1].second);
  }
}

TEST(parse_slo_limits, metric_ms_pairs) {
  auto limits = parse_slo_limits("ttft:500,tpot:50,e2el:2000.5");
  ASSERT_TRUE(limits.ok()) << limits.message();
  ASSERT_EQ(limits->size(), 3u);
  EXPECT_EQ((*limits)[1], (std::pair<std::string, double>{"tpot", 50}));
  EXPECT_EQ((*limits)[2].second, 2000.5);
  for (const char* bad : {"", "ttft", "ttft:", "foo:1", "ttft:-1", "ttft:1,", "ttft:x"})
    EXPECT_FALSE(parse_slo_limits(bad).ok()) << bad;
}

TEST(check_slo, every_limit_at_the_percentile_and_no_failures) {
  latency_samples s;
  for (int i = 1; i <= 100; ++i)
    s.ttft_ms.push_back(i), s.tpot_ms.push_back(i / 10.0);
  slo_spec slo{{{"ttft", 100}, {"tpot", 9.5}}, 99};
  auto v = check_slo(slo, s, 100, 0);
  EXPECT_FALSE(v.met);  // p99 of tpot is 9.901 > 9.5
  ASSERT_EQ(v.checks.size(), 2u);
  EXPECT_TRUE(v.checks[0].met);
  EXPECT_NEAR(v.checks[0].value_ms, 99.01, 1e-9);
  EXPECT_FALSE(v.checks[1].met);
  slo.percentile = 50;
  EXPECT_TRUE(check_slo(slo, s, 100, 0).met);
  EXPECT_FALSE(check_slo(slo, s, 100, 1).met);  // a failed request misses the SLO
  EXPECT_FALSE(check_slo(slo, {}, 0, 0).met);   // nothing completed
}

// A server that meets the SLO up to `capacity` req/s.
struct threshold_probe {
  double capacity;
  int calls = 0;
  result<bool> operator()(double rate) {
    ++calls;
    return rate <= capacity;
  }
};

TEST(search_max_rate, brackets_by_doubling_then_bisects_to_the_tolerance) {
  threshold_probe server{37.3};
  auto out = search_max_rate({1.0, 0.05, 30}, std::ref(server));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->stop_reason, "converged");
  ASSERT_TRUE(out->best_rate && out->lowest_failed_rate);
  EXPECT_LE(*out->best_rate, 37.3);
  EXPECT_GT(*out->lowest_failed_rate, 37.3);
  EXPECT_LE(*out->lowest_failed_rate / *out->best_rate - 1, 0.05);
  // 1, 2, 4, 8, 16, 32, 64 bracket; then bisection.
  ASSERT_GE(out->probes.size(), 7u);
  for (size_t i = 0; i < 7; ++i)
    EXPECT_EQ(out->probes[i].rate, std::pow(2.0, static_cast<double>(i)));
  EXPECT_FALSE(out->probes[6].met);
  EXPECT_EQ(static_cast<size_t>(server.calls), out->probes.size());
}

TEST(search_max_rate, halves_when_the_start_fails) {
  threshold_probe server{3.0};
  auto out = search_max_rate({20.0, 0.1, 30}, std::ref(server));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->probes[1].rate, 10.0);
  EXPECT_EQ(out->probes[2].rate, 5.0);
  EXPECT_EQ(out->probes[3].rate, 2.5);
  EXPECT_TRUE(out->probes[3].met);
  EXPECT_NEAR(*out->best_rate, 3.0, 0.3);
  EXPECT_LE(*out->best_rate, 3.0);
}

TEST(search_max_rate, stops_at_max_probes) {
  threshold_probe server{1e9};
  auto out = search_max_rate({1.0, 0.05, 4}, std::ref(server));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->probes.size(), 4u);
  EXPECT_EQ(*out->best_rate, 8.0);
  EXPECT_EQ(out->stop_reason, "max probes reached");
  threshold_probe never{0.0};
  auto none = search_max_rate({1.0, 0.05, 5}, std::ref(never));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->best_rate);
  EXPECT_EQ(none->stop_reason, "no rate met the SLO");
  EXPECT_EQ(none->probes.back().rate, 1.0 / 16);
}

TEST(search_max_rate, a_probe_error_ends_the_search) {
  auto out = search_max_rate({1.0, 0.05, 10}, [](double rate) -> result<bool> {
    if (rate > 2) return error{"server went away"};
    return true;
  });
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.message(), "server went away");
}

TEST(search_options, are_validated) {
  EXPECT_TRUE(validate(search_options{1.0, 0.05, 1}).ok());
  EXPECT_FALSE(validate(search_options{inf, 0.05, 10}).ok());
  EXPECT_FALSE(validate(search_options{0.0, 0.05, 10}).ok());
  EXPECT_FALSE(validate(search_options{1.0, 0.0, 10}).ok());
  EXPECT_FALSE(validate(search_options{1.0, 0.05, 0}).ok());
}

}  // namespace
}  // namespace troupe::loadgen
