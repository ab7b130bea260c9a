// The arrival process: gamma gaps pass a Kolmogorov-Smirnov test against the gamma CDF, the
// schedule is absolute and rescaled like benchmark_serving's, ramp-up and inf behave.
#include "loadgen/arrival_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace troupe::loadgen {
namespace {

// Regularized lower incomplete gamma P(a, x) (series for x < a + 1, else continued fraction).
double gamma_p(double a, double x) {
  if (x <= 0) return 0.0;
  const double log_prefix = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 1000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
    }
    return sum * std::exp(log_prefix);
  }
  double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;  // Lentz
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = std::fabs(d) < 1e-300 ? 1e-300 : d;
    c = b + an / c;
    c = std::fabs(c) < 1e-300 ? 1e-300 : c;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-15) break;
  }
  return 1.0 - std::exp(log_prefix) * h;
}

double ks_statistic(std::vector<double> xs, double shape, double scale) {
  std::sort(xs.begin(), xs.end());
  const double n = static_cast<double>(xs.size());
  double d = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double f = gamma_p(shape, xs[i] / scale);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return d;
}

class gamma_fit : public ::testing::TestWithParam<double> {};

TEST_P(gamma_fit, gaps_pass_ks_test_against_gamma_cdf) {
  const double burstiness = GetParam();
  const double rate = 50.0;
  arrival_config config{rate, burstiness, "", std::nullopt, std::nullopt, 1234};
  const int64_t n = 20000;
  const auto gaps = sample_gaps(config, n);
  // Critical value at alpha = 0.001: 1.95 / sqrt(n).
  const double critical = 1.95 / std::sqrt(static_cast<double>(n));
  EXPECT_LT(ks_statistic(gaps, burstiness, 1.0 / (rate * burstiness)), critical);
  // And the test can fail: the same gaps against a different shape are rejected.
  EXPECT_GT(ks_statistic(gaps, burstiness * 2, 1.0 / (rate * burstiness * 2)), critical);
}

INSTANTIATE_TEST_SUITE_P(burstiness, gamma_fit, ::testing::Values(0.5, 1.0, 4.0));

TEST(arrival_schedule, is_absolute_and_rescaled_to_n_over_rate) {
  arrival_config config{100.0, 1.0, "", std::nullopt, std::nullopt, 7};
  const auto times = arrival_schedule(config, 1000);
  ASSERT_EQ(times.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
  EXPECT_NEAR(times.back(), 10.0, 1e-9);
  EXPECT_GT(times.front(), 0.0);
}

TEST(arrival_schedule, same_seed_same_schedule_other_seed_differs) {
  arrival_config a{10.0, 0.5, "", std::nullopt, std::nullopt, 1};
  arrival_config b = a;
  b.seed = 2;
  EXPECT_EQ(arrival_schedule(a, 50), arrival_schedule(a, 50));
  EXPECT_NE(arrival_schedule(a, 50), arrival_schedule(b, 50));
}

TEST(arrival_schedule, infinite_rate_sends_everything_at_zero) {
  arrival_config config{
      std::numeric_limits<double>::infinity(), 1.0, "", std::nullopt, std::nullopt, 0};
  for (double t : arrival_schedule(config, 20))
    EXPECT_EQ(t, 0.0);
}

TEST(arrival_schedule, infinite_burstiness_gives_constant_gaps) {
  arrival_config config{
      4.0, std::numeric_limits<double>::infinity(), "", std::nullopt, std::nullopt, 0};
  const auto times = arrival_schedule(config, 8);
  for (size_t i = 0; i < times.size(); ++i)
    EXPECT_NEAR(times[i], 0.25 * (i + 1), 1e-12);
}

TEST(ramp_up, linear_and_exponential_rates_follow_the_index) {
  arrival_config lin{0, 1.0, "linear", 1.0, 11.0, 0};
  EXPECT_DOUBLE_EQ(current_rate(lin, 0, 11), 1.0);
  EXPECT_DOUBLE_EQ(current_rate(lin, 5, 11), 6.0);
  EXPECT_DOUBLE_EQ(current_rate(lin, 10, 11), 11.0);
  arrival_config exp{0, 1.0, "exponential", 1.0, 16.0, 0};
  EXPECT_NEAR(current_rate(exp, 2, 5), 4.0, 1e-12);
  ASSERT_TRUE(validate(lin).ok());
  // Ramp-up schedules are not rescaled: mean gap follows 1 / rate_i.
  arrival_config constant{0, std::numeric_limits<double>::infinity(), "linear", 2.0, 2.0, 0};
  EXPECT_NEAR(arrival_schedule(constant, 10).back(), 5.0, 1e-12);
}

TEST(validate, rejects_bad_configs) {
  EXPECT_FALSE(validate({1.0, 0.0, "", std::nullopt, std::nullopt, 0}).ok());
  EXPECT_FALSE(validate({0.0, 1.0, "", std::nullopt, std::nullopt, 0}).ok());
  EXPECT_FALSE(validate({1.0, 1.0, "cubic", 1.0, 2.0, 0}).ok());
  EXPECT_FALSE(validate({1.0, 1.0, "linear", std::nullopt, 2.0, 0}).ok());
  EXPECT_TRUE(validate({1.0, 1.0, "", std::nullopt, std::nullopt, 0}).ok());
}

}  // namespace
}  // namespace troupe::loadgen
