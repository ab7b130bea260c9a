// --load-format as a user runs it: the flag in both spellings on serve and generate (vLLM's
// names parse, unknown ones do not), and `troupe generate --load-format dummy` end to end on a
// directory holding only a tiny config.json, with --tokenizer: the same tokens on every run, per
// --dtype, W8A8 too; without a tokenizer, or with --load-format pt, a clear error.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "tests/support/output.hpp"
#include "tests/support/testdata.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

result<command_line> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "troupe");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(load_format_flag, parses_on_serve_and_generate) {
  auto serve = parse({"serve", "--load-format", "dummy"});
  ASSERT_TRUE(serve) << serve.message();
  EXPECT_EQ(serve->engine.load_format, "dummy");
  auto underscore = parse({"serve", "--load_format=safetensors"});
  ASSERT_TRUE(underscore) << underscore.message();
  EXPECT_EQ(underscore->engine.load_format, "safetensors");
  EXPECT_EQ(parse({"serve"})->engine.load_format, "auto");
  auto generate =
      parse({"generate", "--load-format", "dummy", "--tokenizer", "/t", "--prompt", "x"});
  ASSERT_TRUE(generate) << generate.message();
  EXPECT_EQ(generate->engine.load_format, "dummy");
  EXPECT_EQ(generate->engine.tokenizer, "/t");
  // vLLM's other loaders parse (validation refuses them, naming what troupe supports).
  EXPECT_TRUE(parse({"serve", "--load-format", "runai_streamer"}));
  auto unknown = parse({"serve", "--load-format", "onnx"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.message().rfind("invalid value for --load-format in 'troupe serve': expected "
                                    "one of auto, pt, safetensors, ",
                                    0),
            0u)
      << unknown.message();
}

class generate_dummy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        fs::temp_directory_path() / ("troupe_generate_dummy_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    runtime::tiny_model_spec spec;
    spec.vocab_size = 640;  // more than the 600-piece tokenizer
    write_config("plain", spec);
    spec.w8a8 = true;
    spec.dtype = runtime::safetensors_dtype::bf16;
    write_config("w8a8", spec);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static void write_config(const char* name, const runtime::tiny_model_spec& spec) {
    fs::create_directories(root_ / name);
    std::ofstream(root_ / name / "config.json") << runtime::tiny_model_config_json(spec);
  }

  // `troupe generate --json` with `args`: the exit code and stdout.
  static std::pair<int, std::string> run(std::vector<const char*> args) {
    args.insert(args.begin(), "generate");
    auto cl = parse(args);
    EXPECT_TRUE(cl) << cl.message();
    if (!cl) return {-1, ""};
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    const int rc = run_generate(*cl);
    std::string out = ::testing::internal::GetCapturedStdout();
    out += ::testing::internal::GetCapturedStderr();
    return {rc, out};
  }

  // The generated ids of the dummy model `model`, "a,b,c,".
  static std::string generate(const char* model, std::vector<const char*> extra) {
    const std::string dir = (root_ / model).string();
    const std::string tokenizer = testing::repo_testdata("tokenizer/sentencepiece/legacy");
    std::vector<const char*> args{"--model",
                                  dir.c_str(),
                                  "--load-format",
                                  "dummy",
                                  "--tokenizer",
                                  tokenizer.c_str(),
                                  "--prompt-ids",
                                  "5,17,300,42",
                                  "--json",
                                  "--ignore-eos",
                                  "--max-tokens",
                                  "6",
                                  "--temperature",
                                  "0",
                                  "--threads",
                                  "1",
                                  "--num-gpu-blocks-override",
                                  "16"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [rc, out] = run(args);
    EXPECT_EQ(rc, 0) << out;
    rapidjson::Document doc;
    doc.Parse(testing::line_starting_with(out, "{\"token_ids\"").c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("token_ids")) {
      ADD_FAILURE() << "not a generate --json result: " << out;
      return "";
    }
    std::string ids;
    for (const auto& id : doc["token_ids"].GetArray()) {
      EXPECT_GE(id.GetInt(), 0);
      EXPECT_LT(id.GetInt(), 640);
      ids += std::to_string(id.GetInt()) + ",";
    }
    return ids;
  }

  static inline fs::path root_;
};

TEST_F(generate_dummy, the_same_tokens_on_every_load) {
  const std::string first = generate("plain", {});
  EXPECT_EQ(std::count(first.begin(), first.end(), ','), 6) << first;
  EXPECT_EQ(generate("plain", {}), first);
  const std::string bf16 = generate("plain", {"--dtype", "bfloat16"});
  EXPECT_EQ(std::count(bf16.begin(), bf16.end(), ','), 6) << bf16;
  EXPECT_EQ(generate("plain", {"--dtype", "bfloat16"}), bf16);
}

TEST_F(generate_dummy, w8a8_configs_run) {
  const std::string ids = generate("w8a8", {});
  EXPECT_EQ(std::count(ids.begin(), ids.end(), ','), 6) << ids;
  EXPECT_EQ(generate("w8a8", {}), ids);
}

TEST_F(generate_dummy, errors_are_clear) {
  const std::string dir = (root_ / "plain").string();
  auto [rc, out] = run({"--model", dir.c_str(), "--load-format", "dummy", "--prompt-ids", "1,2",
                        "--num-gpu-blocks-override", "16"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("troupe generate: " + dir +
                     ": no tokenizer.json or tokenizer.model; pass a tokenizer with --tokenizer "
                     "PATH"),
            std::string::npos)
      << out;
  std::tie(rc, out) = run({"--model", dir.c_str(), "--load-format", "pt", "--prompt-ids", "1,2"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("troupe generate: --load-format pt is not supported: troupe supports auto "
                     "(the model's own format), safetensors, gguf and dummy"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace troupe::cli
