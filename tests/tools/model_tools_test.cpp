// `troupe make-model` and `troupe chat-template` driven end to end as a user runs them: flags in,
// files or JSONL out, and the output used by the next command (make-model's directory served to
// generate and tokenize).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tests/support/output.hpp"
#include "tests/support/testdata.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

// Runs `fn` with `input` as stdin; returns {exit code, stdout}.
template <class F>
std::pair<int, std::string> run_with_stdin(const std::string& input, F fn) {
  std::istringstream in(input);
  std::streambuf* saved = std::cin.rdbuf(in.rdbuf());
  ::testing::internal::CaptureStdout();
  int rc = fn();
  std::fflush(stdout);  // the commands print with printf and leave flushing to exit
  std::string out = ::testing::internal::GetCapturedStdout();
  std::cin.rdbuf(saved);
  return {rc, out};
}

int make_model(std::vector<std::string> args) {
  args.insert(args.begin(), {"troupe", "make-model"});
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  return run_make_model(static_cast<int>(argv.size()), argv.data());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

class model_tools : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("troupe_model_tools_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string tokenizer_source() const {
    return testing::repo_testdata("tokenizer/hf_synthetic/byte_level_prefix_regex");
  }

  fs::path dir_;
};

TEST_F(model_tools, make_model_is_deterministic_in_its_seed) {
  const std::string a = (dir_ / "a").string(), b = (dir_ / "b").string();
  const std::string c = (dir_ / "c").string();
  ASSERT_EQ(make_model({"--family", "qwen2", "--out", a, "--seed", "7"}), 0);
  ASSERT_EQ(make_model({"--family", "qwen2", "--out", b, "--seed", "7"}), 0);
  ASSERT_EQ(make_model({"--family", "qwen2", "--out", c, "--seed", "8"}), 0);
  const std::string weights_a = read_file(fs::path(a) / "model.safetensors");
  ASSERT_FALSE(weights_a.empty());
  EXPECT_EQ(weights_a, read_file(fs::path(b) / "model.safetensors"));
  EXPECT_NE(weights_a, read_file(fs::path(c) / "model.safetensors"));

  rapidjson::Document config;
  config.Parse(read_file(fs::path(a) / "config.json").c_str());
  ASSERT_TRUE(config.IsObject());
  EXPECT_STREQ(config["architectures"][0].GetString(), "Qwen2ForCausalLM");
}

TEST_F(model_tools, make_model_rejects_bad_flags) {
  EXPECT_NE(make_model({"--family", "gpt2", "--out", (dir_ / "x").string()}), 0);
  EXPECT_NE(make_model({"--family", "llama"}), 0);  // no --out
  EXPECT_NE(make_model({"--family", "llama", "--out", (dir_ / "y").string(), "--hidden", "-3"}), 0);
}

TEST_F(model_tools, made_model_serves_generate_and_tokenize) {
  const std::string model = (dir_ / "tiny").string();
  ASSERT_EQ(make_model({"--family", "llama", "--out", model, "--vocab", "512", "--tokenizer-from",
                        tokenizer_source()}),
            0);
  ASSERT_TRUE(fs::exists(fs::path(model) / "tokenizer.json"));

  const char* generate[] = {"troupe", "generate", "--model",      model.c_str(), "--prompt-ids",
                            "1,2,3",  "--json",   "--max-tokens", "6",           "--threads",
                            "2"};
  auto cl = parse_command_line(std::size(generate), generate);
  ASSERT_TRUE(cl) << cl.message();
  auto [rc, out] = run_with_stdin("", [&] { return run_generate(*cl); });
  ASSERT_EQ(rc, 0) << out;
  const std::string json = testing::line_starting_with(out, "{\"token_ids\"");
  rapidjson::Document result;
  result.Parse(json.c_str());
  ASSERT_TRUE(result.IsObject()) << out;
  ASSERT_TRUE(result["token_ids"].IsArray());
  ASSERT_EQ(result["token_ids"].Size(), 6u);
  for (const auto& id : result["token_ids"].GetArray())
    EXPECT_LT(id.GetInt(), 512);
  // Greedy: a second run gives the same tokens.
  auto [rc2, out2] = run_with_stdin("", [&] { return run_generate(*cl); });
  EXPECT_EQ(rc2, 0);
  EXPECT_EQ(testing::line_starting_with(out2, "{\"token_ids\""), json);

  const char* tokenize[] = {"troupe", "tokenize", "--tokenizer", model.c_str()};
  auto tcl = parse_command_line(std::size(tokenize), tokenize);
  ASSERT_TRUE(tcl) << tcl.message();
  auto [trc, ids] =
      run_with_stdin("{\"text\": \"hello world\"}\n", [&] { return run_tokenize(*tcl); });
  EXPECT_EQ(trc, 0);
  EXPECT_FALSE(testing::line_starting_with(ids, "{\"ids\":[").empty()) << ids;
}

