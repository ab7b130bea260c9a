// The model-loading options of issue 3 as a user runs them: --dtype bfloat16/float16 on a float32
// checkpoint generates what the checkpoint cast to that dtype generates (the weights are equal:
// tests/runtime/formats/weight_dtype_test.cpp); --generation-config auto|vllm|DIR; tokenizer.model
// directories through `tokenize`.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "tests/support/output.hpp"
#include "tests/support/testdata.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;

command_line parse(std::vector<const char*> args) {
  args.insert(args.begin(), "troupe");
  auto cl = parse_command_line(static_cast<int>(args.size()), args.data());
  EXPECT_TRUE(cl) << cl.message();
  return *cl;
}

std::pair<int, std::string> run_with_stdin(const std::string& input, int (*fn)(const command_line&),
                                           const command_line& cl) {
  std::istringstream in(input);
  std::streambuf* saved = std::cin.rdbuf(in.rdbuf());
  ::testing::internal::CaptureStdout();
  const int rc = fn(cl);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::cin.rdbuf(saved);
  return {rc, out};
}

class model_options : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("troupe_model_options_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    runtime::tiny_model_spec spec;
    spec.seed = 11;
    spec.vocab_size = 640;  // holds the 600-piece SentencePiece test tokenizer
    ASSERT_TRUE(runtime::write_tiny_model(spec, (root_ / "f32").string()).ok());
    spec.dtype = runtime::safetensors_dtype::bf16;
    ASSERT_TRUE(runtime::write_tiny_model(spec, (root_ / "bf16").string()).ok());
    spec.dtype = runtime::safetensors_dtype::f16;
    ASSERT_TRUE(runtime::write_tiny_model(spec, (root_ / "f16").string()).ok());
    const std::string tok = testing::repo_testdata("tokenizer/sentencepiece/legacy");
    for (const char* dir : {"f32", "bf16", "f16"}) {
      for (const char* file : {"tokenizer.model", "tokenizer_config.json"})
        fs::copy_file(fs::path(tok) / file, root_ / dir / file);
    }
    std::ofstream(root_ / "f32" / "generation_config.json") << R"({"max_new_tokens": 3})";
    // F32 weights under a config.json that says bfloat16: auto casts them, as vLLM does.
    fs::create_directories(root_ / "f32_says_bf16");
    for (const auto& entry : fs::directory_iterator(root_ / "f32")) {
      if (entry.path().filename() != "config.json" &&
          entry.path().filename() != "generation_config.json") {
        fs::copy_file(entry.path(), root_ / "f32_says_bf16" / entry.path().filename());
      }
    }
    std::ifstream f32_config(root_ / "f32" / "config.json");
    std::string config((std::istreambuf_iterator<char>(f32_config)),
                       std::istreambuf_iterator<char>());
    const size_t at = config.find("\"float32\"");
    ASSERT_NE(at, std::string::npos) << config;
    config.replace(at, 9, "\"bfloat16\"");
    std::ofstream(root_ / "f32_says_bf16" / "config.json") << config;
    fs::create_directories(root_ / "other");
    std::ofstream(root_ / "other" / "generation_config.json") << R"({"max_new_tokens": 5})";
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // `troupe generate --json` on `model`: its token_ids, "a,b,c,".
  static std::string generate(const std::string& model, std::vector<const char*> extra) {
    const std::string path = (root_ / model).string();
    std::vector<const char*> args{
        "generate",    "--model", path.c_str(),   "--prompt-ids",
        "5,17,300,42", "--json",  "--ignore-eos", "--num-gpu-blocks-override",
        "16"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [rc, out] = run_with_stdin("", run_generate, parse(args));
    EXPECT_EQ(rc, 0) << out;
    const std::string json = testing::line_starting_with(out, "{\"token_ids\"");
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("token_ids")) {
      ADD_FAILURE() << "not a generate --json result: " << out;
      return "";
    }
    std::string ids;
    for (const auto& id : doc["token_ids"].GetArray())
      ids += std::to_string(id.GetInt()) + ",";
    return ids;
  }

  static inline fs::path root_;
};

TEST_F(model_options, dtype_rounding_equals_the_cast_checkpoint) {
  const auto f32 = generate("f32", {"--max-tokens", "6"});
  const auto bf16 = generate("bf16", {"--max-tokens", "6"});
  const auto rounded_bf16 = generate("f32", {"--max-tokens", "6", "--dtype", "bfloat16"});
  const auto rounded_f16 = generate("f32", {"--max-tokens", "6", "--dtype", "half"});
  const auto f16 = generate("f16", {"--max-tokens", "6"});
  ASSERT_FALSE(bf16.empty());
  EXPECT_EQ(rounded_bf16, bf16);
  EXPECT_EQ(rounded_f16, f16);
  EXPECT_EQ(f32.size(), bf16.size());
  EXPECT_EQ(generate("f32_says_bf16", {"--max-tokens", "6"}), bf16);
  EXPECT_EQ(generate("f32_says_bf16", {"--max-tokens", "6", "--dtype", "float32"}), f32);
}

TEST_F(model_options, generation_config_auto_vllm_and_dir) {
  auto count = [](const std::string& ids) { return std::count(ids.begin(), ids.end(), ','); };
  EXPECT_EQ(count(generate("f32", {})), 3);  // auto: max_new_tokens 3
  EXPECT_EQ(count(generate("f32", {"--generation-config", "vllm"})), 16);
  const std::string other = (root_ / "other").string();
  EXPECT_EQ(count(generate("f32", {"--generation-config", other.c_str()})), 5);
  EXPECT_EQ(count(generate("f32", {"--max-tokens", "2"})), 2);  // the flag wins
}

TEST_F(model_options, tokenize_reads_a_tokenizer_model_directory) {
  const std::string dir = testing::repo_testdata("tokenizer/sentencepiece/legacy");
  auto [rc, out] = run_with_stdin("{\"text\": \"Hello world\"}\n", run_tokenize,
                                  parse({"tokenize", "--tokenizer", dir.c_str()}));
  EXPECT_EQ(rc, 0);
  // transformers' LlamaTokenizer (legacy): <s> ▁ H e l l o ▁w o r l d
  EXPECT_EQ(out, "{\"ids\":[1,280,333,282,290,290,286,280,307,286,285,290,292]}\n");
}

// make-model copies a tokenizer.model directory and writes --generation-config; generate uses both.
TEST_F(model_options, make_model_with_tokenizer_model_and_generation_config) {
  const std::string out = (root_ / "made").string();
  const std::string tok = testing::repo_testdata("tokenizer/sentencepiece/nonlegacy");
  const char* argv[] = {"troupe",
                        "make-model",
                        "--family",
                        "llama",
                        "--out",
                        out.c_str(),
                        "--vocab",
                        "640",
                        "--tokenizer-from",
                        tok.c_str(),
                        "--generation-config",
                        R"({"max_new_tokens": 2})"};
  ASSERT_EQ(run_make_model(static_cast<int>(std::size(argv)), argv), 0);
  for (const char* file : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json"})
    EXPECT_TRUE(fs::exists(fs::path(out) / file)) << file;
  const std::string ids = generate("made", {});
  EXPECT_EQ(std::count(ids.begin(), ids.end(), ','), 2);
  const char* bad[] = {"troupe",    "make-model",          "--out",
                       out.c_str(), "--generation-config", R"({"top_k": "x"})"};
  EXPECT_EQ(run_make_model(static_cast<int>(std::size(bad)), bad), 2);
}

}  // namespace
}  // namespace troupe::cli
