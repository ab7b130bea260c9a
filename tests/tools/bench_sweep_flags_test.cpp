// `troupe bench sweep`: the positional, --request-rates / --slo parsing and their cross-flag rules.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "tools/cli/flags.hpp"

namespace troupe::cli {
namespace {

result<command_line> parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"troupe", "bench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string parse_error(std::initializer_list<const char*> args) {
  auto parsed = parse(args);
  EXPECT_FALSE(parsed.ok()) << "parsed although it should not";
  return parsed.ok() ? "" : parsed.message();
}

TEST(bench_sweep_flags, rates_and_slo) {
  auto c = parse({"sweep", "--request-rates", "1:4:x2,10,inf", "--num-prompts", "5", "--slo",
                  "ttft:500,tpot:50", "--slo-percentile", "90", "--slo-max-probes", "6"});
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_TRUE(c->bench.sweep);
  ASSERT_EQ(c->bench.request_rates.size(), 5u);
  EXPECT_EQ(c->bench.request_rates[2], 4.0);
  EXPECT_TRUE(std::isinf(c->bench.request_rates[4]));
  ASSERT_EQ(c->bench.slo.size(), 2u);
  EXPECT_EQ(c->bench.slo[0], (std::pair<std::string, double>{"ttft", 500}));
  EXPECT_EQ(c->bench.slo_percentile, 90);
  EXPECT_EQ(c->bench.slo_max_probes, 6);
  EXPECT_EQ(c->bench.num_prompts, 5);
  EXPECT_DOUBLE_EQ(c->bench.slo_tolerance, 0.05);
}

TEST(bench_sweep_flags, plain_bench_is_not_a_sweep) {
  auto c = parse({"--request-rate", "4"});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->bench.sweep);
  EXPECT_NE(parse_error({"--request-rates", "1,2"}).find("needs 'troupe bench sweep'"),
            std::string::npos);
  EXPECT_NE(parse_error({"--slo", "ttft:5"}).find("needs 'troupe bench sweep'"), std::string::npos);
}

TEST(bench_sweep_flags, rules) {
  EXPECT_NE(parse_error({"sweep"}).find("needs --request-rates"), std::string::npos);
  EXPECT_NE(parse_error({"sweep", "--request-rates", "1,2", "--request-rate", "3"})
                .find("does not take --request-rate"),
            std::string::npos);
  EXPECT_NE(parse_error({"sweep", "--request-rates", "1", "--result-filename", "x.json"})
                .find("does not take --result-filename"),
            std::string::npos);
  EXPECT_NE(parse_error({"sweep", "--request-rates", "inf,1", "--slo", "ttft:1"}).find("not inf"),
            std::string::npos);
  EXPECT_NE(parse_error({"sweep", "--request-rates", "1:8"}).find("--request-rates"),
            std::string::npos);
  EXPECT_NE(parse_error({"sweep", "--request-rates", "1", "--slo", "ttfx:1"}).find("--slo"),
            std::string::npos);
  EXPECT_NE(parse_error({"sweep", "sweep", "--request-rates", "1"}).find("unexpected argument"),
            std::string::npos);
  EXPECT_NE(parse_error({"sweeep", "--request-rates", "1"}).find("unexpected argument 'sweeep'"),
            std::string::npos);
  EXPECT_NE(parse_error({"--num-prompts", "3", "sweep"}).find("unexpected argument"),
            std::string::npos);
}

TEST(bench_sweep_flags, help_lists_the_sweep_flags) {
  const std::string help = help_text("bench");
  EXPECT_NE(help.find("troupe bench [sweep] [flags]"), std::string::npos);
  for (const char* flag : {"--request-rates LIST", "--slo METRIC:MS", "--slo-percentile P",
                           "--slo-tolerance R", "--slo-max-probes N"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace troupe::cli
