// `troupe generate --logprobs K --json` on the default model: one object per generated token with
// the sampled token and the K most likely, natural logs. Skips without the model.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/support/testdata.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

std::string run_json(std::vector<const char*> args) {
  args.insert(args.begin(), "troupe");
  auto cl = parse_command_line(static_cast<int>(args.size()), args.data());
  EXPECT_TRUE(cl) << cl.message();
  if (!cl) return {};
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_generate(*cl), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  // spdlog's default logger shares stdout in tests: keep the JSON line.
  const size_t begin = out.find("{\"token_ids\"");
  if (begin == std::string::npos) return out;
  return out.substr(begin, out.find('\n', begin) - begin);
}

TEST(generate_logprobs, greedy_tokens_are_the_most_likely_of_their_top_k) {
  if (testing::default_model_gguf().empty()) GTEST_SKIP() << "default model not fetched";
  const std::string out =
      run_json({"generate", "--prompt-ids", "504,3575,282,4649,314", "--max-tokens", "4", "--json",
                "--logprobs", "3", "--threads", "2"});
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << out;
  ASSERT_TRUE(doc.HasMember("logprobs")) << out;
  const auto& ids = doc["token_ids"];
  const auto& logprobs = doc["logprobs"];
  ASSERT_EQ(logprobs.Size(), ids.Size());
  ASSERT_EQ(ids.Size(), 4u);
  double total_first = 0;
  for (rapidjson::SizeType i = 0; i < logprobs.Size(); ++i) {
    const auto& entry = logprobs[i];
    ASSERT_EQ(entry.MemberCount(), 3u) << "greedy: the sampled token is one of the top 3";
    const std::string sampled = std::to_string(ids[i].GetInt());
    EXPECT_EQ(std::string(entry.MemberBegin()->name.GetString()), sampled);
    double previous = 0;
    for (const auto& m : entry.GetObject()) {
      EXPECT_LE(m.value.GetDouble(), previous + 1e-9) << "most likely first";
      previous = m.value.GetDouble();
    }
    total_first += std::exp(entry.MemberBegin()->value.GetDouble());
  }
  EXPECT_GT(total_first, 0.0);
  // Without --logprobs the output has no "logprobs".
  const std::string plain = run_json(
      {"generate", "--prompt-ids", "504,3575", "--max-tokens", "1", "--json", "--threads", "2"});
  EXPECT_EQ(plain.find("logprobs"), std::string::npos) << plain;
}

}  // namespace
}  // namespace troupe::cli