// Every golden line of a chat-template file through the CLI: the request fields in, the
// jinja2-rendered text (or the template's error) out.
void expect_cli_renders_goldens(const std::string& tokenizer, const std::string& golden_file) {
  const std::string golden = read_file(golden_file);
  ASSERT_FALSE(golden.empty()) << golden_file;
  const char* argv[] = {"troupe", "chat-template", "--tokenizer", tokenizer.c_str()};
  auto [rc, out] = run_with_stdin(golden, [&] { return run_chat_template(4, argv); });
  ASSERT_EQ(rc, 0);
  auto inputs = lines_of(golden);
  auto outputs = lines_of(out);
  ASSERT_EQ(outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    rapidjson::Document want, got;
    want.Parse(inputs[i].c_str());
    got.Parse(outputs[i].c_str());
    ASSERT_TRUE(got.IsObject()) << outputs[i];
    if (want.HasMember("rendered")) {
      ASSERT_TRUE(got.HasMember("rendered")) << "line " << i << ": " << outputs[i];
      EXPECT_STREQ(got["rendered"].GetString(), want["rendered"].GetString()) << "line " << i;
    } else {
      EXPECT_TRUE(got.HasMember("error")) << "line " << i << ": " << outputs[i];
    }
  }
}

TEST_F(model_tools, chat_template_cli_reproduces_jinja2_on_the_default_model) {
  if (testing::default_model_gguf().empty()) GTEST_SKIP() << "default model not fetched";
  // smollm2.json is a JSON array of golden requests; the CLI reads them one per line.
  rapidjson::Document cases;
  cases.Parse(read_file(testing::repo_testdata("chat_template/smollm2.json")).c_str());
  ASSERT_TRUE(cases.IsArray());
  std::string jsonl;
  for (const auto& c : cases.GetArray()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    c.Accept(writer);
    jsonl += std::string(buffer.GetString()) + "\n";
  }
  const fs::path file = dir_ / "smollm2.jsonl";
  std::ofstream(file) << jsonl;
  expect_cli_renders_goldens(testing::default_model_gguf(), file.string());
}

TEST_F(model_tools, chat_template_cli_reproduces_jinja2_on_shared_goldens) {
  const std::string tokenizer = testing::shared_testdata("tokenizers/llama3");
  if (tokenizer.empty() || !fs::exists(tokenizer)) {
    GTEST_SKIP() << "../shared/testdata absent: shared chat-template goldens not checked";
  }
  expect_cli_renders_goldens(tokenizer, testing::shared_testdata("chat_templates/llama3.jsonl"));
}

TEST_F(model_tools, chat_template_cli_rejects_a_missing_tokenizer) {
  const char* argv[] = {"troupe", "chat-template", "--tokenizer", "/nonexistent/dir"};
  auto [rc, out] = run_with_stdin("", [&] { return run_chat_template(4, argv); });
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace troupe::cli
