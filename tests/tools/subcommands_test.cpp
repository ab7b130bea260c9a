// The subcommands as a user runs them (parsed command line in, exit code and stdout out), on the
// default model. Skips without it.
#include "tools/cli/subcommands.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

#include "runtime/serving/model_files.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::cli {
namespace {

command_line parse(std::vector<const char*> args) {
  args.insert(args.begin(), "troupe");
  auto cl = parse_command_line(static_cast<int>(args.size()), args.data());
  EXPECT_TRUE(cl) << cl.message();
  return *cl;
}

// Runs `fn` with `input` as stdin; returns {exit code, stdout}.
template <class F>
std::pair<int, std::string> run_with_stdin(const std::string& input, F fn) {
  std::istringstream in(input);
  std::streambuf* saved = std::cin.rdbuf(in.rdbuf());
  ::testing::internal::CaptureStdout();
  int rc = fn();
  std::string out = ::testing::internal::GetCapturedStdout();
  std::cin.rdbuf(saved);
  return {rc, out};
}

class subcommands : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::default_model_gguf().empty()) GTEST_SKIP() << "default model not fetched";
  }
};

TEST_F(subcommands, tokenize_encodes_and_decodes_jsonl) {
  auto cl = parse({"tokenize"});
  auto [rc, out] = run_with_stdin("{\"text\": \"The capital of France is\"}\n\n{\"text\": \"\"}\n",
                                  [&] { return run_tokenize(cl); });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "{\"ids\":[504,3575,282,4649,314]}\n{\"ids\":[]}\n");

  auto decode = parse({"tokenize", "--decode", "--skip-special-tokens"});
  auto [rc2, out2] =
      run_with_stdin("{\"ids\": [504, 3575, 2]}\n", [&] { return run_tokenize(decode); });
  EXPECT_EQ(rc2, 0);
  EXPECT_EQ(out2, "{\"text\":\"The capital\"}\n");
}

TEST_F(subcommands, tokenize_reports_malformed_lines_and_goes_on) {
  auto cl = parse({"tokenize"});
  auto [rc, out] = run_with_stdin("not json\n{\"ids\": [1]}\n{\"text\": \"Hi\"}\n",
                                  [&] { return run_tokenize(cl); });
  EXPECT_EQ(rc, 1);
  auto tok = runtime::load_tokenizer(testing::default_model_gguf());
  ASSERT_TRUE(tok);
  const auto hi = (*tok)->encode("Hi", true);
  ASSERT_EQ(hi.size(), 1u);
  EXPECT_EQ(out, "{\"ids\":[" + std::to_string(hi[0]) + "]}\n");  // the good line answered
}

TEST_F(subcommands, generate_json_is_greedy_and_matches_llama_cpp) {
  // "The capital of France is" -> " Paris.\n\nThe" (tests/data/reference/smollm2_f32_greedy.json)
  auto cl = parse({"generate", "--prompt-ids", "504,3575,282,4649,314", "--max-tokens", "5",
                   "--json", "--threads", "2"});
  auto [rc, out] = run_with_stdin("", [&] { return run_generate(cl); });
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("\"token_ids\":[7042,30,198,198,504]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"text\":\" Paris.\\n\\nThe\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"finish_reason\":\"length\""), std::string::npos) << out;
}

TEST_F(subcommands, serve_and_generate_refuse_what_they_cannot_honour) {
  EXPECT_EQ(run_serve(parse({"serve", "--pipeline-parallel-size", "2", "--async-scheduling"})), 1);
  // Certificates are read before the model loads.
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_serve(parse({"serve", "--ssl-keyfile", "key.pem"})), 1);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "troupe serve: --ssl-keyfile needs --ssl-certfile (the certificate the key belongs "
            "to)\n");
  EXPECT_EQ(run_generate(parse({"generate", "--prompt", "x", "--model", "/nonexistent.gguf"})), 1);
}

}  // namespace
}  // namespace troupe::cli
