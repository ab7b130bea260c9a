// vLLM's --config FILE.yaml (tools/cli/config_file.hpp): PyYAML's types, vLLM's flattening and
// splicing, and the command line winning over the file.
#include "tools/cli/config_file.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tools/cli/flags.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;
using args = std::vector<std::string>;

bool never(std::string_view) {
  return false;
}

args flatten(std::string_view yaml, const negatable_flag& negatable = never) {
  auto out = config_yaml_args(yaml, negatable);
  EXPECT_TRUE(out.ok()) << out.message();
  return out.ok() ? *out : args{};
}

TEST(config_file, scalars_become_flags_as_python_writes_them) {
  EXPECT_EQ(flatten("port: 12323\ntensor-parallel-size: 4\nmodel: /models/smol\n"),
            (args{"--port", "12323", "--tensor-parallel-size", "4", "--model", "/models/smol"}));
  // YAML 1.1 numbers as PyYAML reads them, then str(): underscores, hex, octal, floats' repr.
  EXPECT_EQ(flatten("a: 12_000\nb: 0x1f\nc: 010\nd: 0.90\ne: 1.0\nf: .5\ng: 1.5e+3\nh: 1e3\n"),
            (args{"--a", "12000", "--b", "31", "--c", "8", "--d", "0.9", "--e", "1.0", "--f", "0.5",
                  "--g", "1500.0", "--h", "1e3"}));
  EXPECT_EQ(flatten("a: 1.0e+20\nb: 0.00001\nc: -.inf\nd: ~\ne: '12'\nf: \"0.90\"\n"),
            (args{"--a", "1e+20", "--b", "1e-05", "--c", "-inf", "--d", "None", "--e", "12", "--f",
                  "0.90"}));
}

TEST(config_file, booleans_lists_and_mappings) {
  auto negatable = [](std::string_view key) { return key == "enable-prefix-caching"; };
  EXPECT_EQ(flatten("enforce-eager: true\nenable-prefix-caching: false\ntrust-remote-code: no\n",
                    negatable),
            (args{"--enforce-eager", "--no-enable-prefix-caching"}));
  EXPECT_EQ(flatten("api-key: [a, b]\nallowed-origins: []\nx: [1, yes, null]\n"),
            (args{"--api-key", "a", "b", "--x", "1", "True", "None"}));
  EXPECT_EQ(flatten("speculative-config:\n  method: ngram\n  num_speculative_tokens: 3\n"
                    "  list: [1, 2.50, \"é\"]\n  flag: on\n"),
            (args{"--speculative-config",
                  R"({"method": "ngram", "num_speculative_tokens": 3, "list": [1, 2.5, "\u00e9"], )"
                  R"("flag": true})"}));
}

TEST(config_file, malformed_files_are_errors) {
  EXPECT_FALSE(config_yaml_args("", never).ok());
  EXPECT_FALSE(config_yaml_args("- a\n- b\n", never).ok());
  EXPECT_FALSE(config_yaml_args("a: [b\n", never).ok());
  EXPECT_FALSE(config_yaml_args("a: [{b: 1}]\n", never).ok());
}

class config_command_line : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("troupe_config_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "serve.yaml") << "port: 9001\nmax-num-seqs: 8\nmodel: /from/config\n"
                                          "enable-prefix-caching: false\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  result<command_line> parse(std::vector<std::string> argv) {
    argv.insert(argv.begin(), "troupe");
    std::vector<const char*> raw;
    for (const auto& a : argv)
      raw.push_back(a.c_str());
    return parse_command_line(static_cast<int>(raw.size()), raw.data());
  }
  std::string file(const char* name) { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(config_command_line, the_command_line_wins_over_the_file) {
  auto c = parse({"serve", "--config", file("serve.yaml"), "--port", "9002"});
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->engine.port, 9002);
  EXPECT_EQ(c->engine.max_num_seqs, 8);
  EXPECT_EQ(c->engine.model, "/from/config");
  EXPECT_FALSE(c->engine.enable_prefix_caching);
  // A positional model stays first and wins over the file's --model.
  c = parse({"serve", "/from/cli", "--config=" + file("serve.yaml")});
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->engine.model, "/from/cli");
  EXPECT_EQ(c->engine.port, 9001);
}

TEST_F(config_command_line, vllms_refusals) {
  std::ofstream(dir_ / "serve.json") << "{}";
  EXPECT_EQ(parse({"serve", "--config", file("serve.json")}).message(),
            "--config: Config file must be of a yaml/yml type. json supplied");
  EXPECT_EQ(
      parse({"serve", "--config", file("serve.yaml"), "--config", file("serve.yaml")}).message(),
      "--config: More than one config file specified!");
  EXPECT_FALSE(parse({"serve", "--config"}).ok());
  EXPECT_FALSE(parse({"serve", "--config", file("missing.yaml")}).ok());
  std::ofstream(dir_ / "unknown.yaml") << "no-such-flag: 1\n";
  EXPECT_NE(parse({"serve", "--config", file("unknown.yaml")}).message().find("unknown flag"),
            std::string::npos);
}

}  // namespace
}  // namespace troupe::cli
