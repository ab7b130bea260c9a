// vLLM's --fingerprint-mode as `troupe serve` reads it: the responses' system_fingerprint.
#include "tools/cli/fingerprint.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace troupe::cli {
namespace {

command_line parse(std::vector<const char*> args) {
  args.insert(args.begin(), {"troupe", "serve"});
  auto cl = parse_command_line(static_cast<int>(args.size()), args.data());
  EXPECT_TRUE(cl) << cl.message();
  return cl ? std::move(*cl) : command_line{};
}

std::optional<std::string> fingerprint_of(std::vector<const char*> args) {
  const command_line cl = parse(std::move(args));
  return system_fingerprint(cl.serve, cl.engine, 4096, "1.2.3");
}

TEST(fingerprint, full_names_the_version_parallel_sizes_and_a_config_hash) {
  const auto plain = fingerprint_of({"--model", "/m"});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->rfind("troupe-1.2.3-", 0), 0u) << *plain;
  EXPECT_EQ(plain->size(), std::string("troupe-1.2.3-").size() + 8);
  EXPECT_EQ(fingerprint_of({"--model", "/m"}), plain);  // the same flags, the same fingerprint
  EXPECT_NE(fingerprint_of({"--model", "/m", "--dtype", "bfloat16"}), plain);
  EXPECT_NE(fingerprint_of({"--model", "/other"}), plain);
  EXPECT_EQ(fingerprint_of({"--model", "/m", "--port", "9000"}), plain);  // not an answer's

  const auto tp = fingerprint_of({"--model", "/m", "-tp", "2"});
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->rfind("troupe-1.2.3-tp2-", 0), 0u) << *tp;
  const auto hashed = fingerprint_of({"--model", "/m", "-tp", "2", "--fingerprint-mode", "hash"});
  ASSERT_TRUE(hashed);
  EXPECT_EQ(*hashed, "troupe-1.2.3-" + tp->substr(tp->size() - 8));
}

TEST(fingerprint, custom_and_none) {
  EXPECT_EQ(fingerprint_of({"--fingerprint-mode", "custom", "--fingerprint-value", "fleet-7"}),
            "fleet-7");
  EXPECT_EQ(fingerprint_of({"--fingerprint-mode", "custom"}), std::nullopt);  // vLLM's null
  EXPECT_EQ(fingerprint_of({"--fingerprint_mode", "none"}), std::nullopt);
  std::vector<const char*> args = {"troupe", "serve", "--fingerprint-mode", "sha"};
  EXPECT_FALSE(parse_command_line(static_cast<int>(args.size()), args.data()));
}

}  // namespace
}  // namespace troupe::cli
